"""Watch streams: ADDED/MODIFIED/DELETED after a resourceVersion, 410 Gone when compacted away,
timeoutSeconds honoured, closed early on purpose (faults, /_sandbox/drop-watches)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from aiohttp import web

from kubesim.faults import Faults
from kubesim.routing import Route
from kubesim.selectors import parse_field_selector, parse_label_selector
from kubesim.store import ApiError, Store, Watcher

Obj = dict[str, Any]


def _line(kind: str, obj: Obj) -> bytes:
    return json.dumps({"type": kind, "object": obj}).encode() + b"\n"


def _replay(store: Store, watcher: Watcher, since: str) -> list[tuple[str, Obj]] | None:
    """Register ``watcher`` and take what it must see first, in one step (no await between): no event
    is lost or doubled. None when ``since`` is older than the history reaches (nothing registered)."""
    store.watchers.add(watcher)
    if since in ("", "0"):
        objects = store.select(watcher.resource, watcher.namespace, watcher.labels, watcher.fields)
        return [("ADDED", obj) for obj in objects]
    events = store.events_since(int(since))
    if events is None:
        store.watchers.discard(watcher)
        return None
    return [(e.type, e.obj) for e in events if watcher.wants(e)]


async def _next_event(watcher: Watcher, stop: asyncio.Event, remaining: float) -> Any:
    """The watcher's next event; None when the stream is to end (stopped, timed out, or cut off)."""
    getter = asyncio.ensure_future(watcher.queue.get())
    stopper = asyncio.ensure_future(stop.wait())
    done, _ = await asyncio.wait({getter, stopper}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
    for pending in (getter, stopper):
        if pending not in done:
            pending.cancel()
    return getter.result() if getter in done else None


async def _pump(
    response: web.StreamResponse,
    watcher: Watcher,
    replay: list[tuple[str, Obj]],
    stop: asyncio.Event,
    deadline: float,
) -> None:
    for kind, obj in replay:
        await response.write(_line(kind, obj))
    while not stop.is_set():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        event = await _next_event(watcher, stop, remaining)
        if event is None:
            break
        await response.write(_line(event.type, event.obj))


async def watch(
    request: web.Request, route: Route, store: Store, faults: Faults, streams: set[asyncio.Event]
) -> web.StreamResponse:
    watcher = Watcher(
        route.resource.id,
        route.namespace if route.resource.namespaced else None,
        parse_label_selector(request.query.get("labelSelector")),
        parse_field_selector(request.query.get("fieldSelector"), route.resource),
    )
    since = request.query.get("resourceVersion", "")
    replay = _replay(store, watcher, since)
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    if replay is None:
        gone = ApiError(410, "Expired", f"too old resource version: {since} ({store.oldest_revision()})")
        await response.write(json.dumps({"type": "ERROR", "object": gone.status()}).encode() + b"\n")
        return response
    timeout = float(request.query.get("timeoutSeconds") or 1800)
    if faults.watch_close_after is not None and faults.applies(request.path):
        timeout = min(timeout, faults.watch_close_after)
    stop = asyncio.Event()
    streams.add(stop)
    try:
        await _pump(response, watcher, replay, stop, time.monotonic() + timeout)
    except ConnectionResetError:
        pass
    finally:
        streams.discard(stop)
        store.watchers.discard(watcher)
    return response
