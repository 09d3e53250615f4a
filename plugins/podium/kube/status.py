"""Is this workload rolled out? The same verdicts and messages as `kubectl rollout status`, plus
podium's early failure detection from the pods of the new revision.

Everything here works on plain API objects (the JSON the API server sends, as dicts) and is shared
by the operators, the sensor and the trigger.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Obj = Mapping[str, Any]
State = Literal["progressing", "complete", "failed"]

# Waiting reasons that mean a container will not start without a change (kubectl warns on these).
STUCK_REASONS = frozenset(
    {
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "CreateContainerConfigError",
        "CreateContainerError",
        "InvalidImageName",
        "RunContainerError",
    }
)
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")


@dataclass(frozen=True)
class PodProblem:
    """A pod of the new revision that is stuck or not ready: which pod, which container, why, and the
    pod's last warning events."""

    pod: str
    container: str
    reason: str
    message: str = ""
    restarts: int = 0
    events: tuple[str, ...] = ()

    def __str__(self) -> str:
        text = f"pod {self.pod}" + (f" container {self.container}" if self.container else "")
        text += f": {self.reason}"
        if self.restarts:
            text += f" ({self.restarts} restart{'s' if self.restarts != 1 else ''})"
        text += f" - {self.message}" if self.message else ""
        if self.events:
            text += " [last warning events: " + "; ".join(self.events) + "]"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "pod": self.pod,
            "container": self.container,
            "reason": self.reason,
            "message": self.message,
            "restarts": self.restarts,
            "events": list(self.events),
        }


@dataclass(frozen=True)
class Verdict:
    """Where a rollout stands. ``message`` is kubectl's wording; ``problems`` name stuck or unready pods
    of the new revision; ``notes`` say what else explains a failure (no pod exists, the workload's
    conditions, its warning events)."""

    state: State
    message: str
    problems: tuple[PodProblem, ...] = field(default=())
    notes: tuple[str, ...] = field(default=())

    @property
    def done(self) -> bool:
        return self.state != "progressing"

    def describe(self) -> str:
        return "; ".join([self.message, *(str(p) for p in self.problems), *self.notes])

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "message": self.message,
            "problems": [p.as_dict() for p in self.problems],
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Verdict:
        problems = tuple(
            PodProblem(**{**p, "events": tuple(p.get("events") or ())}) for p in data.get("problems") or []
        )
        return cls(
            state=data["state"],
            message=data["message"],
            problems=problems,
            notes=tuple(data.get("notes") or ()),
        )


def _status(obj: Obj) -> Mapping[str, Any]:
    return obj.get("status") or {}


def _int(value: Any, default: int = 0) -> int:
    return default if value is None else int(value)


def deployment_verdict(obj: Obj) -> Verdict:
    """`kubectl rollout status deployment/NAME` as a function."""
    name, spec, status = obj["metadata"]["name"], obj.get("spec") or {}, _status(obj)
    if _int(obj["metadata"].get("generation"), 1) > _int(status.get("observedGeneration")):
        return Verdict("progressing", "Waiting for deployment spec update to be observed...")
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Progressing" and condition.get("reason") == "ProgressDeadlineExceeded":
            return Verdict("failed", f'deployment "{name}" exceeded its progress deadline')
    replicas = _int(spec.get("replicas"), 1)
    updated = _int(status.get("updatedReplicas"))
    total = _int(status.get("replicas"))
    available = _int(status.get("availableReplicas"))
    prefix = f'Waiting for deployment "{name}" rollout to finish: '
    if updated < replicas:
        return Verdict(
            "progressing", f"{prefix}{updated} out of {replicas} new replicas have been updated..."
        )
    if total > updated:
        return Verdict("progressing", f"{prefix}{total - updated} old replicas are pending termination...")
    if available < updated:
        return Verdict("progressing", f"{prefix}{available} of {updated} updated replicas are available...")
    return Verdict("complete", f'deployment "{name}" successfully rolled out')


