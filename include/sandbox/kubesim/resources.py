"""The resources the double serves: discovery documents, OpenAPI v3 stubs, Table columns, defaults."""

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


def _restarts(obj: Obj, _now: dt.datetime) -> int:
    return sum(s.get("restartCount", 0) for s in (obj.get("status") or {}).get("containerStatuses") or [])


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


# -- discovery ------------------------------------------------------------------------------------


def api_versions(server_address: str) -> Obj:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def api_group_list() -> Obj:
    groups = []
    for group, version in sorted(GROUPS.items()):
        gv = {"groupVersion": f"{group}/{version}", "version": version}
        groups.append({"name": group, "versions": [gv], "preferredVersion": gv})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_resource_list(group: str, version: str) -> Obj | None:
    members = [r for r in RESOURCES if r.group == group and r.version == version]
    if not members:
        return None
    resources = []
    for r in members:
        resources.append(
            {
                "name": r.plural,
                "singularName": r.singular,
                "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
                **({"shortNames": list(r.short_names)} if r.short_names else {}),
                **({"categories": list(r.categories)} if r.categories else {}),
            }
        )
        for sub in r.subresources:
            kind = "Scale" if sub == "scale" else r.kind
            group_of = {"group": "autoscaling", "version": "v1"} if sub == "scale" else {}
            resources.append(
                {
                    "name": f"{r.plural}/{sub}",
                    "singularName": "",
                    "namespaced": r.namespaced,
                    "kind": kind,
                    "verbs": ["get", "patch", "update"],
                    **group_of,
                }
            )
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }


# -- OpenAPI v3: only what kubectl reads (PATCH operations that advertise fieldValidation) ---------


def openapi_index() -> Obj:
    paths = {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=podium"}}
    for group, version in GROUPS.items():
        paths[f"apis/{group}/{version}"] = {
            "serverRelativeURL": f"/openapi/v3/apis/{group}/{version}?hash=podium"
        }
    return {"paths": paths}


def openapi_document(group: str, version: str) -> Obj | None:
    members = [r for r in RESOURCES if r.group == group and r.version == version]
    if not members:
        return None
    prefix = f"/apis/{group}/{version}" if group else "/api/v1"
    paths: dict[str, Any] = {}
    for r in members:
        item = (
            f"{prefix}/namespaces/{{namespace}}/{r.plural}/{{name}}"
            if r.namespaced
            else f"{prefix}/{r.plural}/{{name}}"
        )
        gvk = {"group": group, "version": version, "kind": r.kind}
        paths[item] = {
            "patch": {
                "operationId": f"patch{r.kind}",
                "parameters": [
                    {"name": name, "in": "query", "schema": {"type": "string"}}
                    for name in ("dryRun", "fieldManager", "fieldValidation", "force")
                ],
                "responses": {"200": {"description": "OK"}},
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": gvk,
            }
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0"},
        "paths": paths,
        "components": {"schemas": {}},
    }


# -- Table output for `kubectl get` -----------------------------------------------------------------


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
                "priority": 0,
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


# -- defaulting (the fields podium and kubectl read back) --------------------------------------------


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


def apply_defaults(resource: Resource, obj: Obj) -> Obj:
    if "status" in resource.subresources:
        status = obj.setdefault("status", {})  # as the API server answers for a new object
        for key, value in INITIAL_STATUS.get(resource.kind, {}).items():
            status.setdefault(key, value)
    spec = obj.get("spec")
    if resource.kind in ("Deployment", "StatefulSet", "ReplicaSet") and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
    if resource.kind == "Deployment" and isinstance(spec, dict):
        spec.setdefault("progressDeadlineSeconds", 600)
        strategy = spec.setdefault("strategy", {})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = strategy.setdefault("rollingUpdate", {})
            rolling.setdefault("maxSurge", "25%")
            rolling.setdefault("maxUnavailable", "25%")
    if resource.kind == "StatefulSet" and isinstance(spec, dict):
        strategy = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
        if strategy.get("type", "RollingUpdate") == "RollingUpdate":
            strategy.setdefault("type", "RollingUpdate")
            strategy.setdefault("rollingUpdate", {}).setdefault("partition", 0)
        spec.setdefault("podManagementPolicy", "OrderedReady")
    if resource.kind == "DaemonSet" and isinstance(spec, dict):
        spec.setdefault("revisionHistoryLimit", 10)
        strategy = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
        if strategy.get("type", "RollingUpdate") == "RollingUpdate":
            strategy.setdefault("type", "RollingUpdate")
            strategy.setdefault("rollingUpdate", {}).setdefault("maxUnavailable", 1)
            strategy["rollingUpdate"].setdefault("maxSurge", 0)
    if resource.kind == "Job" and isinstance(spec, dict):
        spec.setdefault("backoffLimit", 6)
        spec.setdefault("completions", 1)
        spec.setdefault("parallelism", 1)
    if resource.kind == "Service" and isinstance(spec, dict):
        spec.setdefault("type", "ClusterIP")
        for port in spec.get("ports") or []:
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))
    pod_spec = ((spec or {}).get("template") or {}).get("spec") if isinstance(spec, dict) else None
    if resource.kind == "Pod":
        pod_spec = spec
    for container in (pod_spec or {}).get("containers") or [] if isinstance(pod_spec, dict) else []:
        for port in container.get("ports") or []:
            port.setdefault("protocol", "TCP")
    return obj
