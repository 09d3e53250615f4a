"""`make run`: prepare Airflow on embedded defaults, start the local sandboxes, run `airflow standalone`.

Stdlib only (it runs before anything is imported from Airflow). The Makefile exports the Airflow
configuration (AIRFLOW_HOME, dags and plugins folders, SQLite metadata DB, ...). Every process this
script starts runs in a process group of its own; on Ctrl-C (SIGINT) or SIGTERM it stops them all:
standalone first with SIGINT to its whole group (what standalone needs to stop its children), then
SIGTERM, then SIGKILL for anything still there.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HOME = Path(os.environ.get("AIRFLOW_HOME", REPO / ".airflow"))
PORT = int(os.environ.get("PODIUM_PORT", "8080"))
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
HEALTH_TIMEOUT = float(os.environ.get("PODIUM_HEALTH_TIMEOUT", "240"))


def say(message: str) -> None:
    print(f"[podium] {message}", flush=True)


def airflow(*args: str) -> None:
    """Run one airflow CLI command to completion, failing loudly."""
    result = subprocess.run([AIRFLOW, *args], capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-4000:] + result.stderr[-4000:])
        raise SystemExit(f"[podium] `airflow {' '.join(args)}` failed with exit code {result.returncode}")


def start_kube_sandbox(started: list[tuple[str, subprocess.Popen]]) -> dict[str, dict]:
    """The Kubernetes API double (include/sandbox/kube.py); returns the connections that use it."""
    kubeconfig = HOME / "kubeconfig.yaml"
    log = open(HOME / "kubesim.log", "ab")  # noqa: SIM115 (lives as long as the sandbox)
    process = subprocess.Popen(
        [
            sys.executable,
            str(REPO / "include" / "sandbox" / "kube.py"),
            "--port",
            os.environ.get("PODIUM_KUBE_PORT", "0"),
            "--kubeconfig",
            str(kubeconfig),
            # the sandbox's objects live beside the metadata DB that remembers the releases
            "--state-file",
            str(HOME / "kubesim-state.json"),
        ],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        start_new_session=True,
    )
    started.append(("kubernetes sandbox", process))
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("kubesim ready: "):
        raise SystemExit(f"[podium] the Kubernetes sandbox did not start (log: {HOME / 'kubesim.log'})")
    say(f"Kubernetes sandbox: {line.split()[2]}  (kubectl: KUBECONFIG={kubeconfig} kubectl get pods)")
    return {
        "kubernetes_default": {
            "conn_type": "kubernetes",
            "description": "podium's local Kubernetes sandbox (include/sandbox/kube.py)",
            "extra": {"kube_config_path": str(kubeconfig), "namespace": "default"},
        }
    }


def embedded_connections() -> dict[str, dict]:
    """Connections for the embedded defaults: include/sandbox/connections/*.json, one file per feature.

    Each file maps connection ids to `airflow connections import` entries; the text ``{airflow_home}``
    is replaced by AIRFLOW_HOME, so local databases live beside the metadata DB.
    """
    connections: dict[str, dict] = {}
    for path in sorted((REPO / "include" / "sandbox" / "connections").glob("*.json")):
        text = path.read_text().replace("{airflow_home}", json.dumps(str(HOME))[1:-1])
        connections.update(json.loads(text))
    return connections


def stop_group(process: subprocess.Popen, name: str, first: signal.Signals, grace: float) -> None:
    """Stop a process and its whole group: `first`, then SIGTERM, then SIGKILL, each given its time."""
    for sig, wait in ((first, grace), (signal.SIGTERM, 3.0), (signal.SIGKILL, 2.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        # The leader exited; its children may linger a moment longer in the group.
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and _group_alive(process.pid):
            time.sleep(0.2)
        if not _group_alive(process.pid):
            break
    say(f"stopped {name}")


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_healthy(standalone: subprocess.Popen) -> None:
    url = f"http://127.0.0.1:{PORT}/api/v2/monitor/health"
    deadline = time.monotonic() + HEALTH_TIMEOUT
    while time.monotonic() < deadline:
        if standalone.poll() is not None:
            raise SystemExit(f"[podium] airflow standalone exited early (code {standalone.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(1)
    raise SystemExit(f"[podium] Airflow did not answer {url} within {HEALTH_TIMEOUT:.0f}s")


def admin_password() -> str:
    passwords = HOME / "simple_auth_manager_passwords.json.generated"
    try:
        return json.loads(passwords.read_text())["admin"]
    except (OSError, ValueError, KeyError):
        return f"(see {passwords})"


def main() -> int:
    HOME.mkdir(parents=True, exist_ok=True)
    started: list[tuple[str, subprocess.Popen]] = []
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        say(f"AIRFLOW_HOME={HOME}")
        say("migrating the metadata database")
        airflow("db", "migrate")

        connections = {**embedded_connections(), **start_kube_sandbox(started)}
        if connections:
            path = HOME / "podium-connections.json"
            path.write_text(json.dumps(connections, indent=2))
            airflow("connections", "import", "--overwrite", str(path))
            say(f"connections: {', '.join(sorted(connections))}")
        pools = REPO / "include" / "pools.json"
        airflow("pools", "import", str(pools))
        say(f"pools: {', '.join(sorted(json.loads(pools.read_text())))}")

        log = open(HOME / "standalone.log", "ab")  # noqa: SIM115 (lives as long as standalone)
        standalone = subprocess.Popen(
            [AIRFLOW, "standalone"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        started.append(("airflow standalone", standalone))
        say(f"starting airflow standalone (log: {HOME / 'standalone.log'})")
        wait_healthy(standalone)
        say(f"Airflow UI: http://localhost:{PORT}  user: admin  password: {admin_password()}")
        say("press Ctrl-C to stop everything")
        while standalone.poll() is None:
            time.sleep(1)
        say(f"airflow standalone exited with code {standalone.returncode}")
        return standalone.returncode or 1
    except KeyboardInterrupt:
        say("stopping")
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        # standalone waits out its own 30 s grace on SIGINT once a task has run; SIGTERM to its whole
        # group after 3 s stops every component within the next 3 (a stop within 10 s in all)
        for name, process in reversed(started):
            stop_group(process, name, signal.SIGINT if name == "airflow standalone" else signal.SIGTERM, 3.0)


if __name__ == "__main__":
    sys.exit(main())
