"""Writes: create (POST), replace (PUT), the four patch types (server-side apply included), /scale
and delete, with dry runs, field managers and optimistic concurrency."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import yaml
from aiohttp import web

from kubesim import patch as patches
from kubesim import quota
from kubesim.clock import Clock
from kubesim.defaults import apply_defaults
from kubesim.resources import Resource
from kubesim.routing import Route
from kubesim.store import ApiError, Store

Obj = dict[str, Any]
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job")
PATCHERS = {
    "application/json-patch+json": patches.json_patch,
    "application/merge-patch+json": patches.merge_patch,
    "application/strategic-merge-patch+json": patches.strategic_merge,
}


class Writes:
    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self._next_ip = 10

    # -- request bodies and new objects --------------------------------------------------------------

    async def body(self, request: web.Request) -> Any:
        raw = await request.read()
        content_type = request.content_type
        if "protobuf" in content_type:
            raise ApiError(415, "UnsupportedMediaType", "the sandbox speaks JSON and YAML, not protobuf")
        try:
            return yaml.safe_load(raw) if "yaml" in content_type else json.loads(raw or b"null")
        except (ValueError, yaml.YAMLError) as error:
            raise ApiError(400, "BadRequest", f"cannot decode the request body: {error}") from error

    def check_namespace(self, route: Route) -> None:
        if route.resource.namespaced and self.store.find("/namespaces", "", route.namespace or "") is None:
            raise ApiError(
                404,
                "NotFound",
                f'namespaces "{route.namespace}" not found',
                {"name": route.namespace, "kind": "namespaces"},
            )

    def prepare_new(self, route: Route, obj: Obj) -> Obj:
        if not isinstance(obj, dict):
            raise ApiError(400, "BadRequest", "the request body must be an object")
        r = route.resource
        if obj.get("kind") not in (None, r.kind):
            raise ApiError(
                400, "BadRequest", f"the kind {obj.get('kind')!r} does not match the URL ({r.kind})"
            )
        obj = {**copy.deepcopy(obj), "apiVersion": r.api_version, "kind": r.kind}
        obj.setdefault("metadata", {})
        if route.namespace and obj["metadata"].get("namespace", route.namespace) != route.namespace:
            raise ApiError(
                400, "BadRequest", "the namespace of the object does not match the namespace of the URL"
            )
        for key in ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields"):
            obj["metadata"].pop(key, None)
        if r.kind == "Service":
            self._allocate_cluster_ip(obj)
        if r.kind in WORKLOAD_KINDS and not obj.get("spec", {}).get("template"):
            raise ApiError(
                422,
                "Invalid",
                f'{r.kind}.{r.group} "{obj["metadata"].get("name")}" is invalid: '
                "spec.template: Required value",
            )
        return apply_defaults(r, obj)

    def _allocate_cluster_ip(self, obj: Obj) -> None:
        spec = obj.setdefault("spec", {})
        if not spec.get("clusterIP"):
            self._next_ip += 1
            spec["clusterIP"] = f"10.96.{self._next_ip // 250}.{self._next_ip % 250}"
            spec["clusterIPs"] = [spec["clusterIP"]]

    def manage(self, obj: Obj, manager: str | None, operation: str) -> None:
        if not manager:
            return
        entries = [
            e
            for e in obj["metadata"].get("managedFields") or []
            if not (e.get("manager") == manager and e.get("operation") == operation)
        ]
        entries.append(
            {
                "manager": manager,
                "operation": operation,
                "apiVersion": obj.get("apiVersion"),
                "time": self.clock.iso(),
                "fieldsType": "FieldsV1",
                "fieldsV1": {},
            }
        )
        obj["metadata"]["managedFields"] = entries

    # -- POST, PUT -------------------------------------------------------------------------------------

    async def create(self, request: web.Request, route: Route) -> Obj:
        self.check_namespace(route)
        obj = self.prepare_new(route, await self.body(request))
        meta = obj["metadata"]
        if not meta.get("name") and meta.get("generateName"):  # named before admission, as the server does
            meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
        quota.admit(self.store, route.resource.id, route.namespace or "", meta.get("name", ""))
        self.manage(obj, request.query.get("fieldManager"), "Update")
        if request.query.get("dryRun") == "All":
            return obj
        return self.store.create(route.resource.id, route.namespace or "", obj)

    async def replace(self, request: web.Request, route: Route) -> Obj:
        body = await self.body(request)
        current = self.store.get(route.resource.id, route.namespace or "", route.name or "")
        if route.subresource == "scale":
            return self.write_scale(route, current, body)
        if not isinstance(body, dict) or body.get("metadata", {}).get("name") != route.name:
            raise ApiError(400, "BadRequest", "the name of the object does not match the name on the URL")
        obj = body if route.subresource == "status" else apply_defaults(route.resource, copy.deepcopy(body))
        obj = {**obj, "apiVersion": route.resource.api_version, "kind": route.resource.kind}
        if request.query.get("dryRun") == "All":
            return {**current, **{k: v for k, v in obj.items() if k != "metadata"}}
        return self.store.update(route.resource.id, route.namespace or "", obj, subresource=route.subresource)

    # -- PATCH -----------------------------------------------------------------------------------------

    async def patch(self, request: web.Request, route: Route) -> tuple[Obj, bool]:
        """The patched (or, by server-side apply, created) object, and whether it was created."""
        body = await self.body(request)
        content_type = request.content_type
        key = (route.resource.id, route.namespace or "", route.name or "")
        current = self.store.find(*key)
        dry_run = request.query.get("dryRun") == "All"
        manager = request.query.get("fieldManager")
        if content_type == "application/apply-patch+yaml":
            return self._server_side_apply(route, current, body, manager, dry_run)
        if current is None:
            self.store.get(*key)  # raises NotFound
            raise AssertionError("unreachable")
        if route.subresource == "scale":
            scale = self.scale_of(route.resource, current)
            return self.write_scale(
                route, current, self._apply_patch(content_type, scale, body), dry_run
            ), False
        patched = self._apply_patch(content_type, current, body)
        if route.subresource != "status":
            self.manage(patched, manager, "Update")
        return self._store_patched(route, current, patched, dry_run), False

    def _server_side_apply(
        self, route: Route, current: Obj | None, body: Any, manager: str | None, dry_run: bool
    ) -> tuple[Obj, bool]:
        if route.subresource:
            raise ApiError(415, "UnsupportedMediaType", "apply patches on subresources are not simulated")
        if not manager:
            raise ApiError(422, "Invalid", "fieldManager: Required value: is required for apply patch")
        if current is None:
            self.check_namespace(route)
            obj = self.prepare_new(route, body)
            obj["metadata"]["name"] = route.name
            quota.admit(self.store, route.resource.id, route.namespace or "", route.name or "")
            self.manage(obj, manager, "Apply")
            if dry_run:
                return obj, True
            created = self.store.create(route.resource.id, route.namespace or "", obj)
            self.store.applied[(created["metadata"]["uid"], manager)] = copy.deepcopy(body)
            return created, True
        last = self.store.applied.get((current["metadata"]["uid"], manager))
        merged = patches.apply(current, last, body)
        merged["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        self.manage(merged, manager, "Apply")
        result = self._store_patched(route, current, merged, dry_run)
        if not dry_run:
            self.store.applied[(current["metadata"]["uid"], manager)] = copy.deepcopy(body)
        return result, False

    def _apply_patch(self, content_type: str, target: Obj, body: Any) -> Obj:
        patcher = PATCHERS.get(content_type)
        if patcher is None:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format: "
                "accepted media types include: application/json-patch+json, "
                "application/merge-patch+json, application/apply-patch+yaml, "
                "application/strategic-merge-patch+json",
            )
        result = patcher(target, body)
        if not isinstance(result, dict):
            raise ApiError(422, "Invalid", "the patch did not produce an object")
        return result

    def _store_patched(self, route: Route, current: Obj, patched: Obj, dry_run: bool) -> Obj:
        if patched.get("metadata", {}).get("name") != current["metadata"]["name"]:
            raise ApiError(422, "Invalid", "metadata.name: Invalid value: field is immutable")
        if route.subresource != "status":
            patched = apply_defaults(route.resource, patched)
        return self.store.update(
            route.resource.id, route.namespace or "", patched, subresource=route.subresource, dry_run=dry_run
        )

    # -- /scale ----------------------------------------------------------------------------------------

    def scale_of(self, resource: Resource, obj: Obj) -> Obj:
        meta = obj["metadata"]
        selector = (obj["spec"].get("selector") or {}).get("matchLabels") or {}
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                k: meta[k]
                for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                if k in meta
            },
            "spec": {"replicas": int(obj["spec"].get("replicas", 1))},
            "status": {
                "replicas": int((obj.get("status") or {}).get("replicas", 0)),
                "selector": ",".join(f"{k}={v}" for k, v in sorted(selector.items())),
            },
        }

    def write_scale(self, route: Route, current: Obj, scale: Any, dry_run: bool = False) -> Obj:
        try:
            replicas = int(scale["spec"]["replicas"])
        except (KeyError, TypeError, ValueError) as error:
            raise ApiError(422, "Invalid", "spec.replicas: Required value") from error
        if replicas < 0:
            raise ApiError(
                422,
                "Invalid",
                f"spec.replicas: Invalid value: {replicas}: must be greater than or equal to 0",
            )
        expected = (scale.get("metadata") or {}).get("resourceVersion")
        updated = {**current, "spec": {**current["spec"], "replicas": replicas}}
        updated["metadata"] = {
            **current["metadata"],
            "resourceVersion": expected or current["metadata"]["resourceVersion"],
        }
        if not dry_run:
            updated = self.store.update(route.resource.id, route.namespace or "", updated)
        return self.scale_of(route.resource, updated)

    # -- DELETE ----------------------------------------------------------------------------------------

    def delete(self, request: web.Request, route: Route) -> Obj:
        key = (route.resource.id, route.namespace or "", route.name or "")
        if request.query.get("dryRun") == "All":
            return self.store.get(*key)
        if route.resource.id == "/namespaces":
            for resource, namespace, name in [k for k in self.store.objects if k[1] == route.name]:
                if (resource, namespace, name) in self.store.objects:
                    self.store.delete(resource, namespace, name)
        return self.store.delete(*key)

    def delete_collection(self, route: Route, listing: Obj) -> Obj:
        for obj in listing["items"]:
            namespace, name = obj["metadata"].get("namespace", ""), obj["metadata"]["name"]
            if self.store.find(route.resource.id, namespace, name):
                self.store.delete(route.resource.id, namespace, name)
        return listing
