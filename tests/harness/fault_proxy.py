"""A faulting HTTP proxy in front of the Kubernetes sandbox, for error-model tests.

Every request is forwarded to the sandbox, except those matching the proxy's rule (method, path
regex, watch or not), which are answered with a chosen HTTP status and a Kubernetes Status body, or
dropped without an answer (status 0). The proxy counts what it faulted, so a test can see whether the
client retried. Real HTTP on loopback: the clients under test are unmodified.
"""

from __future__ import annotations

import asyncio
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from aiohttp import ClientSession, web

TRUE = ("true", "True", "1")


@dataclass
class Rule:
    method: str
    path: str  # a regex over the request path
    watch: bool | None = None  # None: both; True: only watch requests; False: only non-watch
    status: int = 500  # 0: drop the connection without an answer

    def matches(self, request: web.Request) -> bool:
        watching = request.query.get("watch") in TRUE
        return (
            request.method == self.method
            and re.search(self.path, request.path) is not None
            and (self.watch is None or self.watch == watching)
        )


class FaultProxy:
    """``FaultProxy(upstream_url, workdir)``: ``url``, ``kubeconfig``, ``rule``, ``hits``."""

    def __init__(self, upstream: str, upstream_kubeconfig: Path, workdir: Path) -> None:
        self.upstream = upstream.rstrip("/")
        self.rule: Rule | None = None
        self.hits = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        self._ready.wait(10)
        config = yaml.safe_load(upstream_kubeconfig.read_text())
        for cluster in config["clusters"]:
            cluster["cluster"]["server"] = self.url
        self.kubeconfig = workdir / "proxy-kubeconfig.yaml"
        self.kubeconfig.write_text(yaml.safe_dump(config))

    def fault(self, rule: Rule | None) -> None:
        self.rule, self.hits = rule, 0

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        self._session = ClientSession(loop=self._loop)
        self._ready.set()
        self._loop.run_forever()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        rule = self.rule
        if rule is not None and rule.matches(request):
            self.hits += 1
            if rule.status == 0:
                if request.transport is not None:
                    request.transport.abort()
                raise asyncio.CancelledError
            status: dict[str, Any] = {
                "kind": "Status",
                "apiVersion": "v1",
                "status": "Failure",
                "message": f"injected {rule.status}",
                "reason": "Injected",
                "code": rule.status,
            }
            headers = {"Retry-After": "0"} if rule.status == 429 else {}
            return web.json_response(status, status=rule.status, headers=headers)
        body = await request.read()
        async with self._session.request(
            request.method,
            self.upstream + request.path_qs,
            data=body or None,
            headers={k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")},
        ) as upstream:
            data = await upstream.read()
            skip = ("content-length", "transfer-encoding", "content-encoding", "connection")
            return web.Response(
                body=data,
                status=upstream.status,
                headers={k: v for k, v in upstream.headers.items() if k.lower() not in skip},
            )

    def stop(self) -> None:
        async def close() -> None:
            await self._session.close()
            await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
