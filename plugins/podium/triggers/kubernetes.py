"""KubernetesRolloutTrigger: wait for a workload's rollout without holding a worker slot.

The wait itself is :func:`podium.kubernetes.waits.wait_for_rollout` (one watch loop, one error model,
verdicts and failure explanations from :mod:`podium.kube`). Operators and the sensor run this same
trigger inline (:func:`run_inline`) when they do not defer.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent


class KubernetesRolloutTrigger(BaseTrigger):
    """Fires once: success when the rollout completes; error when it fails (naming stuck pods);
    timeout at ``timeout_at`` (epoch seconds). Not before ``not_before`` (epoch seconds), if given:
    see :func:`podium.settings.defer_settle_seconds`."""

    def __init__(
        self,
        *,
        kind: str,
        name: str,
        namespace: str,
        kubernetes_conn_id: str = "kubernetes_default",
        timeout_at: float,
        pod_grace_seconds: float = 60.0,
        replicas_between: list[int] | None = None,
        recheck_seconds: float = 5.0,
        carry: dict[str, Any] | None = None,
        not_before: float | None = None,
    ) -> None:
        super().__init__()
        self.kind = kind
        self.name = name
        self.namespace = namespace
        self.kubernetes_conn_id = kubernetes_conn_id
        self.timeout_at = timeout_at
        self.pod_grace_seconds = pod_grace_seconds
        self.replicas_between = list(replicas_between) if replicas_between else None
        self.recheck_seconds = recheck_seconds
        self.carry = carry  # the caller's state, echoed in the event (plain JSON values only)
        self.not_before = not_before

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "kind": self.kind,
                "name": self.name,
                "namespace": self.namespace,
                "kubernetes_conn_id": self.kubernetes_conn_id,
                "timeout_at": self.timeout_at,
                "pod_grace_seconds": self.pod_grace_seconds,
                "replicas_between": self.replicas_between,
                "recheck_seconds": self.recheck_seconds,
                "carry": self.carry,
                "not_before": self.not_before,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        ref = {"kind": self.kind, "name": self.name, "namespace": self.namespace}
        try:
            # The Kubernetes clients take seconds to import: never on the triggerer's shared event loop.
            hooks = await asyncio.to_thread(importlib.import_module, "podium.hooks.kubernetes")
            from podium.kubernetes.waits import wait_for_rollout

            hook = hooks.PodiumAsyncKubernetesHook(conn_id=self.kubernetes_conn_id)
            event = await wait_for_rollout(
                hook,
                kind=self.kind,
                name=self.name,
                namespace=self.namespace,
                timeout_at=self.timeout_at,
                pod_grace_seconds=self.pod_grace_seconds,
                replicas_between=self.replicas_between,
                recheck_seconds=self.recheck_seconds,
                log=self.log,
            )
        except Exception as error:  # a trigger turns every failure into an event
            from podium.kubernetes.waits import rollout_event

            event = rollout_event("error", f"{type(error).__name__}: {error}", None, **ref)
        if self.not_before is not None and (hold := self.not_before - time.time()) > 0:
            self.log.info(
                "%s/%s: %s; resuming the task in %.1f s", self.kind, self.name, event["status"], hold
            )
            await asyncio.sleep(hold)
        yield TriggerEvent({**event, "carry": self.carry})


def run_inline(trigger: BaseTrigger) -> dict[str, Any]:
    """Run a trigger (this module's or another podium trigger) to its first event in this process:
    the synchronous path of operators and sensors."""

    async def first_event() -> dict[str, Any]:
        async for event in trigger.run():
            return dict(event.payload)
        raise RuntimeError("the trigger ended without an event")

    return asyncio.run(first_event())
