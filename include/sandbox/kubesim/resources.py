"""The resources the double serves (the resource table) and their Table columns for `kubectl get`.

Discovery and OpenAPI documents are built from it in discovery.py, defaulting is in defaults.py."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    columns: tuple[tuple[str, str, Callable[[Obj, dt.datetime], Any]], ...] = field(default=(), compare=False)

    @property
    def id(self) -> str:
        return f"{self.group}/{self.plural}"

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()


def age(obj: Obj, now: dt.datetime) -> str:
    created = obj["metadata"].get("creationTimestamp")
    if not created:
        return "<unknown>"
    seconds = int((now - dt.datetime.fromisoformat(created.replace("Z", "+00:00"))).total_seconds())
    seconds = max(seconds, 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size * (2 if unit != "m" else 1):
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _status(path: str, default: Any = 0) -> Callable[[Obj, dt.datetime], Any]:
    def get(obj: Obj, _now: dt.datetime) -> Any:
        current: Any = obj.get("status") or {}
        for part in path.split("."):
            current = current.get(part) if isinstance(current, dict) else None
        return default if current is None else current

    return get


def _spec_replicas(obj: Obj) -> int:
    return int((obj.get("spec") or {}).get("replicas", 1))


def _pod_ready(obj: Obj, _now: dt.datetime) -> str:
    statuses = (obj.get("status") or {}).get("containerStatuses") or []
    total = len((obj.get("spec") or {}).get("containers") or [])
    return f"{sum(1 for s in statuses if s.get('ready'))}/{total}"


def _pod_status(obj: Obj, _now: dt.datetime) -> str:
    status = obj.get("status") or {}
    for container in status.get("containerStatuses") or []:
        waiting = (container.get("state") or {}).get("waiting")
        if waiting and waiting.get("reason") not in (None, "ContainerCreating"):
            return waiting["reason"]
    return status.get("phase", "Pending")


def _containers(obj: Obj) -> list[Obj]:
    return list((((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or [])


def _selector(obj: Obj) -> str:
    match = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in match.items())


# What `kubectl get deploy|rs|ds -o wide` adds (sts: the first two), as the API server's printers do.
TEMPLATE_COLUMNS: tuple[tuple[str, str, Callable[[Obj, dt.datetime], Any]], ...] = (
    ("Containers", "string", lambda o, n: ",".join(c.get("name", "") for c in _containers(o))),
    ("Images", "string", lambda o, n: ",".join(c.get("image", "") for c in _containers(o))),
    ("Selector", "string", lambda o, n: _selector(o)),
)


def _restarts(obj: Obj, _now: dt.datetime) -> int:
    return sum(s.get("restartCount", 0) for s in (obj.get("status") or {}).get("containerStatuses") or [])


def _quota_column(limits: bool) -> Callable[[Obj, dt.datetime], str]:
    """``pods: 2/2, services: 0/5`` (used/hard), limits.* in the Limit column (printResourceQuota)."""

    def get(obj: Obj, _now: dt.datetime) -> str:
        status = obj.get("status") or {}
        hard, used = status.get("hard") or {}, status.get("used") or {}
        return ", ".join(
            f"{key}: {used.get(key, '0')}/{hard[key]}"
            for key in sorted(hard)
            if (key.split(".")[0] == "limits" and "." in key) == limits
        )

    return get


NAME = ("Name", "string", lambda obj, _now: obj["metadata"]["name"])
AGE = ("Age", "string", age)

RESOURCES: tuple[Resource, ...] = (
    Resource(
        "",
        "v1",
        "namespaces",
        "Namespace",
        namespaced=False,
        short_names=("ns",),
        subresources=("status",),
        columns=(NAME, ("Status", "string", _status("phase", "Active")), AGE),
    ),
    Resource(
        "",
        "v1",
        "nodes",
        "Node",
        namespaced=False,
        short_names=("no",),
        subresources=("status",),
        columns=(NAME, ("Status", "string", lambda o, n: "Ready"), AGE),
    ),
    Resource(
        "",
        "v1",
        "pods",
        "Pod",
        short_names=("po",),
        subresources=("status", "log"),
        categories=("all",),
        columns=(
            NAME,
            ("Ready", "string", _pod_ready),
            ("Status", "string", _pod_status),
            ("Restarts", "integer", _restarts),
            AGE,
        ),
    ),
    Resource(
        "",
        "v1",
        "services",
        "Service",
        short_names=("svc",),
        subresources=("status",),
        categories=("all",),
        columns=(
            NAME,
            ("Type", "string", lambda o, n: o["spec"].get("type", "ClusterIP")),
            ("Cluster-IP", "string", lambda o, n: o["spec"].get("clusterIP", "<none>")),
            AGE,
        ),
    ),
    Resource(
        "",
        "v1",
        "configmaps",
        "ConfigMap",
        short_names=("cm",),
        columns=(NAME, ("Data", "integer", lambda o, n: len(o.get("data") or {})), AGE),
    ),
    Resource(
        "",
        "v1",
        "secrets",
        "Secret",
        columns=(
            NAME,
            ("Type", "string", lambda o, n: o.get("type", "Opaque")),
            ("Data", "integer", lambda o, n: len(o.get("data") or {})),
            AGE,
        ),
    ),
    Resource("", "v1", "serviceaccounts", "ServiceAccount", short_names=("sa",), columns=(NAME, AGE)),
    Resource(
        "",
        "v1",
        "resourcequotas",
        "ResourceQuota",
        short_names=("quota",),
        subresources=("status",),
        columns=(
            NAME,
            AGE,
            ("Request", "string", _quota_column(False)),
            ("Limit", "string", _quota_column(True)),
        ),
    ),
    Resource(
        "",
        "v1",
        "events",
        "Event",
        short_names=("ev",),
        columns=(
            ("Last Seen", "string", lambda o, n: o.get("lastTimestamp", "")),
            ("Type", "string", lambda o, n: o.get("type", "")),
            ("Reason", "string", lambda o, n: o.get("reason", "")),
            (
                "Object",
                "string",
                lambda o, n: (
                    f"{o['involvedObject'].get('kind', '').lower()}/{o['involvedObject'].get('name', '')}"
                ),
            ),
            ("Message", "string", lambda o, n: o.get("message", "")),
        ),
    ),
    Resource(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        short_names=("deploy",),
        subresources=("status", "scale"),
        categories=("all",),
        columns=(
            NAME,
            ("Ready", "string", lambda o, n: f"{_status('readyReplicas')(o, n)}/{_spec_replicas(o)}"),
            ("Up-to-date", "integer", _status("updatedReplicas")),
            ("Available", "integer", _status("availableReplicas")),
            AGE,
            *TEMPLATE_COLUMNS,
        ),
    ),
    Resource(
        "apps",
        "v1",
        "replicasets",
        "ReplicaSet",
        short_names=("rs",),
        subresources=("status", "scale"),
        categories=("all",),
        columns=(
            NAME,
            ("Desired", "integer", lambda o, n: _spec_replicas(o)),
            ("Current", "integer", _status("replicas")),
            ("Ready", "integer", _status("readyReplicas")),
            AGE,
            *TEMPLATE_COLUMNS,
        ),
    ),
    Resource(
        "apps",
        "v1",
        "statefulsets",
        "StatefulSet",
        short_names=("sts",),
        subresources=("status", "scale"),
        categories=("all",),
        columns=(
            NAME,
            ("Ready", "string", lambda o, n: f"{_status('readyReplicas')(o, n)}/{_spec_replicas(o)}"),
            AGE,
            *TEMPLATE_COLUMNS[:2],
        ),
    ),
    Resource(
        "apps",
        "v1",
        "daemonsets",
        "DaemonSet",
        short_names=("ds",),
        subresources=("status",),
        categories=("all",),
        columns=(
            NAME,
            ("Desired", "integer", _status("desiredNumberScheduled")),
            ("Current", "integer", _status("currentNumberScheduled")),
            ("Ready", "integer", _status("numberReady")),
            ("Up-to-date", "integer", _status("updatedNumberScheduled")),
            ("Available", "integer", _status("numberAvailable")),
            AGE,
            *TEMPLATE_COLUMNS,
        ),
    ),
    Resource("apps", "v1", "controllerrevisions", "ControllerRevision", columns=(NAME, AGE)),
    Resource(
        "batch",
        "v1",
        "jobs",
        "Job",
        subresources=("status",),
        categories=("all",),
        columns=(
            NAME,
            ("Status", "string", lambda o, n: _job_status(o)),
            (
                "Completions",
                "string",
                lambda o, n: f"{_status('succeeded')(o, n)}/{o['spec'].get('completions', 1)}",
            ),
            AGE,
        ),
    ),
    Resource(
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        short_names=("hpa",),
        subresources=("status",),
        categories=("all",),
        columns=(
            NAME,
            (
                "Reference",
                "string",
                lambda o, n: f"{o['spec']['scaleTargetRef']['kind']}/{o['spec']['scaleTargetRef']['name']}",
            ),
            ("MinPods", "integer", lambda o, n: o["spec"].get("minReplicas", 1)),
            ("MaxPods", "integer", lambda o, n: o["spec"].get("maxReplicas")),
            ("Replicas", "integer", _status("currentReplicas")),
            AGE,
        ),
    ),
    Resource(
        "policy",
        "v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        short_names=("pdb",),
        subresources=("status",),
        columns=(NAME, AGE),
    ),
    Resource(
        "networking.k8s.io",
        "v1",
        "ingresses",
        "Ingress",
        short_names=("ing",),
        subresources=("status",),
        columns=(NAME, AGE),
    ),
    Resource("rbac.authorization.k8s.io", "v1", "roles", "Role", columns=(NAME, AGE)),
    Resource("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", columns=(NAME, AGE)),
    Resource(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterroles",
        "ClusterRole",
        namespaced=False,
        columns=(NAME, AGE),
    ),
    Resource(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "ClusterRoleBinding",
        namespaced=False,
        columns=(NAME, AGE),
    ),
    Resource(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        namespaced=False,
        short_names=("crd",),
        subresources=("status",),
        columns=(NAME, AGE),
    ),
)

BY_PATH: dict[tuple[str, str, str], Resource] = {(r.group, r.version, r.plural): r for r in RESOURCES}
BY_ID: dict[str, Resource] = {r.id: r for r in RESOURCES}
BY_KIND: dict[str, Resource] = {r.kind: r for r in RESOURCES}
GROUPS: dict[str, str] = {r.group: r.version for r in RESOURCES if r.group}


def _job_status(job: Obj) -> str:
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("status") == "True" and condition.get("type") in ("Complete", "Failed"):
            return condition["type"]
    return "Running"


# -- Table output for `kubectl get` -----------------------------------------------------------------

# Columns the API server marks priority 1: `kubectl get -o wide` shows them, plain `get` does not.
WIDE = frozenset({"Containers", "Images", "Selector", "IP", "Node", "Nominated Node", "Readiness Gates"})


def table(resource: Resource, items: list[Obj], now: dt.datetime, resource_version: str, full: bool) -> Obj:
    columns = resource.columns or (NAME, AGE)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": [
            {
                "name": name,
                "type": kind,
                "format": "name" if name == "Name" else "",
                "description": "",
                "priority": 1 if name in WIDE else 0,
            }
            for name, kind, _ in columns
        ],
        "rows": [
            {
                "cells": [get(item, now) for _, _, get in columns],
                "object": item
                if full
                else {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": item["metadata"],
                },
            }
            for item in items
        ],
    }
