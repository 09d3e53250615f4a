"""Test-wide set-up: an isolated Airflow environment, and gates for the services tests need.

Airflow reads its configuration when first imported, so the environment is fixed here, at import
time of the root conftest, before any test module imports Airflow.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

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
    }
)

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def service_unavailable(message: str) -> None:
    """Skip on a developer's machine; fail in CI, where every service must be there."""
    if IN_CI:
        pytest.fail(f"{message} (CI=true: a missing service is a failure, not a skip)", pytrace=False)
    pytest.skip(message)


def _reachable(host: str, port: int) -> str | None:
    try:
        with socket.create_connection((host, port), timeout=3):
            return None
    except OSError as error:
        return str(error)


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    user: str
    password: str

    def dsn(self, dbname: str) -> str:
        """A libpq connection string (for psycopg); values are quoted as libpq needs."""
        from psycopg.conninfo import make_conninfo

        return make_conninfo(
            host=self.host, port=self.port, user=self.user, password=self.password or None, dbname=dbname
        )

    def sqlalchemy_url(self, dbname: str) -> str:
        from urllib.parse import quote

        auth = quote(self.user, safe="") + (f":{quote(self.password, safe='')}" if self.password else "")
        return f"postgresql+psycopg://{auth}@{self.host}:{self.port}/{dbname}"


@pytest.fixture(scope="session")
def postgres() -> Postgres:
    """The PostgreSQL server at PODIUM_TEST_PG_HOST:PODIUM_TEST_PG_PORT (default 127.0.0.1:5432)."""
    server = Postgres(
        host=os.environ.get("PODIUM_TEST_PG_HOST", "127.0.0.1"),
        port=int(os.environ.get("PODIUM_TEST_PG_PORT", "5432")),
        user=os.environ.get("PODIUM_TEST_PG_USER", "postgres"),
        password=os.environ.get("PODIUM_TEST_PG_PASSWORD", ""),
    )
    error = _reachable(server.host, server.port)
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
    error = _reachable(host or "127.0.0.1", int(port or 6379))
    if error:
        service_unavailable(f"Redis is not reachable at {hostport} ({error}); start it or set PODIUM_TEST_REDIS_URL")
    return url


@pytest.fixture(scope="session")
def airflow_db() -> Iterator[Path]:
    """This test session's own SQLite metadata DB, migrated once (for DagBag and dag.test())."""
    result = subprocess.run(
        [str(Path(sys.executable).with_name("airflow")), "db", "migrate"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    yield _HOME


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI nothing may be skipped: a skipped test there means a service or tool is missing."""
    if not IN_CI or exitstatus != 0:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped:
        reporter.write_line(f"CI=true: {len(skipped)} test(s) were skipped; failing the run", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
