"""orders_daily backfilled through the real scheduler (LocalExecutor on PostgreSQL), twice.

`airflow backfill create` for 2026-01-01..2026-01-14 must give exactly the per-day numbers the test
computes itself from the synthetic generator (plain Python, no pipeline SQL); backfilling again with
`--reprocess-behavior completed` must leave the warehouse tables and the lake partitions identical.
revenue_report, scheduled on the daily_revenue Asset, must report every published day.
"""

from __future__ import annotations

import json
import secrets
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from harness.etl_expected import expected_day, file_digest, revenue_rows

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

DAG_ID = "orders_daily"
FIRST, LAST = date(2026, 1, 1), date(2026, 1, 14)
DAYS = [FIRST + timedelta(days=n) for n in range((LAST - FIRST).days + 1)]
ROWS = 150


def put_connection(cluster, body: dict) -> None:
    response = cluster.api("POST", "/connections", json=body)
    if response.status_code == 409:
        response = cluster.api("PATCH", f"/connections/{body['connection_id']}", json=body)
    assert response.status_code in (200, 201), response.text


def backfill(cluster, *extra: str) -> dict:
    """`airflow backfill create` as a user types it; returns the backfill once all its runs are done."""
    cluster.cli(
        "backfill", "create", "--dag-id", DAG_ID,
        "--from-date", FIRST.isoformat(), "--to-date", LAST.isoformat(),
        "--dag-run-conf", json.dumps({"rows_per_day": ROWS}), *extra,
    )  # fmt: skip
    deadline = time.monotonic() + 420
    while time.monotonic() < deadline:
        response = cluster.api("GET", "/backfills", params={"dag_id": DAG_ID, "limit": 100})
        response.raise_for_status()
        latest = max(response.json()["backfills"], key=lambda b: b["id"])
        if latest["completed_at"]:
            return latest
        time.sleep(2)
    raise AssertionError(f"backfill not completed in time\n{cluster.logs()}")


def backfill_runs(cluster) -> dict[str, str]:
    runs = [r for r in cluster.runs(DAG_ID) if r["run_type"] == "backfill"]
    return {r["logical_date"][:10]: r["state"] for r in runs}


def warehouse_state(dsn: str) -> dict:
    import psycopg

    with psycopg.connect(dsn) as conn:
        state = {}
        for table in ("orders_clean", "daily_revenue"):
            state[table] = conn.execute(
                f"SELECT count(*), md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {table} AS t "
                "WHERE ds BETWEEN %s AND %s",
                (FIRST, LAST),
            ).fetchone()
        state["revenue"] = {day: revenue_rows(conn, day) for day in DAYS}
        state["orders"] = dict(
            conn.execute(
                "SELECT ds, count(*) FROM orders_clean WHERE ds BETWEEN %s AND %s GROUP BY ds", (FIRST, LAST)
            ).fetchall()
        )
    return state


def lake_state(lake: Path) -> dict[str, str]:
    return {
        str(p.relative_to(lake)): file_digest(p)
        for zone in ("raw", "curated", "quarantine")
        for p in sorted((lake / zone).rglob("*"))
        if p.is_file() and any(f"date={day}" in str(p) for day in DAYS)
    }


@pytest.fixture
def etl_cluster(airflow_cluster, postgres, tmp_path):
    import psycopg

    name = f"podium_wh_{secrets.token_hex(4)}"
    with psycopg.connect(postgres.dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    lake = tmp_path / "lake"
    lake.mkdir()
    put_connection(
        airflow_cluster,
        {
            "connection_id": "warehouse",
            "conn_type": "postgres",
            "host": postgres.host,
            "port": postgres.port,
            "login": postgres.user,
            "password": postgres.password or None,
            "schema": name,
        },
    )
    put_connection(
        airflow_cluster,
        {"connection_id": "lake", "conn_type": "fs", "extra": json.dumps({"path": f"file://{lake}"})},
    )
    for dag_id in (DAG_ID, "revenue_report"):
        airflow_cluster.wait_for_dag(dag_id)
        airflow_cluster.unpause(dag_id)
    try:
        yield airflow_cluster, postgres.dsn(name), lake
    finally:
        for dag_id in (DAG_ID, "revenue_report"):
            airflow_cluster.api("PATCH", f"/dags/{dag_id}", json={"is_paused": True})
        for conn_id in ("warehouse", "lake"):
            airflow_cluster.api("DELETE", f"/connections/{conn_id}")
        with psycopg.connect(postgres.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_backfill_gives_the_generators_numbers_and_a_second_backfill_changes_nothing(etl_cluster):
    from podium.etl.generator import day_csv

    cluster, dsn, lake = etl_cluster
    backfill(cluster)
    assert backfill_runs(cluster) == {day.isoformat(): "success" for day in DAYS}

    first = warehouse_state(dsn)
    for day in DAYS:
        source = day_csv(day, ROWS).decode()
        # the raw zone holds exactly what the generator makes for that day
        assert (lake / "raw" / "orders" / f"date={day}" / "orders.csv").read_text() == source
        expected = expected_day(source, day)
        assert first["revenue"][day] == expected["by_region"], day
        assert first["orders"][day] == expected["orders"], day
        (quarantined,) = (lake / "quarantine" / "orders" / f"date={day}").iterdir()
        assert quarantined.stat().st_size > 0
    lake_first = lake_state(lake)

    again = backfill(cluster, "--reprocess-behavior", "completed")
    assert again["reprocess_behavior"] == "completed"
    assert backfill_runs(cluster) == {day.isoformat(): "success" for day in DAYS}
    assert warehouse_state(dsn) == first
    assert lake_state(lake) == lake_first

    # revenue_report ran on the published Asset and reported every day
    deadline = time.monotonic() + 180
    missing = DAYS
    while missing and time.monotonic() < deadline:
        missing = [
            d for d in DAYS if not (lake / "reports" / "revenue" / f"date={d}" / "report.csv").exists()
        ]
        time.sleep(2)
    assert missing == []
    report_runs = cluster.runs("revenue_report")
    assert report_runs
    assert {r["run_type"] for r in report_runs} == {"asset_triggered"}
    text = (lake / "reports" / "revenue" / f"date={FIRST}" / "report.csv").read_text().splitlines()
    assert text[0] == "region,orders,revenue,share_pct"
    assert (
        sum(int(line.split(",")[1]) for line in text[1:])
        == expected_day(day_csv(FIRST, ROWS).decode(), FIRST)["orders"]
    )
