"""The HTTP side of the double: Kubernetes API routes, watches, subresources, faults and admin calls."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import yaml
from aiohttp import web

from kubesim import patch as patches
from kubesim.clock import Clock
from kubesim.faults import Faults
from kubesim.resources import (
    BY_PATH,
    Resource,
    api_group_list,
    api_resource_list,
    api_versions,
    apply_defaults,
    openapi_document,
    openapi_index,
    table,
)
from kubesim.stateful import WorkloadControllers
from kubesim.store import ApiError, Store, Watcher, parse_field_selector, parse_label_selector
from kubesim.workloads import pod_is_ready

log = logging.getLogger("kubesim")
Obj = dict[str, Any]
TRUE = {"true", "True", "1"}
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


@dataclass
class Route:
    resource: Resource
    namespace: str | None
    name: str | None
    subresource: str | None


class KubeServer:
    def __init__(
        self,
        *,
        ready_delay: float = 2.0,
        speed: float = 1.0,
        nodes: int = 3,
        tick: float = 0.05,
        faults: Faults | None = None,
    ) -> None:
        self.clock = Clock(speed)
        self.store = Store(self.clock.iso)
        self.controllers = WorkloadControllers(self.store, self.clock, ready_delay=ready_delay, nodes=nodes)
        self.faults = faults or Faults()
        self.tick = tick
        self.address = ""
        self.streams: set[asyncio.Event] = set()
        # wall-clock time each Deployment generation was first fully rolled out (for latency benchmarks)
        self.rolled_out_at: dict[str, dict[int, float]] = {}
        self.store.listeners.append(self._note_rollout)
        # (method, path, watch, status, content type) of each API request
        self.requests: list[tuple[str, str, bool, int, str]] = []
        self._next_ip = 10
        self.app = web.Application(middlewares=[self._middleware], client_max_size=32 * 1024 * 1024)
        self.app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self.app.on_startup.append(self._start_controllers)
        self.app.on_cleanup.append(self._stop_controllers)
        self._seed()

    # -- life cycle ------------------------------------------------------------------------------

    def _seed(self) -> None:
        for namespace in SYSTEM_NAMESPACES:
            self.store.create(
                "/namespaces",
                "",
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {"name": namespace},
                    "status": {"phase": "Active"},
                },
            )
        self.store.create(
            "/serviceaccounts",
            "default",
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}},
        )
        for node in self.controllers.node_names:
            self.store.create(
                "/nodes",
                "",
                {
                    "apiVersion": "v1",
                    "kind": "Node",
                    "metadata": {"name": node, "labels": {"kubernetes.io/hostname": node}},
                    "status": {"conditions": [{"type": "Ready", "status": "True"}]},
                },
            )

    async def _start_controllers(self, _app: web.Application) -> None:
        self._loop_task = asyncio.create_task(self._control_loop())

    async def _stop_controllers(self, _app: web.Application) -> None:
        self._loop_task.cancel()
        for stop in list(self.streams):
            stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await self._loop_task

    async def _control_loop(self) -> None:
        while True:
            try:
                self.controllers.tick()
            except Exception:  # a controller bug must not stop the server
                log.exception("controller pass failed")
            await asyncio.sleep(self.tick)

    # -- middleware: faults and errors -----------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        faults = self.faults
        if not request.path.startswith("/_sandbox") and faults.applies(request.path):
            if faults.latency_ms:
                await asyncio.sleep(faults.latency_ms / 1000)
            if faults.roll(faults.drop_rate):
                if request.transport is not None:
                    request.transport.abort()
                raise asyncio.CancelledError
            if faults.roll(faults.error_rate):
                status = faults.error_status
                error = ApiError(
                    status,
                    "TooManyRequests" if status == 429 else "InternalError",
                    "injected fault: please retry" if status == 429 else "injected fault",
                    {"retryAfterSeconds": faults.retry_after} if status == 429 else {},
                )
                headers = {"Retry-After": str(faults.retry_after)} if status == 429 else {}
                return web.json_response(error.status(), status=status, headers=headers)
        try:
            response = await handler(request)
            if not request.path.startswith("/_sandbox"):
                self.requests.append(
                    (
                        request.method,
                        request.path.rstrip("/"),
                        request.query.get("watch") in TRUE,
                        response.status,
                        request.content_type if request.body_exists else "",
                    )
                )
            if not response.prepared:  # the API server's clock is the controllers' clock
                response.headers["Date"] = self.clock.now().strftime("%a, %d %b %Y %H:%M:%S GMT")
            return response
        except ApiError as error:
            return web.json_response(error.status(), status=error.code)
        except patches.PatchError as error:
            return web.json_response(ApiError(422, "Invalid", str(error)).status(), status=422)

    # -- dispatch --------------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        if path.startswith("/_sandbox"):
            return await self._admin(request, path)
        if "/proxy" in path and path.startswith("/api/v1/namespaces/"):
            proxied = self._service_proxy(path)
            if proxied is not None:
                return proxied
        fixed = self._fixed(path)
        if fixed is not None:
            return web.json_response(fixed) if not isinstance(fixed, str) else web.Response(text=fixed)
        route = self._route(path)
        method = request.method
        if route.name is None:
            if method == "GET":
                if request.query.get("watch") in TRUE:
                    return await self._watch(request, route)
                return self._respond(request, route.resource, self._list(request, route))
            if method == "POST":
                return web.json_response(await self._create(request, route), status=201)
            if method == "DELETE":
                return web.json_response(self._delete_collection(request, route))
        else:
            if method == "GET":
                obj = self.store.get(route.resource.id, route.namespace or "", route.name)
                if route.subresource == "scale":
                    return web.json_response(self._scale_of(route.resource, obj))
                return self._respond(request, route.resource, obj)
            if method == "PUT":
                return web.json_response(await self._replace(request, route))
            if method == "PATCH":
                obj, created = await self._patch(request, route)
                return web.json_response(obj, status=201 if created else 200)
            if method == "DELETE":
                return web.json_response(self._delete(request, route))
        raise ApiError(
            405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
        )

    def _service_proxy(self, path: str) -> web.Response | None:
        """``/api/v1/namespaces/NS/services/[scheme:]NAME[:port]/proxy/...``: what the pods behind the
        Service would answer. 503 with no ready endpoint (as the API server says it), 500 when a ready
        pod runs an image whose tag ends in ``-unhealthy`` (a health check to fail), else 200."""
        parts = path.split("/")
        if len(parts) < 8 or parts[5] != "services" or parts[7] != "proxy":
            return None
        namespace, target = parts[4], parts[6]
        pieces = target.split(":")
        name = pieces[1] if len(pieces) == 3 else pieces[0]
        service = self.store.get("/services", namespace, name)
        selector = (service.get("spec") or {}).get("selector") or {}
        pods = [
            p
            for p in self.store.select("/pods", namespace)
            if selector
            and all((p["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())
            and pod_is_ready(p)
            and not p["metadata"].get("deletionTimestamp")
        ]
        if not pods:
            error = ApiError(503, "ServiceUnavailable", f'no endpoints available for service "{target}"')
            return web.json_response(error.status(), status=503)
        images = sorted(
            {c.get("image", "") for p in pods for c in (p.get("spec") or {}).get("containers") or []}
        )
        sick = [i for i in images if i.rsplit(":", 1)[-1].endswith("-unhealthy")]
        body = {"service": name, "path": "/" + "/".join(parts[8:]), "readyPods": len(pods), "images": images}
        if sick:
            return web.json_response({**body, "status": "unhealthy", "unhealthy": sick}, status=500)
        return web.json_response({**body, "status": "ok"})

    def _fixed(self, path: str) -> Any:
        if path == "/version":
            return {
                "major": "1",
                "minor": "32",
                "gitVersion": "v1.32.0-podium-sandbox",
                "platform": "linux/amd64",
                "gitCommit": "podium",
                "gitTreeState": "clean",
                "buildDate": "2026-01-01T00:00:00Z",
                "goVersion": "go1.23",
                "compiler": "gc",
            }
        if path in ("/healthz", "/readyz", "/livez"):
            return "ok"
        if path == "/api":
            return api_versions(self.address)
        if path == "/apis":
            return api_group_list()
        if path == "/openapi/v3":
            return openapi_index()
        if path.startswith("/openapi/v3/"):
            parts = path.split("/")[3:]
            doc = (
                openapi_document("", parts[1])
                if parts[0] == "api"
                else (openapi_document(parts[1], parts[2]) if len(parts) == 3 else None)
            )
            if doc is None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            return doc
        parts = path.split("/")[1:]
        if (parts[0] == "api" and len(parts) == 2) or (parts[0] == "apis" and len(parts) == 3):
            group, version = ("", parts[1]) if parts[0] == "api" else (parts[1], parts[2])
            listing = api_resource_list(group, version)
            if listing is None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            return listing
        return None

    def _route(self, path: str) -> Route:
        parts = path.split("/")[1:]
        if parts[0] == "api" and len(parts) >= 3:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[0] == "apis" and len(parts) >= 4:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        namespace = None
        if (
            rest[0] == "namespaces"
            and len(rest) >= 3
            and not (group == "" and rest[2] in ("status", "finalize"))
        ):
            namespace, rest = rest[1], rest[2:]
        resource = BY_PATH.get((group, version, rest[0]))
        if resource is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) > 1 else None
        subresource = rest[2] if len(rest) > 2 else None
        if subresource and subresource not in resource.subresources:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if resource.namespaced and name is not None and namespace is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return Route(resource, namespace if resource.namespaced else "", name, subresource)

    def _respond(self, request: web.Request, resource: Resource, body: Obj) -> web.Response:
        accept = request.headers.get("Accept", "")
        if "as=Table" in accept:
            items = body.get("items", [body])
            full = request.query.get("includeObject") == "Object"
            return web.json_response(table(resource, items, self.clock.now(), str(self.store.revision), full))
        return web.json_response(body)

    # -- reads -----------------------------------------------------------------------------------

    def _list(self, request: web.Request, route: Route) -> Obj:
        items = self.store.select(
            route.resource.id,
            route.namespace if route.resource.namespaced else None,
            parse_label_selector(request.query.get("labelSelector")),
            parse_field_selector(request.query.get("fieldSelector")),
        )
        r = route.resource
        return {
            "kind": f"{r.kind}List",
            "apiVersion": r.api_version,
            "metadata": {"resourceVersion": str(self.store.revision)},
            "items": items,
        }

    async def _watch(self, request: web.Request, route: Route) -> web.StreamResponse:
        watcher = Watcher(
            route.resource.id,
            route.namespace if route.resource.namespaced else None,
            parse_label_selector(request.query.get("labelSelector")),
            parse_field_selector(request.query.get("fieldSelector")),
        )
        since = request.query.get("resourceVersion", "")
        # register and take the replay in one step (no await between): no event is lost or doubled
        self.store.watchers.add(watcher)
        if since in ("", "0"):
            replay = [
                ("ADDED", obj)
                for obj in self.store.select(
                    watcher.resource, watcher.namespace, watcher.labels, watcher.fields
                )
            ]
        else:
            events = self.store.events_since(int(since))
            if events is None:
                self.store.watchers.discard(watcher)
                replay = None
            else:
                replay = [(e.type, e.obj) for e in events if watcher.wants(e)]
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        if replay is None:
            gone = ApiError(
                410, "Expired", f"too old resource version: {since} ({self.store.oldest_revision()})"
            )
            await response.write(json.dumps({"type": "ERROR", "object": gone.status()}).encode() + b"\n")
            return response
        timeout = float(request.query.get("timeoutSeconds") or 1800)
        if self.faults.watch_close_after is not None and self.faults.applies(request.path):
            timeout = min(timeout, self.faults.watch_close_after)
        deadline = time.monotonic() + timeout
        stop = asyncio.Event()
        self.streams.add(stop)
        try:
            for kind, obj in replay:
                await response.write(json.dumps({"type": kind, "object": obj}).encode() + b"\n")
            while not stop.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                getter = asyncio.ensure_future(watcher.queue.get())
                stopper = asyncio.ensure_future(stop.wait())
                done, _ = await asyncio.wait(
                    {getter, stopper}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
                )
                for pending in (getter, stopper):
                    if pending not in done:
                        pending.cancel()
                if getter not in done:
                    break
                event = getter.result()
                if event is None:
                    break
                await response.write(json.dumps({"type": event.type, "object": event.obj}).encode() + b"\n")
        except ConnectionResetError:
            pass
        finally:
            self.streams.discard(stop)
            self.store.watchers.discard(watcher)
        return response

    # -- writes ----------------------------------------------------------------------------------

    async def _body(self, request: web.Request) -> Any:
        raw = await request.read()
        content_type = request.content_type
        if "protobuf" in content_type:
            raise ApiError(415, "UnsupportedMediaType", "the sandbox speaks JSON and YAML, not protobuf")
        try:
            return yaml.safe_load(raw) if "yaml" in content_type else json.loads(raw or b"null")
        except (ValueError, yaml.YAMLError) as error:
            raise ApiError(400, "BadRequest", f"cannot decode the request body: {error}") from error

    def _check_namespace(self, route: Route) -> None:
        if route.resource.namespaced and self.store.find("/namespaces", "", route.namespace or "") is None:
            raise ApiError(
                404,
                "NotFound",
                f'namespaces "{route.namespace}" not found',
                {"name": route.namespace, "kind": "namespaces"},
            )

    def _prepare_new(self, route: Route, obj: Obj) -> Obj:
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
            spec = obj.setdefault("spec", {})
            if not spec.get("clusterIP"):
                self._next_ip += 1
                spec["clusterIP"] = f"10.96.{self._next_ip // 250}.{self._next_ip % 250}"
                spec["clusterIPs"] = [spec["clusterIP"]]
        if r.kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job") and not obj.get(
            "spec", {}
        ).get("template"):
            raise ApiError(
                422,
                "Invalid",
                f'{r.kind}.{r.group} "{obj["metadata"].get("name")}" is invalid: '
                "spec.template: Required value",
            )
        return apply_defaults(r, obj)

    def _manage(self, obj: Obj, manager: str | None, operation: str) -> None:
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

    async def _create(self, request: web.Request, route: Route) -> Obj:
        self._check_namespace(route)
        obj = self._prepare_new(route, await self._body(request))
        self._manage(obj, request.query.get("fieldManager"), "Update")
        if request.query.get("dryRun") == "All":
            return obj
        return self.store.create(route.resource.id, route.namespace or "", obj)

    async def _replace(self, request: web.Request, route: Route) -> Obj:
        body = await self._body(request)
        current = self.store.get(route.resource.id, route.namespace or "", route.name or "")
        if route.subresource == "scale":
            return self._write_scale(route, current, body)
        if not isinstance(body, dict) or body.get("metadata", {}).get("name") != route.name:
            raise ApiError(400, "BadRequest", "the name of the object does not match the name on the URL")
        obj = body if route.subresource == "status" else apply_defaults(route.resource, copy.deepcopy(body))
        obj = {**obj, "apiVersion": route.resource.api_version, "kind": route.resource.kind}
        if request.query.get("dryRun") == "All":
            return {**current, **{k: v for k, v in obj.items() if k != "metadata"}}
        return self.store.update(route.resource.id, route.namespace or "", obj, subresource=route.subresource)

    async def _patch(self, request: web.Request, route: Route) -> tuple[Obj, bool]:
        body = await self._body(request)
        content_type = request.content_type
        key = (route.resource.id, route.namespace or "", route.name or "")
        current = self.store.find(*key)
        dry_run = request.query.get("dryRun") == "All"
        manager = request.query.get("fieldManager")
        if content_type == "application/apply-patch+yaml":
            if route.subresource:
                raise ApiError(415, "UnsupportedMediaType", "apply patches on subresources are not simulated")
            if not manager:
                raise ApiError(422, "Invalid", "fieldManager: Required value: is required for apply patch")
            if current is None:
                self._check_namespace(route)
                obj = self._prepare_new(route, body)
                obj["metadata"]["name"] = route.name
                self._manage(obj, manager, "Apply")
                if dry_run:
                    return obj, True
                created = self.store.create(route.resource.id, route.namespace or "", obj)
                self.store.applied[(created["metadata"]["uid"], manager)] = copy.deepcopy(body)
                return created, True
            last = self.store.applied.get((current["metadata"]["uid"], manager))
            merged = patches.apply(current, last, body)
            merged["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            self._manage(merged, manager, "Apply")
            result = self._store_patched(route, current, merged, dry_run)
            if not dry_run:
                self.store.applied[(current["metadata"]["uid"], manager)] = copy.deepcopy(body)
            return result, False
        if current is None:
            self.store.get(*key)  # raises NotFound
            raise AssertionError("unreachable")
        if route.subresource == "scale":
            scale = self._scale_of(route.resource, current)
            return self._write_scale(
                route, current, self._apply_patch(content_type, scale, body), dry_run
            ), False
        target = current
        patched = self._apply_patch(content_type, target, body)
        if route.subresource != "status":
            self._manage(patched, manager, "Update")
        return self._store_patched(route, current, patched, dry_run), False

    def _apply_patch(self, content_type: str, target: Obj, body: Any) -> Obj:
        if content_type == "application/json-patch+json":
            result = patches.json_patch(target, body)
        elif content_type == "application/merge-patch+json":
            result = patches.merge_patch(target, body)
        elif content_type == "application/strategic-merge-patch+json":
            result = patches.strategic_merge(target, body)
        else:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format: "
                "accepted media types include: application/json-patch+json, "
                "application/merge-patch+json, application/apply-patch+yaml, "
                "application/strategic-merge-patch+json",
            )
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

    def _scale_of(self, resource: Resource, obj: Obj) -> Obj:
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

    def _write_scale(self, route: Route, current: Obj, scale: Any, dry_run: bool = False) -> Obj:
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
        return self._scale_of(route.resource, updated)

    def _delete(self, request: web.Request, route: Route) -> Obj:
        key = (route.resource.id, route.namespace or "", route.name or "")
        if request.query.get("dryRun") == "All":
            return self.store.get(*key)
        if route.resource.id == "/namespaces":
            for resource, namespace, name in [k for k in self.store.objects if k[1] == route.name]:
                if (resource, namespace, name) in self.store.objects:
                    self.store.delete(resource, namespace, name)
        return self.store.delete(*key)

    def _delete_collection(self, request: web.Request, route: Route) -> Obj:
        listing = self._list(request, route)
        for obj in listing["items"]:
            if self.store.find(
                route.resource.id, obj["metadata"].get("namespace", ""), obj["metadata"]["name"]
            ):
                self.store.delete(
                    route.resource.id, obj["metadata"].get("namespace", ""), obj["metadata"]["name"]
                )
        return listing

    def _note_rollout(self, event: Any) -> None:
        """Record when a Deployment's status first shows its generation fully rolled out."""
        if event.resource != "apps/deployments" or event.type == "DELETED":
            return
        obj, status = event.obj, event.obj.get("status") or {}
        generation = int(obj["metadata"].get("generation", 1))
        replicas = int(obj["spec"].get("replicas", 1))
        done = (
            int(status.get("observedGeneration", 0)) >= generation
            and status.get("updatedReplicas", 0) == replicas == status.get("replicas", 0)
            and status.get("availableReplicas", 0) == replicas
        )
        if done:
            key = f"{obj['metadata']['namespace']}/{obj['metadata']['name']}"
            self.rolled_out_at.setdefault(key, {}).setdefault(generation, time.time())

    # -- admin -------------------------------------------------------------------------------------

    async def _admin(self, request: web.Request, path: str) -> web.Response:
        action = path.removeprefix("/_sandbox").strip("/")
        body = (await request.json()) if request.can_read_body else {}
        if action == "state":
            return web.json_response(
                {
                    "resourceVersion": self.store.revision,
                    "objects": len(self.store.objects),
                    "watchers": len(self.store.watchers),
                    "clock": self.clock.seconds(),
                    "faults": self.faults.as_dict(),
                    "images": self.controllers.marked_images,
                }
            )
        if action == "rolled-out":  # {namespace/name: {generation: wall-clock time}}
            return web.json_response(self.rolled_out_at)
        if action == "requests":
            return web.json_response([list(r) for r in self.requests])
        if action == "faults":
            if request.method == "DELETE":
                self.faults = Faults()
            else:
                try:
                    self.faults = Faults.from_dict(body)
                except (TypeError, ValueError) as error:
                    return web.json_response({"error": str(error)}, status=400)
            return web.json_response(self.faults.as_dict())
        if action == "clock":
            self.clock.advance(float(body.get("advance", 0)))
            self.controllers.tick()
            return web.json_response({"clock": self.clock.seconds()})
        if action == "images":
            for image, fate in body.items():
                if fate not in ("ok", "crash", "nopull", "fail"):
                    return web.json_response({"error": f"unknown fate {fate!r}"}, status=400)
                self.controllers.marked_images[image] = fate
            return web.json_response(self.controllers.marked_images)
        if action == "ready-delay":
            self.controllers.ready_delay = float(body["seconds"])
            return web.json_response({"ready_delay": self.controllers.ready_delay})
        if action == "drop-watches":
            count = len(self.streams)
            for stop in list(self.streams):
                stop.set()
            return web.json_response({"closed": count})
        if action == "compact":
            keep = int(body.get("keep", 0))
            while len(self.store.history) > keep:
                self.store.history.popleft()
            return web.json_response(
                {"oldest": self.store.history[0].resource_version if self.store.history else None}
            )
        return web.json_response({"error": f"unknown admin call {action!r}"}, status=404)