def statefulset_verdict(obj: Obj) -> Verdict:
    """`kubectl rollout status statefulset/NAME` as a function."""
    spec, status = obj.get("spec") or {}, _status(obj)
    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return Verdict("failed", "rollout status is only available for RollingUpdate strategy type")
    observed = _int(status.get("observedGeneration"))
    if observed == 0 or _int(obj["metadata"].get("generation"), 1) > observed:
        return Verdict("progressing", "Waiting for statefulset spec update to be observed...")
    replicas = _int(spec.get("replicas"), 1)
    ready = _int(status.get("readyReplicas"))
    if ready < replicas:
        return Verdict("progressing", f"Waiting for {replicas - ready} pods to be ready...")
    updated = _int(status.get("updatedReplicas"))
    rolling = strategy.get("rollingUpdate")
    if rolling is not None:
        partition = rolling.get("partition")
        if partition is not None and updated < replicas - int(partition):
            return Verdict(
                "progressing",
                f"Waiting for partitioned roll out to finish: {updated} out of {replicas - int(partition)} "
                "new pods have been updated...",
            )
        return Verdict("complete", f"partitioned roll out complete: {updated} new pods have been updated...")
    if status.get("updateRevision") != status.get("currentRevision"):
        return Verdict(
            "progressing",
            f"waiting for statefulset rolling update to complete {updated} pods at revision "
            f"{status.get('updateRevision')}...",
        )
    return Verdict(
        "complete",
        f"statefulset rolling update complete {_int(status.get('currentReplicas'))} pods at revision "
        f"{status.get('currentRevision')}...",
    )


def daemonset_verdict(obj: Obj) -> Verdict:
    """`kubectl rollout status daemonset/NAME` as a function."""
    name, spec, status = obj["metadata"]["name"], obj.get("spec") or {}, _status(obj)
    if (spec.get("updateStrategy") or {}).get("type", "RollingUpdate") != "RollingUpdate":
        return Verdict("failed", "rollout status is only available for RollingUpdate strategy type")
    if _int(obj["metadata"].get("generation"), 1) > _int(status.get("observedGeneration")):
        return Verdict("progressing", "Waiting for daemon set spec update to be observed...")
    desired = _int(status.get("desiredNumberScheduled"))
    updated = _int(status.get("updatedNumberScheduled"))
    available = _int(status.get("numberAvailable"))
    prefix = f'Waiting for daemon set "{name}" rollout to finish: '
    if updated < desired:
        return Verdict("progressing", f"{prefix}{updated} out of {desired} new pods have been updated...")
    if available < desired:
        return Verdict("progressing", f"{prefix}{available} of {desired} updated pods are available...")
    return Verdict("complete", f'daemon set "{name}" successfully rolled out')


VERDICTS = {
    "Deployment": deployment_verdict,
    "StatefulSet": statefulset_verdict,
    "DaemonSet": daemonset_verdict,
}


def workload_verdict(obj: Obj) -> Verdict:
    kind = obj.get("kind", "")
    if kind not in VERDICTS:
        raise ValueError(
            f"rollout status is not available for kind {kind!r} (only {', '.join(WORKLOAD_KINDS)})"
        )
    return VERDICTS[kind](obj)


def pod_problems(pods: Iterable[Obj], now: dt.datetime, grace: dt.timedelta) -> tuple[PodProblem, ...]:
    """Containers stuck in a failing state in pods older than ``grace``; failed pods too."""
    problems = []
    for pod in pods:
        meta, status = pod["metadata"], _status(pod)
        created = meta.get("creationTimestamp")
        if created and now - parse_time(created) < grace:
            continue
        found = False
        for container in [
            *(status.get("initContainerStatuses") or []),
            *(status.get("containerStatuses") or []),
        ]:
            waiting = (container.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in STUCK_REASONS:
                problems.append(
                    PodProblem(
                        meta["name"],
                        container.get("name", ""),
                        waiting["reason"],
                        waiting.get("message", ""),
                        _int(container.get("restartCount")),
                    )
                )
                found = True
        if not found and status.get("phase") == "Failed":
            problems.append(
                PodProblem(meta["name"], "", status.get("reason") or "Failed", status.get("message", ""))
            )
    return tuple(sorted(problems, key=lambda p: (p.pod, p.container)))


def rollout_verdict(
    obj: Obj, pods: Iterable[Obj], now: dt.datetime, grace: dt.timedelta = dt.timedelta(seconds=60)
) -> Verdict:
    """kubectl's verdict, failed early when pods of the new revision are stuck beyond ``grace``."""
    verdict = workload_verdict(obj)
    if verdict.state == "complete":
        return verdict
    if _int(obj["metadata"].get("generation"), 1) > _int(_status(obj).get("observedGeneration")):
        # the controller has not seen the latest spec: "the new revision" is not known yet, and the
        # pods at hand may be the very ones this change (a rollback, say) replaces
        return verdict
    problems = pod_problems(pods, now, grace)
    if verdict.state == "failed":
        return Verdict("failed", verdict.message, problems)
    if problems:
        return Verdict(
            "failed",
            f'{obj["kind"].lower()} "{obj["metadata"]["name"]}" has pods that cannot start',
            problems,
        )
    return verdict


def parse_time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
