"""Test-wide set-up: an isolated Airflow environment, and gates for the services tests need.

Airflow reads its configuration when first imported, so the environment is fixed here, at import
time of the root conftest, before any test module imports Airflow.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.services import IN_CI, Postgres, service_unavailable, unreachable_reason

pytest_plugins = [
    "harness.kube_fixtures",
    "harness.cluster_fixtures",
    "harness.aws_fixtures",
    "harness.etl_fixtures",
    "harness.saga_fixtures",
]

REPO = Path(__file__).resolve().parents[1]
_HOME = Path(tempfile.mkdtemp(prefix="podium-test-airflow-"))

os.environ.update(
    {
        "AIRFLOW_HOME": str(_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_HOME}/airflow.db",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        # dag.test() runs a deferred task's trigger in this process: no executor, so no stale executor
        # event to wait out (podium.triggers.kubernetes.defer_settle_seconds). The real-scheduler
        # cluster does not inherit AIRFLOW_* variables and keeps the default.
        "AIRFLOW__PODIUM__DEFER_SETTLE_SECONDS": "0",
    }
)


@pytest.fixture(scope="session")
def postgres() -> Postgres:
    """The PostgreSQL server at PODIUM_TEST_PG_HOST:PODIUM_TEST_PG_PORT (default 127.0.0.1:5432)."""
    server = Postgres(
        host=os.environ.get("PODIUM_TEST_PG_HOST", "127.0.0.1"),
        port=int(os.environ.get("PODIUM_TEST_PG_PORT", "5432")),
        user=os.environ.get("PODIUM_TEST_PG_USER", "postgres"),
        password=os.environ.get("PODIUM_TEST_PG_PASSWORD", ""),
    )
    error = unreachable_reason(server.host, server.port)
    if error:
        service_unavailable(
            f"PostgreSQL is not reachable at {server.host}:{server.port} ({error}); "
            "start it or set PODIUM_TEST_PG_HOST/PODIUM_TEST_PG_PORT"
        )
    return server


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis server at PODIUM_TEST_REDIS_URL (default redis://127.0.0.1:6379/0)."""
    url = os.environ.get("PODIUM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    hostport = url.split("://", 1)[-1].split("/", 1)[0].rsplit("@", 1)[-1]
    host, _, port = hostport.rpartition(":")
    error = unreachable_reason(host or "127.0.0.1", int(port or 6379))
    if error:
        service_unavailable(
            f"Redis is not reachable at {hostport} ({error}); start it or set PODIUM_TEST_REDIS_URL"
        )
    return url


@pytest.fixture(scope="session")
def airflow_db() -> Iterator[Path]:
    """This test session's own SQLite metadata DB, migrated once (for DagBag and dag.test())."""
    result = subprocess.run(
        [str(Path(sys.executable).with_name("airflow")), "db", "migrate"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return _HOME


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist (`make test` runs two workers), every test of the real-scheduler cluster goes
    to one worker, so one cluster serves them all while the other worker runs the rest."""
    for item in items:
        if "airflow_cluster" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("airflow-cluster"))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI nothing may be skipped: a skipped test there means a service or tool is missing."""
    if not IN_CI or exitstatus != 0:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped:
        reporter.write_line(f"CI=true: {len(skipped)} test(s) were skipped; failing the run", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
