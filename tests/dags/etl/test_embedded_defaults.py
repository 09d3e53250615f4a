"""`make run`'s embedded defaults for the ETL example: a lake folder and a SQLite warehouse, no server."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag

from harness.etl_expected import REPO, expected_day

DAY = date(2026, 1, 7)


@pytest.fixture
def embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, dict]:
    """include/sandbox/connections/etl.json as `make run` reads it, with AIRFLOW_HOME = tmp_path."""
    text = (REPO / "include" / "sandbox" / "connections" / "etl.json").read_text()
    connections = json.loads(text.replace("{airflow_home}", json.dumps(str(tmp_path))[1:-1]))
    for conn_id, conn in connections.items():
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    return connections


def test_orders_daily_runs_on_the_embedded_defaults(embedded, tmp_path, airflow_db):
    from podium.etl.loads import TableLoad
    from podium.hooks.warehouse import WarehouseHook

    assert embedded["warehouse"]["conn_type"] == "sqlite"
    dag = DagBag(dag_folder=str(REPO / "dags" / "orders_daily.py")).get_dag("orders_daily")
    run = dag.test(
        logical_date=datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC) + timedelta(days=1),
        run_conf={"rows_per_day": 300},
    )
    assert run.state == "success"
    expected = expected_day(tmp_path / "lake" / "raw" / "orders" / f"date={DAY}" / "orders.csv", DAY)

    def warehouse_rows() -> tuple[int, dict]:
        with sqlite3.connect(tmp_path / "warehouse.db") as conn:
            orders = conn.execute("SELECT count(*) FROM orders_clean WHERE ds = ?", (str(DAY),)).fetchone()[0]
            revenue = {
                region: {"orders": o, "paid_orders": p, "revenue": Decimal(str(r)).quantize(Decimal("0.01")),
                         "late_orders": late}
                for region, o, p, r, late in conn.execute(
                    "SELECT region, orders, paid_orders, revenue, late_orders FROM daily_revenue "
                    "WHERE ds = ?",
                    (str(DAY),),
                )
            }  # fmt: skip
        return orders, revenue

    assert warehouse_rows() == (expected["orders"], expected["by_region"])

    # reloading the day's staged rows replaces them: same rows, no duplicates
    staged = tmp_path / "lake" / "_staging" / "orders_daily" / f"date={DAY}"
    result = WarehouseHook().replace_partition(
        loads=[TableLoad("orders_clean", staged / "orders_clean")],  # bucketed: a folder
        partition_column="ds",
        partition_value=str(DAY),
    )
    assert result == {"orders_clean": {"deleted": expected["orders"], "loaded": expected["orders"]}}
    assert warehouse_rows() == (expected["orders"], expected["by_region"])
