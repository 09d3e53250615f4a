"""The one rollout wait: watch a workload until its rollout completes, fails or times out.

Watches the workload from a resourceVersion (kubernetes_asyncio), re-evaluates on every change and,
every ``recheck_seconds``, re-reads the pods of the new revision (a crash loop does not change the
Deployment). A stream that ends resumes from the last resourceVersion; 410 Gone re-lists; every other
failure goes through :func:`podium.kube.errors.decide` with the hook's retry policy, like every API
call. Verdicts come from :mod:`podium.kube.status`; a failure or a timeout is explained by
:mod:`podium.kube.explain` (pods, containers, reasons, restarts, warning events, or the workload's
conditions when no pod of the new revision exists).

The trigger runs it in the triggerer; operators and the sensor run that same trigger inline.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import Sequence
from typing import Any

from podium.exceptions import PodiumError, TransientError
from podium.kube.errors import GONE, KubeApiError, decide
from podium.kube.status import Verdict, rollout_verdict
from podium.kube.workloads import HISTORY_KIND, match_selector, workload_text

Obj = dict[str, Any]


def rollout_event(status: str, message: str, verdict: Verdict | None, **ref: Any) -> Obj:
    """The one event shape of a rollout wait: status success | error | timeout, message, verdict.

    ``transient`` (error events only) is true when the Kubernetes API kept failing: the rollout's
    fate is unknown, so the caller raises TransientError instead of rolling back.
    """
    return {
        "status": status,
        "message": message,
        "verdict": verdict.as_dict() if verdict else None,
        "transient": bool(ref.pop("transient", False)),
        **ref,
    }


def within(workload: Obj, replicas_between: Sequence[int] | None) -> bool:
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


async def _history(hook: Any, api_client: Any, workload: Obj) -> list[Obj]:
    kind = HISTORY_KIND[workload["kind"]]
    listing = await hook.call(
        api_client, kind, "list", workload["metadata"]["namespace"], label_selector=match_selector(workload)
    )
    items: list[Obj] = listing.get("items") or []
    for item in items:
        item.setdefault("kind", kind)
    return items


async def new_pods(hook: Any, api_client: Any, workload: Obj, history: list[Obj]) -> list[Obj]:
    """The pods of the workload's newest revision (none until that revision exists)."""
    from podium.kube.revisions import new_revision_selector

    selector = new_revision_selector(workload, history)
    if selector is None:
        return []
    pods = await hook.call(
        api_client, "Pod", "list", workload["metadata"]["namespace"], label_selector=selector
    )
    return list(pods.get("items") or [])


async def evaluate(
    hook: Any,
    api_client: Any,
    workload: Obj,
    grace: float,
    replicas_between: Sequence[int] | None = None,
    *,
    with_pods: bool = True,
) -> Verdict:
    """The rollout verdict for ``workload`` now; ``with_pods`` also reads its newest revision's pods."""
    pods = (
        await new_pods(hook, api_client, workload, await _history(hook, api_client, workload))
        if with_pods
        else []
    )
    now = hook.server_now or dt.datetime.now(dt.UTC)
    verdict = rollout_verdict(workload, pods, now, dt.timedelta(seconds=grace))
    if verdict.state == "complete" and not within(workload, replicas_between):
        low, high = replicas_between or (0, 0)
        return Verdict("progressing", f"Waiting for replicas to be within [{low}, {high}]...")
    return verdict


async def explain(hook: Any, api_client: Any, workload: Obj, verdict: Verdict) -> Verdict:
    """``verdict`` with the evidence of what is wrong: the new revision's unready pods (containers,
    reasons, restarts, last warning events), or the workload's conditions when it has no pod."""
    from podium.kube.explain import explained, failure_evidence
    from podium.kube.revisions import new_replicaset

    history = await _history(hook, api_client, workload)
    pods = await new_pods(hook, api_client, workload, history)
    listing = await hook.call(
        api_client, "Event", "list", workload["metadata"]["namespace"], field_selector="type=Warning"
    )
    controller = new_replicaset(workload, history) if workload["kind"] == "Deployment" else None
    problems, notes = failure_evidence(
        workload, pods, listing.get("items") or [], [dict(controller)] if controller else []
    )
    return explained(verdict, problems, notes)


class _Ended(Exception):
    """The wait is over with this event (the workload is gone, or never existed)."""

    def __init__(self, event: Obj) -> None:
        super().__init__(event["message"])
        self.event = event


