"""KubernetesJobTrigger: wait for a Job to complete without holding a worker slot.

Reads the Job by name every ``poll_interval`` (RBAC: ``get`` on jobs; no list or watch needed) until
its ``Complete`` or ``Failed`` condition, or ``timeout_at``. A failure or a timeout lists the Job's
pods and says, per pod, its phase, containers, reasons and exit codes (:mod:`podium.release.checks`).
Operators run this same trigger inline (:func:`podium.triggers.kubernetes.run_inline`) when they do
not defer.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent


class KubernetesJobTrigger(BaseTrigger):
    """Fires once: success when the Job completes; error when it fails (naming its pods and why) or
    cannot be read; timeout at ``timeout_at`` (epoch seconds). Not before ``not_before`` (epoch
    seconds), if given: see :func:`podium.settings.defer_settle_seconds`.

    Event: ``{"status", "message", "job", "namespace", "reason", "transient"}``; ``reason`` is the
    Failed condition's reason; ``transient`` is true when the Kubernetes API kept failing (the Job's
    fate is unknown: the caller may retry and find the same Job).
    """

    def __init__(
        self,
        *,
        name: str,
        namespace: str,
        kubernetes_conn_id: str = "kubernetes_default",
        timeout_at: float,
        poll_interval: float = 2.0,
        not_before: float | None = None,
    ) -> None:
        super().__init__()
        self.name = name
        self.namespace = namespace
        self.kubernetes_conn_id = kubernetes_conn_id
        self.timeout_at = timeout_at
        self.poll_interval = poll_interval
        self.not_before = not_before

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "name": self.name,
                "namespace": self.namespace,
                "kubernetes_conn_id": self.kubernetes_conn_id,
                "timeout_at": self.timeout_at,
                "poll_interval": self.poll_interval,
                "not_before": self.not_before,
            },
        )

    def _event(self, status: str, message: str, reason: str = "", transient: bool = False) -> dict[str, Any]:
        return {
            "status": status,
            "message": message,
            "job": self.name,
            "namespace": self.namespace,
            "reason": reason,
            "transient": transient,
        }

    async def _wait(self, hook: Any) -> dict[str, Any]:
        from podium.release.checks import job_failure_message, job_status

        self.log.info("waiting for job/%s in %s", self.name, self.namespace)
        async with hook.shared_conn() as api_client:
            while True:
                job = await hook.call(api_client, "Job", "get", self.namespace, name=self.name)
                status = job_status(job)
                if status.state == "complete":
                    return self._event("success", f"job/{self.name} in {self.namespace} completed")
                timed_out = time.time() >= self.timeout_at
                if status.state == "failed" or timed_out:
                    pods = await hook.call(
                        api_client, "Pod", "list", self.namespace, label_selector=f"job-name={self.name}"
                    )
                    message = job_failure_message(
                        self.name,
                        self.namespace,
                        status,
                        pods.get("items") or [],
                        deadline=None if status.state == "failed" else self.timeout_at,
                    )
                    return self._event(
                        "error" if status.state == "failed" else "timeout", message, status.reason
                    )
                await asyncio.sleep(max(0.0, min(self.poll_interval, self.timeout_at - time.time())))

    async def run(self) -> AsyncIterator[TriggerEvent]:
        try:
            # The Kubernetes clients take seconds to import: never on the triggerer's shared event loop.
            hooks = await asyncio.to_thread(importlib.import_module, "podium.hooks.kubernetes")
            from podium.exceptions import PodiumError, TransientError

            hook = hooks.PodiumAsyncKubernetesHook(conn_id=self.kubernetes_conn_id)
            try:
                event = await self._wait(hook)
            except PodiumError as error:  # an API call that its own retries could not save
                transient = isinstance(error, TransientError)
                event = self._event("error", f"job/{self.name}: {error}", transient=transient)
        except Exception as error:  # a trigger turns every failure into an event
            event = self._event("error", f"job/{self.name}: {type(error).__name__}: {error}")
        if self.not_before is not None and (hold := self.not_before - time.time()) > 0:
            self.log.info("job/%s: %s; resuming the task in %.1f s", self.name, event["status"], hold)
            await asyncio.sleep(hold)
        yield TriggerEvent(event)
