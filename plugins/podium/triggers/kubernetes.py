"""KubernetesRolloutTrigger: wait for a workload's rollout without holding a worker slot.

Watches the workload from a resourceVersion (kubernetes_asyncio), re-evaluates on every change and,
every ``recheck_seconds``, re-reads the pods of the new revision (a crash loop does not change the
Deployment). Dropped streams resume from the last resourceVersion; 410 Gone re-lists; 5xx/429 and
connection errors back off. The verdict comes from podium.rollout.status, the same functions the
sensor's poke and the operators use. The synchronous paths run this same wait in the worker.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from podium.rollout.status import Verdict, rollout_verdict


def _event(status: str, message: str, verdict: Verdict | None, **ref: Any) -> dict[str, Any]:
    return {"status": status, "message": message, "verdict": verdict.as_dict() if verdict else None, **ref}


def _within(workload: dict[str, Any], replicas_between: Sequence[int] | None) -> bool:
    """For scale waits: the wanted replicas, and the pods that exist and are ready, are within bounds.

    `kubectl rollout status` calls a scale-down done while the surplus pods still terminate; a scale
    is done when they are gone.
    """
    if not replicas_between:
        return True
    low, high = replicas_between
    status = workload.get("status") or {}
    counts = (
        int((workload.get("spec") or {}).get("replicas", 1)),
        int(status.get("replicas") or 0),
        int(status.get("readyReplicas") or 0),
    )
    return all(low <= count <= high for count in counts)


async def evaluate(
    hook: Any,
    api_client: Any,
    workload: dict[str, Any],
    grace: float,
    replicas_between: Sequence[int] | None = None,
    *,
    with_pods: bool = True,
) -> Verdict:
    """The rollout verdict for ``workload`` now; ``with_pods`` also reads its newest revision's pods."""
    from podium.rollout.revisions import new_revision_selector

    pods = await hook.related(api_client, workload, new_revision_selector) if with_pods else []
    now = hook.server_now or dt.datetime.now(dt.UTC)
    verdict = rollout_verdict(workload, pods, now, dt.timedelta(seconds=grace))
    if verdict.state == "complete" and not _within(workload, replicas_between):
        low, high = replicas_between or (0, 0)
        return Verdict("progressing", f"Waiting for replicas to be within [{low}, {high}]...")
    return verdict