class _RolloutWatch:
    """One workload watched from a resourceVersion, with the last object and verdict seen."""

    def __init__(
        self,
        hook: Any,
        api_client: Any,
        *,
        kind: str,
        name: str,
        namespace: str,
        grace: float,
        replicas_between: Sequence[int] | None,
    ) -> None:
        self.hook, self.api_client = hook, api_client
        self.kind, self.name, self.namespace = kind, name, namespace
        self.grace, self.replicas_between = grace, replicas_between
        self.ref = {"kind": kind, "name": name, "namespace": namespace}
        self.what = workload_text(kind, name, namespace)
        self.workload: Obj | None = None
        self.resource_version: str | None = None
        self.last: Verdict | None = None

    async def _judge(self, *, with_pods: bool) -> Verdict:
        assert self.workload is not None
        self.last = await evaluate(
            self.hook, self.api_client, self.workload, self.grace, self.replicas_between, with_pods=with_pods
        )
        return self.last

    async def step(self, window: float) -> Verdict:
        """List if needed, then watch for up to ``window`` seconds: the verdict at the end."""
        if self.resource_version is None:
            self.workload, self.resource_version = await self.hook.snapshot(
                self.api_client, self.kind, self.name, self.namespace
            )
            if self.workload is None:
                raise _Ended(rollout_event("error", f"{self.what} does not exist", None, **self.ref))
            verdict = await self._judge(with_pods=False)
            if verdict.done:
                return verdict
        async for event_type, obj in self.hook.watch(
            self.api_client, self.kind, self.name, self.namespace, self.resource_version, max(1, int(window))
        ):
            if event_type == "ERROR":
                if obj.get("code") == GONE:
                    self.resource_version = None  # history compacted: list again
                    return self.last or Verdict("progressing", "re-listing")
                raise KubeApiError(int(obj.get("code") or 500), str(obj.get("message", "")))
            if event_type == "DELETED":
                raise _Ended(
                    rollout_event(
                        "error", f"{self.what} was deleted during the rollout", self.last, **self.ref
                    )
                )
            self.workload = obj
            self.resource_version = str(obj["metadata"]["resourceVersion"])
            verdict = await self._judge(with_pods=False)
            if verdict.done:
                return verdict
        # the window ended (or the server closed the stream): look at the pods again
        return await self._judge(with_pods=True)

    async def finish(self, verdict: Verdict) -> Obj:
        if verdict.state == "complete":
            return rollout_event("success", verdict.describe(), verdict, **self.ref)
        assert self.workload is not None
        verdict = await explain(self.hook, self.api_client, self.workload, verdict)
        return rollout_event("error", verdict.describe(), verdict, **self.ref)

    async def timed_out(self) -> Obj:
        last = self.last
        if self.workload is not None and last is not None:
            with contextlib.suppress(PodiumError):  # the timeout stands; the evidence is a courtesy
                last = await explain(self.hook, self.api_client, self.workload, last)
        detail = last.describe() if last else "no status yet"
        return rollout_event("timeout", f"timed out waiting for {self.what}: {detail}", last, **self.ref)


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
) -> Obj:
    """Wait until the rollout is complete, has failed, or ``timeout_at`` (epoch seconds) passes.

    Every change of the workload gets a verdict from the object alone (cheap, and enough to see it
    complete or hit its deadline); the pods of the new revision are read once per ``recheck_seconds``.
    """
    import aiohttp

    failures = 0
    async with hook.shared_conn() as api_client:
        watch = _RolloutWatch(
            hook,
            api_client,
            kind=kind,
            name=name,
            namespace=namespace,
            grace=pod_grace_seconds,
            replicas_between=replicas_between,
        )
        while (remaining := timeout_at - time.time()) > 0:
            try:
                verdict = await watch.step(min(remaining, recheck_seconds))
            except _Ended as ended:
                return ended.event
            except PodiumError as error:  # an API call that its own retries could not save
                transient = isinstance(error, TransientError)
                return rollout_event("error", str(error), watch.last, transient=transient, **watch.ref)
            except (KubeApiError, aiohttp.ClientError, TimeoutError, OSError) as error:
                failure = error if isinstance(error, KubeApiError) else KubeApiError.no_answer(error)
                decision = decide(
                    failure,
                    attempt=failures,
                    verb="watch",
                    resource=f"{kind.lower()}/{name}",
                    namespace=namespace,
                    policy=hook.retry_policy,
                    watch=True,
                )
                if not decision.retry:
                    return rollout_event(
                        "error", decision.message, watch.last, transient=decision.transient, **watch.ref
                    )
                failures += 1
                if log is not None:
                    log.warning(
                        "watching %s failed (%s); retrying in %.1fs", watch.what, failure, decision.delay
                    )
                watch.resource_version = None
                await asyncio.sleep(min(decision.delay, max(timeout_at - time.time(), 0)))
                continue
            failures = 0
            if verdict.done:
                return await watch.finish(verdict)
        return await watch.timed_out()


async def observe_once(
    hook: Any, *, kind: str, name: str, namespace: str, pod_grace_seconds: float = 60.0
) -> Verdict | None:
    """The verdict right now (None when the workload does not exist): the sensor's poke. A failed
    rollout comes with its evidence."""
    async with hook.shared_conn() as api_client:
        workload, _ = await hook.snapshot(api_client, kind, name, namespace)
        if workload is None:
            return None
        verdict = await evaluate(hook, api_client, workload, pod_grace_seconds)
        if verdict.state == "failed":
            verdict = await explain(hook, api_client, workload, verdict)
        return verdict
