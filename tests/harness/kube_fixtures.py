"""Pytest fixtures for the Kubernetes sandbox (registered in tests/conftest.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.kube import KubeSandbox
from harness.services import service_unavailable


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[KubeSandbox]:
    """A fresh sandbox per test, controllers at 10x speed, pods Ready after 2 controller seconds."""
    sandbox = KubeSandbox(tmp_path)
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture
def api(kube: KubeSandbox):
    """The official `kubernetes` client, configured from the sandbox's kubeconfig."""
    from kubernetes import client, config

    api_client = config.new_client_from_config(config_file=str(kube.kubeconfig))
    yield client, api_client
    api_client.close()


@pytest.fixture
def apps(api):
    client, api_client = api
    return client.AppsV1Api(api_client)


@pytest.fixture
def core(api):
    client, api_client = api
    return client.CoreV1Api(api_client)


@pytest.fixture
def kube_conn(kube: KubeSandbox, monkeypatch: pytest.MonkeyPatch) -> str:
    """An Airflow connection (from the environment) of the cncf.kubernetes type, pointing at the sandbox."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_KUBE_SANDBOX",
        json.dumps(
            {
                "conn_type": "kubernetes",
                "extra": {"kube_config_path": str(kube.kubeconfig), "namespace": "default"},
            }
        ),
    )
    return "kube_sandbox"


@pytest.fixture
def kubectl(kube: KubeSandbox):
    """Run the real kubectl against the sandbox: kubectl(*args, check=True) -> CompletedProcess."""
    binary = shutil.which("kubectl")
    if binary is None:
        service_unavailable("kubectl is not on PATH")

    def run(*args: str, check: bool = True, timeout: float = 90, stdin: str | None = None):
        result = subprocess.run(
            [binary, *args],
            env=kube.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            input=stdin,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result

    return run
