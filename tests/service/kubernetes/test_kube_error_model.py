"""One Kubernetes error model: every status on every path (sync call, async call, watch) is retried or
not by the same rule and fails with the same words. Real HTTP: the hooks talk to the sandbox through
a proxy that answers the chosen status (or drops the connection) for the request under test."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.fault_proxy import FaultProxy, Rule
from harness.kube import KubeSandbox
from podium.exceptions import PermanentError, TransientError
from podium.kube.errors import RetryPolicy

POLICY = RetryPolicy(max_attempts=3, base=0.01, cap=0.02)
RETRIED = {0, 429, 500, 503}
STATUSES = [400, 401, 403, 404, 409, 410, 422, 429, 500, 501, 503, 0]
WHERE = "in namespace default"


def expected(status: int, verb: str, resource: str, *, watch: bool = False) -> str:
    """What the failure says, per status (the table)."""
    if status in RETRIED or (watch and status == 410):
        what = "no answer" if status == 0 else f"HTTP {status}"
        return f"Kubernetes API kept failing to {verb} {resource} {WHERE} ({what} after 3 attempts): "
    return {
        400: f"the API server refused to {verb} {resource} {WHERE}: injected 400",
        401: f"unauthorized: the API server did not accept podium's credentials to {verb} {resource} {WHERE} "
        "(check the Kubernetes connection's token, certificate or kubeconfig): injected 401",
        403: f"forbidden: podium's Kubernetes identity may not {verb} {resource} {WHERE} (grant it in the "
        "Role; see include/rbac/podium-deployer.yaml): injected 403",
        404: "not found: injected 404",
        409: f"cannot {verb} {resource} {WHERE}: HTTP 409: injected 409",
        410: f"cannot {verb} {resource} {WHERE}: HTTP 410: injected 410",
        422: f"the API server refused to {verb} {resource} {WHERE}: injected 422",
        501: f"cannot {verb} {resource} {WHERE}: HTTP 501: injected 501",
    }[status]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeSandbox]:
    box = KubeSandbox(tmp_path_factory.mktemp("kube"))
    try:
        yield box
    finally:
        box.stop()


@pytest.fixture(scope="module")
def proxy(sandbox: KubeSandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultProxy]:
    from kubernetes import client, config

    api = config.new_client_from_config(config_file=str(sandbox.kubeconfig))
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "web:1-crash"}]},
            },
        },
    }
    client.AppsV1Api(api).create_namespaced_deployment("default", body)  # never rolls out
    api.close()
    fault_proxy = FaultProxy(sandbox.url, sandbox.kubeconfig, tmp_path_factory.mktemp("proxy"))
    try:
        yield fault_proxy
    finally:
        fault_proxy.stop()


@pytest.fixture
def conn(proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch) -> str:
    extra = {"kube_config_path": str(proxy.kubeconfig), "namespace": "default"}
    monkeypatch.setenv("AIRFLOW_CONN_KUBE_PROXY", json.dumps({"conn_type": "kubernetes", "extra": extra}))
    return "kube_proxy"


def _raised(error: BaseException, status: int) -> None:
    assert isinstance(error, TransientError if status in RETRIED else PermanentError), repr(error)


def _attempts(status: int, hits: int, retried: bool) -> bool:
    """Did the proxy see one request per podium attempt (3 when retried, else 1)?

    aiohttp itself re-sends an idempotent request once when a reused keep-alive connection closes
    without an answer, so a dropped connection may show twice per attempt on the async paths.
    """
    attempts = 3 if retried else 1
    return hits in ((attempts, 2 * attempts) if status == 0 else (attempts,))


@pytest.mark.parametrize("status", STATUSES)
def test_sync_call(status: int, proxy: FaultProxy, conn: str) -> None:
    from podium.hooks.kubernetes import PodiumKubernetesHook

    hook = PodiumKubernetesHook(conn_id=conn, retry_policy=POLICY)
    hook.resource("apps/v1", "Deployment")  # discovery before the fault
    proxy.fault(Rule("PATCH", r"/deployments/web$", status=status))
    with pytest.raises((TransientError, PermanentError)) as raised:
        hook.patch("apps/v1", "Deployment", "web", "default", {"metadata": {"labels": {"x": "y"}}})
    _raised(raised.value, status)
    assert proxy.hits == (3 if status in RETRIED else 1)
    assert str(raised.value).startswith(expected(status, "patch", "deployment/web"))


@pytest.mark.parametrize("status", STATUSES)
def test_async_call(status: int, proxy: FaultProxy, conn: str) -> None:
    from podium.hooks.kubernetes import PodiumAsyncKubernetesHook

    hook = PodiumAsyncKubernetesHook(conn_id=conn, retry_policy=POLICY)

    async def read() -> None:
        async with hook.shared_conn() as api_client:
            await hook.call(api_client, "Deployment", "get", "default", name="web")

    proxy.fault(Rule("GET", r"/deployments/web$", status=status))
    with pytest.raises((TransientError, PermanentError)) as raised:
        asyncio.run(read())
    _raised(raised.value, status)
    assert _attempts(status, proxy.hits, status in RETRIED), proxy.hits
    assert str(raised.value).startswith(expected(status, "get", "deployment/web"))


@pytest.mark.parametrize("status", STATUSES)
def test_watch(status: int, proxy: FaultProxy, conn: str) -> None:
    from podium.hooks.kubernetes import PodiumAsyncKubernetesHook
    from podium.kubernetes.waits import wait_for_rollout

    hook = PodiumAsyncKubernetesHook(conn_id=conn, retry_policy=POLICY)
    proxy.fault(Rule("GET", r"/deployments$", watch=True, status=status))
    started = time.monotonic()
    event = asyncio.run(
        wait_for_rollout(
            hook,
            kind="Deployment",
            name="web",
            namespace="default",
            timeout_at=time.time() + 30,
            pod_grace_seconds=3600,
            recheck_seconds=1,
        )
    )
    retried = status in RETRIED or status == 410  # a watch re-lists on 410 Gone, like client-go
    assert time.monotonic() - started < 20, "the watch must not wait for its timeout"
    assert event["status"] == "error"
    assert event["transient"] is retried
    assert _attempts(status, proxy.hits, retried), proxy.hits
    assert event["message"].startswith(expected(status, "watch", "deployment/web", watch=True))


def test_the_proxy_passes_everything_else(proxy: FaultProxy, conn: str, tmp_path: Path) -> None:
    """Without a fault the same calls succeed: the failures above are the injected ones."""
    from podium.hooks.kubernetes import PodiumKubernetesHook

    proxy.fault(None)
    live = PodiumKubernetesHook(conn_id=conn, retry_policy=POLICY).get(
        "apps/v1", "Deployment", "web", "default"
    )
    assert live is not None
    assert live["metadata"]["name"] == "web"
