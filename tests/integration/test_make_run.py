"""`make run`, as a new user runs it: the UI comes up with the example DAGs; Ctrl-C leaves nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from harness.cluster import REPO, free_port

pytestmark = pytest.mark.integration


def _processes_using(home: Path) -> list[str]:
    """Processes whose environment names this AIRFLOW_HOME: everything `make run` started."""
    marker = f"AIRFLOW_HOME={home}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if marker in (proc / "environ").read_bytes().split(b"\0"):
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found.append(f"{proc.name}: {cmdline}")
        except OSError:
            continue
    return found


def _run_once(home: Path, port: int, *, first: bool) -> float:
    """One `make run`: checks, then Ctrl-C; returns the seconds from Ctrl-C until nothing is left."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MAKE", "MFLAGS"))}
    env.update(AIRFLOW_HOME=str(home), PODIUM_PORT=str(port))
    output = home.parent / f"make-run-{time.monotonic_ns()}.log"
    with output.open("wb") as log:
        # A new session, like a terminal: Ctrl-C sends SIGINT to the whole foreground process group.
        make = subprocess.Popen(
            ["make", "--no-print-directory", "run"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 300
        while "Airflow UI:" not in output.read_text():
            assert make.poll() is None, f"make run exited early:\n{output.read_text()[-4000:]}"
            assert time.monotonic() < deadline, f"no UI after 300s:\n{output.read_text()[-4000:]}"
            time.sleep(1)

        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/api/v2/monitor/health", timeout=10).status_code == 200
        printed = output.read_text()
        password = json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())["admin"]
        assert f"http://localhost:{port}  user: admin  password: {password}" in printed
        token = httpx.post(f"{base}/auth/token", json={"username": "admin", "password": password}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        deadline = time.monotonic() + 120
        while True:
            dags = httpx.get(f"{base}/api/v2/dags", headers=headers, timeout=10).json()["dags"]
            if "podium_doctor" in {dag["dag_id"] for dag in dags}:
                break
            assert time.monotonic() < deadline, f"example DAGs not listed: {dags}"
            time.sleep(2)
        errors = httpx.get(f"{base}/api/v2/importErrors", headers=headers, timeout=10).json()
        assert errors["import_errors"] == []

        # kubernetes_default points at the running Kubernetes sandbox
        conn = httpx.get(f"{base}/api/v2/connections/kubernetes_default", headers=headers, timeout=10).json()
        assert conn["conn_type"] == "kubernetes"
        kubeconfig = json.loads(conn["extra"])["kube_config_path"]
        assert kubeconfig == str(home / "kubeconfig.yaml")
        from kubernetes import client, config

        with config.new_client_from_config(config_file=kubeconfig) as api_client:
            namespaces = client.CoreV1Api(api_client).list_namespace().items
            apps = client.AppsV1Api(api_client)
            if first:
                apps.create_namespaced_deployment("default", _kept_deployment())
            else:  # the sandbox kept its objects across the restart (AIRFLOW_HOME/kubesim-state.json)
                assert apps.read_namespaced_deployment("kept", "default").metadata.name == "kept"
        assert "default" in {ns.metadata.name for ns in namespaces}
        if first:
            _run_a_task(base, headers)  # a task has run: standalone then ignores SIGINT for 30 s
        assert _processes_using(home), "found no process of make run: the orphan check would prove nothing"
    finally:
        stopped_at = time.monotonic()
        os.killpg(make.pid, signal.SIGINT)  # Ctrl-C
        make.wait(timeout=120)

    deadline = time.monotonic() + 30
    while _processes_using(home) and time.monotonic() < deadline:
        time.sleep(0.2)
    seconds = time.monotonic() - stopped_at
    assert _processes_using(home) == []
    assert "[podium] stopped airflow standalone" in output.read_text()
    assert "[podium] stopped kubernetes sandbox" in output.read_text()
    return seconds


def _kept_deployment() -> dict:
    labels = {"app": "kept"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "kept"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": "a:1"}]},
            },
        },
    }


def _run_a_task(base: str, headers: dict[str, str]) -> None:
    """Trigger podium_doctor and wait for it to succeed."""
    response = httpx.patch(f"{base}/api/v2/dags/podium_doctor", json={"is_paused": False}, headers=headers)
    assert response.status_code == 200, response.text
    run = httpx.post(
        f"{base}/api/v2/dags/podium_doctor/dagRuns",
        json={"logical_date": None, "conf": {"connections": ["kubernetes_default"]}},
        headers=headers,
    )
    assert run.status_code == 200, run.text
    url = f"{base}/api/v2/dags/podium_doctor/dagRuns/{run.json()['dag_run_id']}"
    deadline = time.monotonic() + 180
    while (state := httpx.get(url, headers=headers, timeout=10).json()["state"]) not in ("success", "failed"):
        assert time.monotonic() < deadline, f"podium_doctor still {state}"
        time.sleep(2)
    assert state == "success"


def test_make_run_serves_the_ui_and_ctrl_c_leaves_no_process(tmp_path: Path) -> None:
    home = tmp_path / "airflow-home"
    port = free_port()
    first = _run_once(home, port, first=True)
    # Running it again on the same checkout (and the same AIRFLOW_HOME) just works, with the sandbox's
    # objects still there.
    second = _run_once(home, port, first=False)
    # The stop is measured, not asserted against a clock (it depends on the machine's load)
    print(f"make run: Ctrl-C to nothing left running: {first:.1f} s after a task ran, {second:.1f} s without")
