"""Faults on demand: error answers, dropped connections, latency and watch streams closed early."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from sandbox.manifests import deployment

CM_PATH = "/api/v1/namespaces/default/configmaps"


def test_injected_429_carries_retry_after(kube, api) -> None:
    from kubernetes.client.exceptions import ApiException

    client, api_client = api
    kube.faults(error_rate=1.0, error_status=429, retry_after=3)
    with pytest.raises(ApiException) as caught:
        client.CoreV1Api(api_client).list_namespaced_config_map("default")
    assert caught.value.status == 429
    assert caught.value.headers["Retry-After"] == "3"
    assert json.loads(caught.value.body)["reason"] == "TooManyRequests"
    kube.clear_faults()
    assert client.CoreV1Api(api_client).list_namespaced_config_map("default").items == []


def test_injected_500_only_on_matching_paths(kube, api) -> None:
    from kubernetes.client.exceptions import ApiException

    client, api_client = api
    kube.faults(error_rate=1.0, error_status=500, path=r"^/apis/apps/")
    with pytest.raises(ApiException) as caught:
        client.AppsV1Api(api_client).create_namespaced_deployment("default", deployment("x"))
    assert caught.value.status == 500
    # core API paths are unaffected, and so is the admin API
    assert client.CoreV1Api(api_client).read_namespace("default").metadata.name == "default"
    assert kube.state()["faults"]["error_rate"] == 1.0


def test_a_share_of_requests_fails_reproducibly(kube) -> None:
    def outcomes() -> list[int]:
        kube.faults(error_rate=0.5, seed=7)
        return [httpx.get(f"{kube.url}{CM_PATH}").status_code for _ in range(40)]

    first = outcomes()
    assert set(first) == {200, 500}
    assert 8 <= first.count(500) <= 32
    assert outcomes() == first


def test_dropped_connections(kube) -> None:
    kube.faults(drop_rate=1.0)
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{kube.url}{CM_PATH}", timeout=5)
    kube.clear_faults()
    assert httpx.get(f"{kube.url}{CM_PATH}").status_code == 200


def test_added_latency(kube) -> None:
    kube.faults(latency_ms=400)
    started = time.monotonic()
    assert httpx.get(f"{kube.url}{CM_PATH}").status_code == 200
    assert time.monotonic() - started >= 0.4  # a lower bound the server guarantees, not a speed target


def test_watch_streams_closed_early(kube) -> None:
    kube.faults(watch_close_after=0.5)
    started = time.monotonic()
    response = httpx.get(f"{kube.url}{CM_PATH}", params={"watch": "1", "timeoutSeconds": "60"}, timeout=30)
    assert response.status_code == 200
    assert time.monotonic() - started < 30  # ended by the fault, long before its own timeout


def test_drop_watches_on_demand(kube) -> None:
    ended = threading.Event()

    def watch() -> None:
        with httpx.stream("GET", f"{kube.url}{CM_PATH}", params={"watch": "true"}, timeout=60) as response:
            for _ in response.iter_lines():
                pass
        ended.set()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while kube.state()["watchers"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert kube.drop_watches() == 1
    assert ended.wait(10)


def test_unknown_fault_settings_are_refused(kube) -> None:
    with pytest.raises(httpx.HTTPStatusError):
        kube.faults(error_rat=0.5)
