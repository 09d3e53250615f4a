"""ResourceQuota: object-count quotas (``pods``, ``count/<resource>[.<group>]``, ``services``, ...)
enforced when an object is created, by API clients and controllers alike, and their status.

As the ResourceQuota admission plugin does it (k8s.io/apiserver/pkg/admission/plugin/resourcequota):
a create that would take a quota's usage over ``status.hard`` is refused with 403 Forbidden,
``pods "web-1" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2``.
Pods in phase Succeeded or Failed do not count. Not simulated: compute resources (``requests.cpu``,
``limits.memory``, ...), scopes and scopeSelector (scoped quotas are ignored).
"""

from __future__ import annotations

from typing import Any

from kubesim.store import ApiError, Store
from kubesim.workloads import pod_is_active

Obj = dict[str, Any]
QUOTAS = "/resourcequotas"
# quota names that predate count/<resource>, and what they count
LEGACY = {
    "pods": "/pods",
    "services": "/services",
    "secrets": "/secrets",
    "configmaps": "/configmaps",
    "persistentvolumeclaims": "/persistentvolumeclaims",
    "replicationcontrollers": "/replicationcontrollers",
    "resourcequotas": QUOTAS,
}


def counted(key: str) -> str | None:
    """The resource id a quota key counts (``count/deployments.apps`` -> ``apps/deployments``), or None
    for what the sandbox does not count (compute resources)."""
    if key in LEGACY:
        return LEGACY[key]
    if not key.startswith("count/"):
        return None
    plural, _, group = key.removeprefix("count/").partition(".")
    return f"{group}/{plural}"


def usage(store: Store, resource: str, namespace: str) -> int:
    objects = store.select(resource, namespace)
    if resource == "/pods":
        return sum(1 for pod in objects if pod_is_active(pod))
    return len(objects)


def _hard(quota: Obj) -> dict[str, int]:
    limits: dict[str, int] = {}
    for key, value in ((quota.get("spec") or {}).get("hard") or {}).items():
        try:
            limits[key] = int(str(value))
        except ValueError:
            continue  # a compute quantity ("500m", "1Gi"): not counted here
    return limits


def _scoped(quota: Obj) -> bool:
    spec = quota.get("spec") or {}
    return bool(spec.get("scopes") or spec.get("scopeSelector"))


def status_of(store: Store, quota: Obj) -> Obj:
    """status.hard (spec.hard as given) and status.used for every key the sandbox counts."""
    namespace = quota["metadata"]["namespace"]
    hard = dict((quota.get("spec") or {}).get("hard") or {})
    used = {}
    for key in sorted(hard):
        resource = counted(key)
        if resource is not None:
            used[key] = str(usage(store, resource, namespace))
    return {"hard": hard, "used": used}


def admit(store: Store, resource: str, namespace: str, name: str) -> None:
    """Raise 403 Forbidden when creating one more ``resource`` object would exceed a quota."""
    if not namespace or resource == "/events":
        return
    for quota in store.select(QUOTAS, namespace):
        if _scoped(quota):
            continue
        exceeded = []
        for key, limit in sorted(_hard(quota).items()):
            if counted(key) == resource:
                used = usage(store, resource, namespace)
                if used + 1 > limit:
                    exceeded.append((key, used, limit))
        if exceeded:
            raise _forbidden(resource, name, quota["metadata"]["name"], exceeded)


def _forbidden(resource: str, name: str, quota: str, exceeded: list[tuple[str, int, int]]) -> ApiError:
    group, _, plural = resource.partition("/")
    qualified = f"{plural}.{group}" if group else plural
    requested = ",".join(f"{key}=1" for key, _, _ in exceeded)
    used = ",".join(f"{key}={count}" for key, count, _ in exceeded)
    limited = ",".join(f"{key}={limit}" for key, _, limit in exceeded)
    return ApiError(
        403,
        "Forbidden",
        f'{qualified} "{name}" is forbidden: exceeded quota: {quota}, '
        f"requested: {requested}, used: {used}, limited: {limited}",
        {"name": name, "group": group, "kind": plural} if group else {"name": name, "kind": plural},
    )
