"""The HTTP side of the double: the application, its life cycle, faults middleware and dispatch.

Routing and discovery documents are in routing.py, watch streams in watch.py, writes (create, replace,
patch, scale, delete) in writes.py and the /_sandbox control endpoints in admin.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from kubesim import patch as patches
from kubesim.admin import admin
from kubesim.clock import Clock
from kubesim.faults import Faults
from kubesim.resources import table
from kubesim.routing import Route, fixed, resolve, service_proxy
from kubesim.selectors import parse_field_selector, parse_label_selector
from kubesim.stateful import WorkloadControllers
from kubesim.store import ApiError, Store
from kubesim.watch import watch
from kubesim.writes import Writes

log = logging.getLogger("kubesim")
Obj = dict[str, Any]
Handler = Callable[[web.Request, Route], Awaitable[web.StreamResponse]]
TRUE = {"true", "True", "1"}
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


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
        self.writes = Writes(self.store, self.clock)
        # (is the route one object, method) -> handler
        self.handlers: dict[tuple[bool, str], Handler] = {
            (False, "GET"): self._get_collection,
            (False, "POST"): self._post,
            (False, "DELETE"): self._delete_collection,
            (True, "GET"): self._get,
            (True, "PUT"): self._put,
            (True, "PATCH"): self._patch,
            (True, "DELETE"): self._delete,
        }
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
            return await admin(self, request, path)
        if "/proxy" in path and path.startswith("/api/v1/namespaces/"):
            proxied = service_proxy(self.store, path)
            if proxied is not None:
                return proxied
        document = fixed(path, self.address)
        if document is not None:
            return (
                web.json_response(document) if not isinstance(document, str) else web.Response(text=document)
            )
        target = resolve(path)
        handler = self.handlers.get((target.name is not None, request.method))
        if handler is None:
            raise ApiError(
                405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
            )
        return await handler(request, target)

    async def _get_collection(self, request: web.Request, route: Route) -> web.StreamResponse:
        if request.query.get("watch") in TRUE:
            return await watch(request, route, self.store, self.faults, self.streams)
        return self._respond(request, route, self._list(request, route))

    async def _post(self, request: web.Request, route: Route) -> web.StreamResponse:
        return web.json_response(await self.writes.create(request, route), status=201)

    async def _delete_collection(self, request: web.Request, route: Route) -> web.StreamResponse:
        return web.json_response(self.writes.delete_collection(route, self._list(request, route)))

    async def _get(self, request: web.Request, route: Route) -> web.StreamResponse:
        obj = self.store.get(route.resource.id, route.namespace or "", route.name or "")
        if route.subresource == "scale":
            return web.json_response(self.writes.scale_of(route.resource, obj))
        return self._respond(request, route, obj)

    async def _put(self, request: web.Request, route: Route) -> web.StreamResponse:
        return web.json_response(await self.writes.replace(request, route))

    async def _patch(self, request: web.Request, route: Route) -> web.StreamResponse:
        obj, created = await self.writes.patch(request, route)
        return web.json_response(obj, status=201 if created else 200)

    async def _delete(self, request: web.Request, route: Route) -> web.StreamResponse:
        return web.json_response(self.writes.delete(request, route))

    def _respond(self, request: web.Request, route: Route, body: Obj) -> web.Response:
        accept = request.headers.get("Accept", "")
        if "as=Table" in accept:
            items = body.get("items", [body])
            full = request.query.get("includeObject") == "Object"
            return web.json_response(
                table(route.resource, items, self.clock.now(), str(self.store.revision), full)
            )
        return web.json_response(body)

    def _list(self, request: web.Request, route: Route) -> Obj:
        r = route.resource
        items = self.store.select(
            r.id,
            route.namespace if r.namespaced else None,
            parse_label_selector(request.query.get("labelSelector")),
            parse_field_selector(request.query.get("fieldSelector"), r),
        )
        return {
            "kind": f"{r.kind}List",
            "apiVersion": r.api_version,
            "metadata": {"resourceVersion": str(self.store.revision)},
            "items": items,
        }

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
