"""A warehouse load killed with SIGKILL in the middle of its COPY leaves the previous rows; the rerun
completes, and loading again never duplicates."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.etl_expected import table_checksum
from harness.etl_helpers import orders_parquet
from service.etl.crashed_load import DDL

pytestmark = pytest.mark.postgres
DAY = "2026-01-05"
HERE = Path(__file__).resolve().parent


def load(parquet: Path, kind: str) -> dict:
    from podium.etl.loads import TableLoad
    from podium.hooks.warehouse import WarehouseHook

    return WarehouseHook().replace_partition(
        loads=[TableLoad(table="orders_clean", parquet=parquet, ddl=DDL[kind])],
        partition_column="ds",
        partition_value=DAY,
    )


def copy_progress(conn, database: str) -> int | None:
    """Rows the server has taken in so far from a COPY into `database`, or None when none runs."""
    row = conn.execute(
        "SELECT p.tuples_processed FROM pg_stat_progress_copy p JOIN pg_database d ON d.oid = p.datid "
        "WHERE d.datname = %s AND p.command = 'COPY FROM'",
        (database,),
    ).fetchone()
    return None if row is None else int(row[0])


def stage_tables(conn) -> list[str]:
    rows = conn.execute("SELECT relname FROM pg_class WHERE relname LIKE 'orders\\_clean\\_\\_load\\_%'")
    return [name for (name,) in rows.fetchall()]


@pytest.mark.parametrize("kind", ["partitioned", "plain"])
def test_a_load_killed_mid_copy_leaves_the_previous_partition(kind, etl_connections, postgres, tmp_path):
    import psycopg

    warehouse = etl_connections
    previous = orders_parquet(tmp_path / "previous.parquet", DAY, 2_000, version=1)
    new_rows = 600_000
    new = orders_parquet(tmp_path / "new.parquet", DAY, new_rows, version=2)
    assert load(previous, kind)["orders_clean"] == {"deleted": 0, "loaded": 2_000}

    with psycopg.connect(warehouse.dsn, autocommit=True) as conn:
        before = table_checksum(conn, "orders_clean")
        assert before[0] == 2_000

        worker = subprocess.Popen(
            [sys.executable, str(HERE / "crashed_load.py"), str(new), DAY, kind],
            env={
                **os.environ,
                "PYTHONPATH": os.pathsep.join([str(HERE.parents[2] / "plugins"), str(HERE.parents[1])]),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            seen = None
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and worker.poll() is None:
                seen = copy_progress(conn, warehouse.name)
                if seen:
                    break
                time.sleep(0.01)
            assert seen, (
                f"never saw the COPY running: {worker.poll()} {worker.stderr.read() if worker.stderr else ''}"
            )
            os.kill(worker.pid, signal.SIGKILL)
        finally:
            if worker.poll() is None:
                worker.kill()
            out, _ = worker.communicate(timeout=30)
        assert worker.returncode == -signal.SIGKILL
        assert "committed" not in out
        assert 0 < seen < new_rows  # killed in the middle of the COPY

        # the server aborts the dead client's transaction: the previous partition is what readers see
        deadline = time.monotonic() + 30
        while copy_progress(conn, warehouse.name) is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert copy_progress(conn, warehouse.name) is None
        assert table_checksum(conn, "orders_clean") == before
        # what the killed exchange was filling: a table beside the live partition, never swapped in
        assert len(stage_tables(conn)) == (1 if kind == "partitioned" else 0)

        # the retry completes; a second run replaces the same rows instead of adding to them
        assert load(new, kind)["orders_clean"] == {"deleted": 2_000, "loaded": new_rows}
        loaded = table_checksum(conn, "orders_clean")
        assert loaded[0] == new_rows
        assert load(new, kind)["orders_clean"] == {"deleted": new_rows, "loaded": new_rows}
        assert table_checksum(conn, "orders_clean") == loaded
        assert stage_tables(conn) == []  # the retry dropped what the killed attempt left
