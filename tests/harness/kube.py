"""The Kubernetes sandbox (include/sandbox/kube.py) as a subprocess, with an admin handle."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
KUBE = REPO / "include" / "sandbox" / "kube.py"


class KubeSandbox:
    """A running sandbox: ``url``, ``kubeconfig`` and admin calls (faults, clock, image fates)."""

    def __init__(
        self,
        workdir: Path,
        *,
        speed: float = 10.0,
        ready_delay: float = 2.0,
        nodes: int = 3,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.kubeconfig = workdir / "kubeconfig.yaml"
        self.log_path = workdir / "kubesim.log"
        command = [
            sys.executable,
            str(KUBE),
            "--port",
            "0",
            "--kubeconfig",
            str(self.kubeconfig),
            "--speed",
            str(speed),
            "--ready-delay",
            str(ready_delay),
            "--nodes",
            str(nodes),
            "--log-level",
            "WARNING",
            *extra_args,
        ]
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=self._log, start_new_session=True
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().decode()
        if not line.startswith("kubesim ready: "):
            self.stop()
            raise RuntimeError(f"the sandbox did not start: {line!r}\n{self.log_path.read_text()[-3000:]}")
        self.url = line.split()[2]
        self.admin = httpx.Client(base_url=f"{self.url}/_sandbox", timeout=10)

    def call(self, method: str, action: str, body: dict[str, Any] | None = None) -> Any:
        response = self.admin.request(method, f"/{action}", json=body)
        response.raise_for_status()
        return response.json()

    def state(self) -> dict[str, Any]:
        return self.call("GET", "state")

    def faults(self, **settings: Any) -> dict[str, Any]:
        return self.call("POST", "faults", settings)

    def clear_faults(self) -> None:
        self.call("DELETE", "faults")

    def advance(self, seconds: float) -> None:
        """Move controller time forward (progress deadlines, crash back-offs)."""
        self.call("POST", "clock", {"advance": seconds})

    def mark_image(self, image: str, fate: str) -> None:
        self.call("POST", "images", {image: fate})

    def drop_watches(self) -> int:
        return self.call("POST", "drop-watches")["closed"]

    def compact(self, keep: int = 0) -> None:
        self.call("POST", "compact", {"keep": keep})

    def env(self) -> dict[str, str]:
        """Environment for kubectl and clients that read KUBECONFIG."""
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig)}

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if hasattr(self, "admin"):
            self.admin.close()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._log.close()


def wait_for(predicate: Any, timeout: float = 30, interval: float = 0.1, what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {value!r})")
        time.sleep(interval)
