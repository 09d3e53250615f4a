"""A missing service skips a test on a laptop and fails it in CI; a present one is really used."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cluster import free_port

REPO = Path(__file__).resolve().parents[1]
PROBE = "tests/gates/probe_services.py"


def _run_probe(**env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("PODIUM_TEST_", "CI", "PYTEST_"))}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "pytest", PROBE, "-q", "-rs", "-p", "no:cacheprovider"],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def closed_port() -> int:
    return free_port()  # bound and released: nothing listens there


def _missing(port: int) -> dict[str, str]:
    return {"PODIUM_TEST_PG_PORT": str(port), "PODIUM_TEST_REDIS_URL": f"redis://127.0.0.1:{port}/0"}


def test_missing_services_skip_with_a_reason_off_ci(closed_port: int) -> None:
    result = _run_probe(**_missing(closed_port))
    assert result.returncode == 0, result.stdout
    assert "2 skipped" in result.stdout
    assert f"PostgreSQL is not reachable at 127.0.0.1:{closed_port}" in result.stdout
    assert f"Redis is not reachable at 127.0.0.1:{closed_port}" in result.stdout


def test_missing_services_fail_in_ci(closed_port: int) -> None:
    result = _run_probe(CI="true", **_missing(closed_port))
    assert result.returncode == 1, result.stdout
    assert "2 errors" in result.stdout
    assert "CI=true: a missing service is a failure, not a skip" in result.stdout


def test_present_services_are_used(postgres, redis_url) -> None:
    result = _run_probe(CI="true")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout


def test_any_skip_fails_a_ci_run(postgres, redis_url) -> None:
    result = _run_probe(CI="true", PODIUM_PROBE_SKIP="1")
    assert result.returncode == 1, result.stdout
    assert "2 passed, 1 skipped" in result.stdout
    assert "CI=true: 1 test(s) were skipped; failing the run" in result.stdout
