"""Kubernetes hooks for podium, on the cncf.kubernetes provider's connection type.

``PodiumKubernetesHook`` (sync) writes: server-side apply with field manager ``podium``, patches,
scale. ``PodiumAsyncKubernetesHook`` (async) reads what rollout verdicts need and watches workloads.
Both read the same Airflow connection as the provider's hooks (in-cluster, kubeconfig path or inline
kubeconfig, context, namespace), so an existing ``kubernetes_default`` works unchanged. Every API call
goes through :func:`podium.kube.errors.decide` with the hook's :class:`~podium.kube.errors.RetryPolicy`:
passing faults (no answer, 429 honouring Retry-After, 500/502/503/504) are retried with bounded
backoff and then raised as TransientError; everything else fails at once as PermanentError with the
server's message.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import time
from collections.abc import AsyncIterator, Callable
from email.utils import parsedate_to_datetime
from functools import cached_property
from typing import Any, TypeVar

from airflow.providers.cncf.kubernetes.hooks.kubernetes import AsyncKubernetesHook, KubernetesHook

from podium.kube.errors import KubeApiError, RetryPolicy, decide

T = TypeVar("T")
Obj = dict[str, Any]
FIELD_MANAGER = "podium"

# kind -> (API class, read method, list method) for the async reader
_READERS = {
    "Deployment": ("AppsV1Api", "read_namespaced_deployment", "list_namespaced_deployment"),
    "StatefulSet": ("AppsV1Api", "read_namespaced_stateful_set", "list_namespaced_stateful_set"),
    "DaemonSet": ("AppsV1Api", "read_namespaced_daemon_set", "list_namespaced_daemon_set"),
    "ReplicaSet": ("AppsV1Api", "read_namespaced_replica_set", "list_namespaced_replica_set"),
    "ControllerRevision": (
        "AppsV1Api",
        "read_namespaced_controller_revision",
        "list_namespaced_controller_revision",
    ),
    "Pod": ("CoreV1Api", "read_namespaced_pod", "list_namespaced_pod"),
    "Event": ("CoreV1Api", "read_namespaced_event", "list_namespaced_event"),
    "Job": ("BatchV1Api", "read_namespaced_job", "list_namespaced_job"),
}


class PodiumKubernetesHook(KubernetesHook):
    """The provider's KubernetesHook plus podium's retried, generic (any kind) API calls."""

    hook_name = "Kubernetes (podium)"

    def __init__(
        self,
        conn_id: str | None = KubernetesHook.default_conn_name,
        *,
        retry_policy: RetryPolicy | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(conn_id=conn_id, **kwargs)
        self.retry_policy = retry_policy or RetryPolicy()

    @cached_property
    def dynamic(self) -> Any:
        from kubernetes.dynamic import DynamicClient

        return self.call("discover", "API resources", None, lambda: DynamicClient(self.api_client))

    def call(self, verb: str, resource: str, namespace: str | None, fn: Callable[[], T]) -> T:
        """Run one API call with podium's retry policy."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        attempt = 0
        while True:
            try:
                return fn()
            except ApiException as error:
                if error.status is None:
                    failure = KubeApiError(0, str(error.reason))
                else:
                    retry_after = (error.headers or {}).get("Retry-After") if error.headers else None
                    failure = KubeApiError.from_response(error.status, error.body, retry_after)
            except (HTTPError, OSError) as error:
                failure = KubeApiError.no_answer(error)
            decision = decide(
                failure,
                attempt=attempt,
                verb=verb,
                resource=resource,
                namespace=namespace,
                policy=self.retry_policy,
            )
            if not decision.retry:
                raise decision.error() from failure
            self.log.warning(
                "Kubernetes API: %s %s failed (%s); retrying in %.1fs",
                verb,
                resource,
                failure.status or "no answer",
                decision.delay,
            )
            time.sleep(decision.delay)
            attempt += 1

    def resource(self, api_version: str, kind: str) -> Any:
        return self.call(
            "discover",
            f"{kind} ({api_version})",
            None,
            lambda: self.dynamic.resources.get(api_version=api_version, kind=kind),
        )

    def get(self, api_version: str, kind: str, name: str, namespace: str | None) -> Obj | None:
        """The object, or None when it does not exist."""
        from kubernetes.dynamic.exceptions import NotFoundError

        resource = self.resource(api_version, kind)

        def read() -> Obj | None:
            try:
                return resource.get(name=name, namespace=namespace).to_dict()
            except NotFoundError:
                return None

        return self.call("get", f"{kind.lower()}/{name}", namespace, read)

    def list(
        self, api_version: str, kind: str, namespace: str | None, label_selector: str | None = None
    ) -> list[Obj]:
        resource = self.resource(api_version, kind)
        listing = self.call(
            "list",
            kind.lower(),
            namespace,
            lambda: resource.get(namespace=namespace, label_selector=label_selector).to_dict(),
        )
        return listing.get("items") or []

    def apply(self, doc: Obj, *, dry_run: bool = False) -> Obj:
        """Server-side apply as field manager ``podium`` (forcing ownership of the fields it sets)."""
        meta = doc["metadata"]
        resource = self.resource(doc["apiVersion"], doc["kind"])
        extra = {"dry_run": "All"} if dry_run else {}
        return self.call(
            "patch",
            f"{doc['kind'].lower()}/{meta['name']}",
            meta.get("namespace"),
            lambda: resource.server_side_apply(
                body=doc,
                name=meta["name"],
                namespace=meta.get("namespace"),
                field_manager=FIELD_MANAGER,
                force_conflicts=True,
                **extra,
            ).to_dict(),
        )

    def patch(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None,
        body: Any,
        content_type: str = "application/strategic-merge-patch+json",
    ) -> Obj:
        resource = self.resource(api_version, kind)
        return self.call(
            "patch",
            f"{kind.lower()}/{name}",
            namespace,
            lambda: resource.patch(
                body=body,
                name=name,
                namespace=namespace,
                content_type=content_type,
                field_manager=FIELD_MANAGER,
            ).to_dict(),
        )

    def scale(self, api_version: str, kind: str, name: str, namespace: str | None, replicas: int) -> Obj:
        """Set replicas through the /scale subresource."""
        scale = self.resource(api_version, kind).subresources["scale"]
        return self.call(
            "patch",
            f"{kind.lower()}/{name}/scale",
            namespace,
            lambda: scale.patch(
                body={"spec": {"replicas": replicas}},
                name=name,
                namespace=namespace,
                content_type="application/merge-patch+json",
            ).to_dict(),
        )

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None) -> None:
        from kubernetes.dynamic.exceptions import NotFoundError

        resource = self.resource(api_version, kind)

        def remove() -> None:
            with contextlib.suppress(NotFoundError):
                resource.delete(name=name, namespace=namespace)

        self.call("delete", f"{kind.lower()}/{name}", namespace, remove)


