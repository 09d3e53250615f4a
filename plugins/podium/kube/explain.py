"""Why a rollout failed, in words a user can act on without kubectl.

Given the workload, the pods of its new revision and the namespace's Warning events, name every pod
of the new revision that is not ready: its containers, their reasons and restart counts, and the
last warning events of that pod. When no pod of the new revision exists, say so and give what the
workload and its ReplicaSet report instead (a quota or an admission webhook refusing the pods shows
as a ReplicaFailure condition and FailedCreate events). Pure: plain API objects in, text out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from podium.kube.status import PodProblem, Verdict

Obj = Mapping[str, Any]
LAST_EVENTS = 3  # warning events quoted per object
MAX_PODS = 5  # pods named in one message; the rest are counted

# A workload condition in this state is healthy and says nothing about a failure.
_HEALTHY = {("Available", "True"), ("Progressing", "True"), ("Ready", "True")}


def event_text(event: Obj) -> str:
    """``BackOff: Back-off restarting failed container app in pod ... (x4)``."""
    count = int(event.get("count") or 1)
    text = f"{event.get('reason') or 'Warning'}: {str(event.get('message') or '').strip()}"
    return text + (f" (x{count})" if count > 1 else "")


def _when(event: Obj) -> str:
    return str(event.get("lastTimestamp") or event.get("eventTime") or event.get("firstTimestamp") or "")


def warnings_about(events: Iterable[Obj], obj: Obj, limit: int = LAST_EVENTS) -> tuple[str, ...]:
    """The last ``limit`` Warning events whose involvedObject is ``obj`` (by uid, else by kind+name)."""
    meta = obj.get("metadata") or {}
    uid, name, kind = meta.get("uid"), meta.get("name"), obj.get("kind")
    mine = []
    for event in events:
        involved = event.get("involvedObject") or {}
        if event.get("type", "Warning") != "Warning":
            continue
        if (uid and involved.get("uid") == uid) or (
            not involved.get("uid") and involved.get("name") == name and involved.get("kind") == kind
        ):
            mine.append(event)
    mine.sort(key=_when)
    return tuple(event_text(e) for e in mine[-limit:])


def _ready(pod: Obj) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def _container_reason(container: Obj) -> tuple[str, str] | None:
    """(reason, message) of a container that is not ready; None when it is ready."""
    if container.get("ready"):
        return None
    state = container.get("state") or {}
    if state.get("waiting"):
        waiting = state["waiting"]
        message = str(waiting.get("message") or "")
        last = (container.get("lastState") or {}).get("terminated") or {}
        if last:
            code = f", exit code {last['exitCode']}" if last.get("exitCode") is not None else ""
            ended = f"last run ended: {last.get('reason') or 'Terminated'}{code}"
            message = f"{message}; {ended}" if message else ended
        return str(waiting.get("reason") or "Waiting"), message
    if state.get("terminated"):
        done = state["terminated"]
        code = done.get("exitCode")
        reason = str(done.get("reason") or "Terminated") + (
            f" (exit code {code})" if code is not None else ""
        )
        return reason, str(done.get("message") or "")
    if "running" in state:
        return "Running, not ready", "its readiness probe has not passed"
    return "not started", ""


def pod_not_ready(pod: Obj, events: Sequence[Obj]) -> tuple[PodProblem, ...]:
    """One problem per container of ``pod`` that is not ready (none for a ready pod)."""
    if _ready(pod):
        return ()
    name = pod["metadata"]["name"]
    status = pod.get("status") or {}
    warnings = warnings_about(events, {**pod, "kind": pod.get("kind", "Pod")})
    problems = []
    for container in [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]:
        found = _container_reason(container)
        if found is not None:
            problems.append(
                PodProblem(
                    name,
                    str(container.get("name", "")),
                    found[0],
                    found[1],
                    int(container.get("restartCount") or 0),
                    warnings,
                )
            )
    if not problems:
        # no container status yet: unscheduled, or the pod failed as a whole
        unscheduled = next(
            (
                c
                for c in status.get("conditions") or []
                if c.get("type") == "PodScheduled" and c["status"] != "True"
            ),
            None,
        )
        reason = str(
            status.get("reason") or (unscheduled or {}).get("reason") or status.get("phase") or "Pending"
        )
        message = str(status.get("message") or (unscheduled or {}).get("message") or "")
        problems.append(PodProblem(name, "", reason, message, 0, warnings))
    return tuple(problems)


def workload_conditions(workload: Obj) -> tuple[str, ...]:
    """The workload's conditions that speak of a problem: ``ReplicaFailure (FailedCreate): ...``."""
    notes = []
    conditions = (workload.get("status") or {}).get("conditions") or []
    # the condition that says why pods are missing comes first
    for condition in sorted(conditions, key=lambda c: c.get("type") != "ReplicaFailure"):
        kind, state = str(condition.get("type")), str(condition.get("status"))
        if (kind, state) in _HEALTHY or (kind == "ReplicaFailure" and state != "True"):
            continue
        label = kind if kind == "ReplicaFailure" else f"{kind}={state}"
        reason = f" ({condition['reason']})" if condition.get("reason") else ""
        message = f": {condition['message']}" if condition.get("message") else ""
        notes.append(f"{label}{reason}{message}")
    return tuple(notes)


def failure_evidence(
    workload: Obj,
    new_pods: Sequence[Obj],
    events: Sequence[Obj],
    controllers: Sequence[Obj] = (),
) -> tuple[tuple[PodProblem, ...], tuple[str, ...]]:
    """(problems, notes) that explain a failed or stuck rollout.

    ``new_pods`` are the pods of the new revision; ``controllers`` the objects that create them (the
    new ReplicaSet of a Deployment), whose warning events tell why pods were not created.
    """
    problems: list[PodProblem] = []
    ready = 0
    for pod in sorted(new_pods, key=lambda p: p["metadata"]["name"]):
        found = pod_not_ready(pod, events)
        ready += not found
        problems.extend(found)
    notes: list[str] = []
    pods_named = sorted({p.pod for p in problems})
    if len(pods_named) > MAX_PODS:
        keep = set(pods_named[:MAX_PODS])
        problems = [p for p in problems if p.pod in keep]
        notes.append(f"{len(pods_named) - MAX_PODS} more pods of the new revision are not ready")
    if not new_pods:
        kind = str(workload.get("kind", "workload")).lower()
        notes.append(
            f"no pod of the new revision exists; {kind} conditions: "
            + ("; ".join(workload_conditions(workload)) or "none")
        )
        for obj in [workload, *controllers]:
            warnings = warnings_about(events, obj)
            if warnings:
                notes.append(
                    f"{str(obj.get('kind', '')).lower()}/{obj['metadata']['name']} warning events: "
                    + "; ".join(warnings)
                )
    elif not problems:
        notes.append(f"all {ready} pods of the new revision are ready")
    return tuple(problems), tuple(notes)


def explained(verdict: Verdict, problems: Sequence[PodProblem], notes: Sequence[str]) -> Verdict:
    """``verdict`` with the evidence attached (its state and kubectl message unchanged)."""
    return Verdict(verdict.state, verdict.message, tuple(problems), tuple(notes))
