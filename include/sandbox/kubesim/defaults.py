"""Defaulting, as the API server does on create and update (the fields podium and kubectl read back)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubesim.resources import Resource

Obj = dict[str, Any]

# Status fields Go always writes (the Python client's typed models reject objects without them).
INITIAL_STATUS: dict[str, Obj] = {
    "ReplicaSet": {"replicas": 0},
    "StatefulSet": {"replicas": 0, "availableReplicas": 0},
    "DaemonSet": {
        "currentNumberScheduled": 0,
        "desiredNumberScheduled": 0,
        "numberMisscheduled": 0,
        "numberReady": 0,
    },
    "HorizontalPodAutoscaler": {"currentReplicas": 0, "desiredReplicas": 0},
    "Namespace": {"phase": "Active"},
}


def _replicas(spec: Obj) -> None:
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)


def _deployment(spec: Obj) -> None:
    _replicas(spec)
    spec.setdefault("progressDeadlineSeconds", 600)
    strategy = spec.setdefault("strategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.setdefault("rollingUpdate", {})
        rolling.setdefault("maxSurge", "25%")
        rolling.setdefault("maxUnavailable", "25%")


def _statefulset(spec: Obj) -> None:
    _replicas(spec)
    strategy = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
    if strategy.get("type", "RollingUpdate") == "RollingUpdate":
        strategy.setdefault("type", "RollingUpdate")
        strategy.setdefault("rollingUpdate", {}).setdefault("partition", 0)
    spec.setdefault("podManagementPolicy", "OrderedReady")


def _daemonset(spec: Obj) -> None:
    spec.setdefault("revisionHistoryLimit", 10)
    strategy = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
    if strategy.get("type", "RollingUpdate") == "RollingUpdate":
        strategy.setdefault("type", "RollingUpdate")
        strategy.setdefault("rollingUpdate", {}).setdefault("maxUnavailable", 1)
        strategy["rollingUpdate"].setdefault("maxSurge", 0)


def _job(spec: Obj) -> None:
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completions", 1)
    spec.setdefault("parallelism", 1)


def _service(spec: Obj) -> None:
    spec.setdefault("type", "ClusterIP")
    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        port.setdefault("targetPort", port.get("port"))


SPEC_DEFAULTS: dict[str, Callable[[Obj], None]] = {
    "Deployment": _deployment,
    "StatefulSet": _statefulset,
    "ReplicaSet": _replicas,
    "DaemonSet": _daemonset,
    "Job": _job,
    "Service": _service,
}


def _pod_spec(kind: str, spec: Any) -> Any:
    """The pod spec inside ``spec``: the spec itself for a Pod, else its template's (if any)."""
    if kind == "Pod":
        return spec
    return (spec.get("template") or {}).get("spec") if isinstance(spec, dict) else None


def apply_defaults(resource: Resource, obj: Obj) -> Obj:
    if "status" in resource.subresources:
        status = obj.setdefault("status", {})  # as the API server answers for a new object
        for key, value in INITIAL_STATUS.get(resource.kind, {}).items():
            status.setdefault(key, value)
    spec = obj.get("spec")
    defaults = SPEC_DEFAULTS.get(resource.kind)
    if defaults is not None and isinstance(spec, dict):
        defaults(spec)
    pod_spec = _pod_spec(resource.kind, spec)
    for container in (pod_spec.get("containers") or []) if isinstance(pod_spec, dict) else []:
        for port in container.get("ports") or []:
            port.setdefault("protocol", "TCP")
    return obj