# One API client per (event loop, connection) for static-auth connections, shared by the waits that
# run at the same time: a triggerer holding a thousand rollout waits keeps one connection pool, not a
# thousand. The last wait to finish closes it.
_SHARED_CLIENTS: dict[tuple[int, str], list[Any]] = {}  # key -> [client, users]


class PodiumAsyncKubernetesHook(AsyncKubernetesHook):
    """Async reads for rollout verdicts: raw API objects (dicts), retried like the sync hook."""

    def __init__(
        self,
        conn_id: str | None = KubernetesHook.default_conn_name,
        *,
        retry_policy: RetryPolicy | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(conn_id=conn_id, **kwargs)
        self.retry_policy = retry_policy or RetryPolicy()
        self.server_now: dt.datetime | None = None  # the API server's clock (Date header), immune to skew

    @contextlib.asynccontextmanager
    async def shared_conn(self) -> AsyncIterator[Any]:
        """An API client shared by the concurrent waits on this connection in this event loop.

        Exec-based auth (EKS, GKE) reloads its short-lived token per use, so it gets its own client.
        """
        from kubernetes_asyncio import client

        extras = await self.get_conn_extras()
        fingerprint = json.dumps(
            [self.conn_id, extras, self.config_file, self.cluster_context, self.in_cluster],
            sort_keys=True,
            default=str,
        )
        key = (id(asyncio.get_running_loop()), fingerprint)
        if key not in _SHARED_CLIENTS:
            await self._load_config()
            if self._is_exec_auth:
                async with self.get_conn() as own:
                    yield own
                return
            if key not in _SHARED_CLIENTS:  # (another wait may have created it meanwhile)
                _SHARED_CLIENTS[key] = [client.ApiClient(configuration=self.client_configuration), 0]
        entry = _SHARED_CLIENTS[key]
        entry[1] += 1
        try:
            yield entry[0]
        finally:
            entry[1] -= 1
            if entry[1] == 0 and _SHARED_CLIENTS.get(key) is entry:
                del _SHARED_CLIENTS[key]
                await entry[0].close()

    async def _request(self, api_client: Any, kind: str, verb: str, namespace: str, **kwargs: Any) -> Any:
        """One read (get or list) returning the raw aiohttp response after checking its status."""
        from kubernetes_asyncio import client

        api_class, read, listing = _READERS[kind]
        api = getattr(client, api_class)(api_client)
        method = getattr(api, read if verb == "get" else listing)
        response = await method(namespace=namespace, _preload_content=False, **kwargs)
        date = response.headers.get("Date")
        if date:
            with contextlib.suppress(TypeError, ValueError):
                self.server_now = parsedate_to_datetime(date)
        if response.status >= 400:
            body = await response.read()
            response.release()
            raise KubeApiError.from_response(response.status, body, response.headers.get("Retry-After"))
        return response

    async def call(self, api_client: Any, kind: str, verb: str, namespace: str, **kwargs: Any) -> Obj:
        import aiohttp

        attempt = 0
        while True:
            try:
                response = await self._request(api_client, kind, verb, namespace, **kwargs)
                try:
                    return await response.json()
                finally:
                    response.release()
            except KubeApiError as error:
                failure = error
            except (TimeoutError, aiohttp.ClientError, OSError) as error:
                failure = KubeApiError.no_answer(error)
            resource = f"{kind.lower()}/{kwargs['name']}" if "name" in kwargs else kind.lower()
            decision = decide(
                failure,
                attempt=attempt,
                verb=verb,
                resource=resource,
                namespace=namespace,
                policy=self.retry_policy,
            )
            if not decision.retry:
                raise decision.error() from failure
            await asyncio.sleep(decision.delay)
            attempt += 1

    async def service_get(
        self,
        api_client: Any,
        service: str,
        namespace: str,
        *,
        port: int | str | None = None,
        path: str = "/",
        timeout: float = 10,
    ) -> tuple[int, str]:
        """GET ``path`` on a Service through the API server's service proxy: (HTTP status, body).

        One attempt, no retries (checks poll on their own); any HTTP answer is returned as is,
        including 503 "no endpoints available"; no answer is status 0. Needs RBAC ``get`` on
        ``services/proxy``.
        """
        import aiohttp

        target = f"{service}:{port}" if port is not None else service
        try:
            response = await api_client.call_api(
                f"/api/v1/namespaces/{namespace}/services/{target}/proxy{path}",
                "GET",
                auth_settings=["BearerToken"],
                _preload_content=False,
                _request_timeout=timeout,
            )
            try:
                body = await response.content.read(2048)
                return int(response.status), body.decode("utf-8", "replace")
            finally:
                response.release()
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            return 0, f"{type(error).__name__}: {error}"

    async def snapshot(self, api_client: Any, kind: str, name: str, namespace: str) -> tuple[Obj | None, str]:
        """The workload (None if absent) and the resourceVersion to watch from."""
        listing = await self.call(api_client, kind, "list", namespace, field_selector=f"metadata.name={name}")
        items = listing.get("items") or []
        workload = items[0] if items else None
        if workload is not None:
            workload.setdefault("kind", kind)
        return workload, str(listing["metadata"]["resourceVersion"])

    async def watch(
        self,
        api_client: Any,
        kind: str,
        name: str,
        namespace: str,
        resource_version: str,
        timeout_seconds: int,
    ) -> AsyncIterator[tuple[str, Obj]]:
        """Watch events for one workload from resource_version: (type, object). ERROR events come through
        as ("ERROR", status) so the caller can re-list on 410 Gone."""
        response = await self._request(
            api_client,
            kind,
            "list",
            namespace,
            field_selector=f"metadata.name={name}",
            watch=True,
            resource_version=resource_version,
            timeout_seconds=timeout_seconds,
            allow_watch_bookmarks=False,
        )
        try:
            async for line in response.content:
                if not line.strip():
                    continue
                event = json.loads(line)
                obj = event.get("object") or {}
                if event.get("type") != "ERROR":
                    obj.setdefault("kind", kind)
                yield event.get("type", ""), obj
        finally:
            response.release()
