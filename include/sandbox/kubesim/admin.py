"""The /_sandbox control endpoints: state, faults, the controller clock, image fates, readiness delay,
dropping watches, compacting the history, and what the server saw (requests, rollout times)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from kubesim.faults import Faults

if TYPE_CHECKING:
    from kubesim.server import KubeServer

Handler = Callable[["KubeServer", web.Request, Any], Awaitable[web.Response]]
FATES = ("ok", "crash", "nopull", "fail")


async def _state(server: KubeServer, request: web.Request, body: Any) -> web.Response:
    return web.json_response(
        {
            "resourceVersion": server.store.revision,
            "objects": len(server.store.objects),
            "watchers": len(server.store.watchers),
            "clock": server.clock.seconds(),
            "faults": server.faults.as_dict(),
            "images": server.controllers.marked_images,
        }
    )


async def _rolled_out(server: KubeServer, request: web.Request, body: Any) -> web.Response:
    """{namespace/name: {generation: wall-clock time}}"""
    return web.json_response(server.rolled_out_at)


async def _requests(server: KubeServer, request: web.Request, body: Any) -> web.Response:
    return web.json_response([list(r) for r in server.requests])


async def _faults(server: KubeServer, request: web.Request, body: Any) -> web.Response:
    if request.method == "DELETE":
        server.faults = Faults()
    else:
        try:
            server.faults = Faults.from_dict(body)
        except (TypeError, ValueError) as error:
            return web.json_response({"error": str(error)}, status=400)
    return web.json_response(server.faults.as_dict())


async def _clock(server: KubeServer, request: web.Request, body: Any) -> web.Response:
    server.clock.advance(float(body.get("advance", 0)))
    server.controllers.tick()
    return web.json_response({"clock": server.clock.seconds()})


async def _images(server: KubeServer, request: web.Request, body: Any) -> web.Response:
    for image, fate in body.items():
        if fate not in FATES:
            return web.json_response({"error": f"unknown fate {fate!r}"}, status=400)
        server.controllers.marked_images[image] = fate
    return web.json_response(server.controllers.marked_images)


async def _ready_delay(server: KubeServer, request: web.Request, body: Any) -> web.Response:
    server.controllers.ready_delay = float(body["seconds"])
    return web.json_response({"ready_delay": server.controllers.ready_delay})


async def _drop_watches(server: KubeServer, request: web.Request, body: Any) -> web.Response:
    count = len(server.streams)
    for stop in list(server.streams):
        stop.set()
    return web.json_response({"closed": count})


async def _compact(server: KubeServer, request: web.Request, body: Any) -> web.Response:
    keep = int(body.get("keep", 0))
    history = server.store.history
    while len(history) > keep:
        history.popleft()
    return web.json_response({"oldest": history[0].resource_version if history else None})


ACTIONS: dict[str, Handler] = {
    "state": _state,
    "rolled-out": _rolled_out,
    "requests": _requests,
    "faults": _faults,
    "clock": _clock,
    "images": _images,
    "ready-delay": _ready_delay,
    "drop-watches": _drop_watches,
    "compact": _compact,
}


async def admin(server: KubeServer, request: web.Request, path: str) -> web.Response:
    action = path.removeprefix("/_sandbox").strip("/")
    body = (await request.json()) if request.can_read_body else {}
    handler = ACTIONS.get(action)
    if handler is None:
        return web.json_response({"error": f"unknown admin call {action!r}"}, status=404)
    return await handler(server, request, body)