async def wait_for_rollout(
    hook: Any,
    *,
    kind: str,
    name: str,
    namespace: str,
    timeout_at: float,
    pod_grace_seconds: float = 60.0,
    replicas_between: Sequence[int] | None = None,
    recheck_seconds: float = 5.0,
    log: Any = None,
) -> dict[str, Any]:
    """Wait until the rollout is complete, has failed, or ``timeout_at`` (epoch seconds) passes.

    Every change of the workload gets a verdict from the object alone (cheap, and enough to see it
    complete or hit its deadline); the pods of the new revision are read once per ``recheck_seconds``.
    """
    import aiohttp

    from podium.exceptions import PermanentError, TransientError
    from podium.rollout.errors import KubeApiError, backoff

    ref = {"kind": kind, "name": name, "namespace": namespace}
    what = f"{kind.lower()}/{name} in namespace {namespace}"
    last: Verdict | None = None
    resource_version: str | None = None
    workload: dict[str, Any] | None = None
    failures = 0
    async with hook.shared_conn() as api_client:
        while True:
            remaining = timeout_at - time.time()
            if remaining <= 0:
                detail = last.describe() if last else "no status yet"
                return _event("timeout", f"timed out waiting for {what}: {detail}", last, **ref)
            try:
                if resource_version is None:
                    workload, resource_version = await hook.snapshot(api_client, kind, name, namespace)
                    if workload is None:
                        return _event("error", f"{what} does not exist", None, **ref)
                    last = await evaluate(
                        hook, api_client, workload, pod_grace_seconds, replicas_between, with_pods=False
                    )
                    if last.done:
                        return _event(
                            "success" if last.state == "complete" else "error", last.describe(), last, **ref
                        )
                window = max(1, int(min(remaining, recheck_seconds)))
                async for kind_of_event, obj in hook.watch(
                    api_client, kind, name, namespace, resource_version, window
                ):
                    if kind_of_event == "ERROR":
                        if obj.get("code") == 410:
                            resource_version = None  # history compacted: list again
                            break
                        raise KubeApiError(int(obj.get("code") or 500), str(obj.get("message", "")))
                    if kind_of_event == "DELETED":
                        return _event("error", f"{what} was deleted during the rollout", last, **ref)
                    workload = obj
                    resource_version = str(obj["metadata"]["resourceVersion"])
                    last = await evaluate(
                        hook, api_client, workload, pod_grace_seconds, replicas_between, with_pods=False
                    )
                    if last.done:
                        return _event(
                            "success" if last.state == "complete" else "error", last.describe(), last, **ref
                        )
                else:
                    # the window ended (or the server closed the stream): look at the pods again
                    if workload is not None:
                        last = await evaluate(hook, api_client, workload, pod_grace_seconds, replicas_between)
                        if last.done:
                            return _event(
                                "success" if last.state == "complete" else "error",
                                last.describe(),
                                last,
                                **ref,
                            )
                failures = 0
            except PermanentError as error:
                return _event("error", str(error), last, **ref)
            except (TransientError, KubeApiError, aiohttp.ClientError, TimeoutError, OSError) as error:
                if isinstance(error, KubeApiError) and error.status in (403, 404, 422):
                    return _event("error", f"{what}: {error.message}", last, **ref)
                delay = backoff(min(failures, 6), 0.5, 10.0, getattr(error, "retry_after", None))
                failures += 1
                if log is not None:
                    log.warning("watching %s failed (%s); retrying in %.1fs", what, error, delay)
                resource_version = None
                await asyncio.sleep(min(delay, max(timeout_at - time.time(), 0)))


async def observe_once(
    hook: Any, *, kind: str, name: str, namespace: str, pod_grace_seconds: float = 60.0
) -> Verdict | None:
    """The verdict right now (None when the workload does not exist): the sensor's poke."""
    async with hook.shared_conn() as api_client:
        workload, _ = await hook.snapshot(api_client, kind, name, namespace)
        if workload is None:
            return None
        return await evaluate(hook, api_client, workload, pod_grace_seconds)


def defer_settle_seconds() -> float:
    """``[podium] defer_settle_seconds`` (default 10): the least time a deferred wait takes.

    Airflow 3.3 fails a deferred task that resumes to RUNNING before the scheduler has drained the
    executor's success event from the worker that deferred it (apache/airflow#72716, open): the stale
    event looks like the resumed attempt's process ending. A rollout that completes within seconds
    of the deferral hits that window on a busy scheduler. Holding the trigger's event until this
    long after the deferral keeps the resume out of it; a wait that takes longer is not delayed.
    """
    from airflow.configuration import conf

    return max(0.0, conf.getfloat("podium", "defer_settle_seconds", fallback=10.0))


class KubernetesRolloutTrigger(BaseTrigger):
    """Fires once: success when the rollout completes; error when it fails (naming stuck pods);
    timeout at ``timeout_at`` (epoch seconds). Not before ``not_before`` (epoch seconds), if given:
    see :func:`defer_settle_seconds`."""

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
            event = _event("error", f"{type(error).__name__}: {error}", None, **ref)
        if self.not_before is not None and (hold := self.not_before - time.time()) > 0:
            self.log.info(
                "%s/%s: %s; resuming the task in %.1f s", self.kind, self.name, event["status"], hold
            )
            await asyncio.sleep(hold)
        yield TriggerEvent({**event, "carry": self.carry})


def run_inline(trigger: KubernetesRolloutTrigger) -> dict[str, Any]:
    """Run the trigger to its event in this process (the synchronous path of operators and sensors)."""

    async def first_event() -> dict[str, Any]:
        async for event in trigger.run():
            return dict(event.payload)
        raise RuntimeError("the trigger ended without an event")

    return asyncio.run(first_event())
