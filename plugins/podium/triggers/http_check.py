"""HttpCheckTrigger: GET a URL, or a Service through the Kubernetes API server's service proxy, until it
answers the expected status or the timeout passes, without holding a worker slot.

A URL is reached from where the trigger runs (the triggerer, or the worker inline) with aiohttp; a
Service through :meth:`podium.hooks.kubernetes.PodiumAsyncKubernetesHook.service_get` (RBAC: ``get``
on ``services/proxy``), so the same check works against any cluster the connection reaches. Every
answer counts, including 503 "no endpoints available" and no answer at all (status 0): the check
keeps asking until the expected status or the timeout. Operators run this same trigger inline
(:func:`podium.triggers.kubernetes.run_inline`) when they do not defer.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

Get = Callable[[], Awaitable[tuple[int, str]]]


class HttpCheckTrigger(BaseTrigger):
    """Fires once: success when ``url`` (or ``service_name`` in ``namespace``, on ``port``, at
    ``path``) answers ``expected_status``; timeout when it has not by ``timeout_at`` (epoch seconds),
    naming the last answer and its body; error when the check cannot run. Not before ``not_before``
    (epoch seconds), if given: see :func:`podium.settings.defer_settle_seconds`.

    Event: ``{"status", "message", "target", "http_status", "attempts"}``; ``http_status`` is the
    last answer's status (0: no answer).
    """

    def __init__(
        self,
        *,
        url: str | None = None,
        service_name: str | None = None,
        namespace: str = "default",
        port: int | str | None = None,
        path: str = "/",
        expected_status: int = 200,
        kubernetes_conn_id: str = "kubernetes_default",
        timeout_at: float,
        poll_interval: float = 2.0,
        request_timeout: float = 10.0,
        not_before: float | None = None,
    ) -> None:
        super().__init__()
        if (url is None) == (service_name is None):
            raise ValueError("give url= or service_name=")
        self.url = url
        self.service_name = service_name
        self.namespace = namespace
        self.port = port
        self.path = path
        self.expected_status = expected_status
        self.kubernetes_conn_id = kubernetes_conn_id
        self.timeout_at = timeout_at
        self.poll_interval = poll_interval
        self.request_timeout = request_timeout
        self.not_before = not_before

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "url": self.url,
                "service_name": self.service_name,
                "namespace": self.namespace,
                "port": self.port,
                "path": self.path,
                "expected_status": self.expected_status,
                "kubernetes_conn_id": self.kubernetes_conn_id,
                "timeout_at": self.timeout_at,
                "poll_interval": self.poll_interval,
                "request_timeout": self.request_timeout,
                "not_before": self.not_before,
            },
        )

    @property
    def target(self) -> str:
        from podium.release.checks import check_target

        return check_target(self.url, self.service_name, self.port, self.path)

    def _event(self, status: str, message: str, http_status: int = 0, attempts: int = 0) -> dict[str, Any]:
        return {
            "status": status,
            "message": message,
            "target": self.target,
            "http_status": http_status,
            "attempts": attempts,
        }

    async def _poll(self, get: Get) -> dict[str, Any]:
        from podium.release.checks import check_failure_message

        started, attempts = time.time(), 0
        while True:
            attempts += 1
            status, body = await get()
            if status == self.expected_status:
                message = f"{self.target} answered {status} (attempt {attempts})"
                return self._event("success", message, status, attempts)
            if time.time() + self.poll_interval > self.timeout_at:
                message = check_failure_message(
                    self.target, status, self.expected_status, attempts, time.time() - started, body
                )
                return self._event("timeout", message, status, attempts)
            self.log.info(
                "%s answered %s; trying again in %ss", self.target, status or "nothing", self.poll_interval
            )
            await asyncio.sleep(self.poll_interval)

    async def _check_url(self, url: str) -> dict[str, Any]:
        # aiohttp takes a moment to import: not on the triggerer's shared event loop
        aiohttp = await asyncio.to_thread(importlib.import_module, "aiohttp")
        timeout = aiohttp.ClientTimeout(total=self.request_timeout)

        async with aiohttp.ClientSession(trust_env=True, timeout=timeout) as session:

            async def get() -> tuple[int, str]:
                try:
                    async with session.get(url) as response:
                        body = await response.content.read(2048)
                        return int(response.status), body.decode("utf-8", "replace")
                except (aiohttp.ClientError, TimeoutError, OSError) as error:
                    return 0, f"{type(error).__name__}: {error}"

            return await self._poll(get)

    async def _check_service(self, service: str) -> dict[str, Any]:
        # The Kubernetes clients take seconds to import: never on the triggerer's shared event loop.
        hooks = await asyncio.to_thread(importlib.import_module, "podium.hooks.kubernetes")
        hook = hooks.PodiumAsyncKubernetesHook(conn_id=self.kubernetes_conn_id)
        async with hook.shared_conn() as api_client:

            async def get() -> tuple[int, str]:
                return await hook.service_get(
                    api_client,
                    service,
                    self.namespace,
                    port=self.port,
                    path=self.path,
                    timeout=self.request_timeout,
                )

            return await self._poll(get)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        try:
            if self.url is not None:
                event = await self._check_url(self.url)
            else:
                assert self.service_name is not None
                event = await self._check_service(self.service_name)
        except Exception as error:  # a trigger turns every failure into an event
            event = self._event("error", f"checking {self.target} failed: {type(error).__name__}: {error}")
        if self.not_before is not None and (hold := self.not_before - time.time()) > 0:
            self.log.info("%s: %s; resuming the task in %.1f s", self.target, event["status"], hold)
            await asyncio.sleep(hold)
        yield TriggerEvent(event)
