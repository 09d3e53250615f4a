"""orders_daily run in-process with dag.test() into a real PostgreSQL warehouse and a lake folder."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag

from harness.etl_expected import expected_day, file_digest, revenue_rows, table_checksum

REPO = Path(__file__).resolve().parents[3]
DAY = date(2026, 1, 3)
ROWS = 400

pytestmark = pytest.mark.postgres


def load(dag_id: str):
    return DagBag(dag_folder=str(REPO / "dags" / f"{dag_id}.py")).get_dag(dag_id)


def states(run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def run_day(day: date, **conf):
    """Run the day's interval: a manual run at `day + 1` covers the last complete day, [day, day + 1)."""
    return load("orders_daily").test(
        logical_date=datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1),
        run_conf={"rows_per_day": ROWS, **conf},
    )


def published_events(run_id: str) -> dict[str, dict]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(AssetModel.name, AssetEvent.extra)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetEvent.source_run_id == run_id)
        ).all()
    return dict(rows)


def lake_digests(lake: Path) -> dict[str, str]:
    return {
        str(path.relative_to(lake)): file_digest(path)
        for path in sorted(lake.rglob("*"))
        if path.is_file() and path.relative_to(lake).parts[0] in ("raw", "curated", "quarantine")
    }


def test_a_day_lands_with_the_expected_numbers_and_reruns_change_nothing(etl_connections, lake, airflow_db):
    import duckdb
    import psycopg

    first = run_day(DAY)
    assert first.state == "success", states(first)
    raw = lake / "raw" / "orders" / f"date={DAY}" / "orders.csv"
    expected = expected_day(raw, DAY)
    assert expected["quarantined"] > 0
    assert expected["lines"] > expected["orders"] + expected["quarantined"]  # duplicates were dropped
    assert any(region["late_orders"] for region in expected["by_region"].values())

    regions_seen = expected["by_region"]
    with psycopg.connect(etl_connections.dsn) as conn:
        assert revenue_rows(conn, DAY) == expected["by_region"]
        orders = conn.execute("SELECT count(*) FROM orders_clean WHERE ds = %s", (DAY,)).fetchone()[0]
        assert orders == expected["orders"]
        before = {t: table_checksum(conn, t) for t in ("orders_clean", "daily_revenue")}

    quarantine = lake / "quarantine" / "orders" / f"date={DAY}"
    (part,) = quarantine.iterdir()
    assert (
        duckdb.connect().execute("SELECT count(*) FROM read_parquet(?)", [str(part)]).fetchone()[0]
        == expected["quarantined"]
    )
    lake_before = lake_digests(lake)
    assert {p.split("/date=")[0] for p in lake_before} == {
        "raw/orders",
        "curated/orders_clean",
        "curated/daily_revenue",
        "quarantine/orders",
    }

    # published: one asset event per table, naming the day and the rows loaded
    events = published_events(first.run_id)
    assert events == {
        "orders_clean": {
            "ds": str(DAY),
            "orders_clean": expected["orders"],
            "daily_revenue": len(regions_seen),
        },
        "daily_revenue": {
            "ds": str(DAY),
            "orders_clean": expected["orders"],
            "daily_revenue": len(regions_seen),
        },
    }
    report = load("revenue_report").test(run_conf={"days": [str(DAY)]})
    assert report.state == "success", states(report)
    lines = (lake / "reports" / "revenue" / f"date={DAY}" / "report.csv").read_text().splitlines()
    assert lines[0] == "region,orders,revenue,share_pct"
    assert {line.split(",")[0]: int(line.split(",")[1]) for line in lines[1:]} == {
        region: numbers["orders"] for region, numbers in expected["by_region"].items()
    }

    again = run_day(DAY)
    assert again.state == "success", states(again)
    with psycopg.connect(etl_connections.dsn) as conn:
        after = {t: table_checksum(conn, t) for t in ("orders_clean", "daily_revenue")}
    assert after == before
    assert lake_digests(lake) == lake_before
    assert not list(lake.rglob(".tmp-*"))
    assert not list(lake.rglob(".old-*"))


def test_a_failing_quality_check_stops_publishing_and_names_the_check(
    etl_connections, lake, airflow_db, capfd
):
    import psycopg

    run = run_day(DAY, min_orders=ROWS * 10)
    assert run.state == "failed"
    assert states(run) == {
        "generate_raw": "success",
        "extract_orders": "success",
        "transform": "success",
        "quality_gate": "failed",
        "load_lake": "upstream_failed",
        "load_warehouse": "upstream_failed",
    }
    out, err = capfd.readouterr()
    assert "QualityGateFailed: quality gate failed: 1 check(s): orders_row_count" in out + err
    # the table of results in the log: the failed check and what it saw
    assert re.search(r"orders_row_count\s+row_count\s+orders_clean\s+FAIL\s+\d+ rows\s+>= 4000", out + err)
    assert not (lake / "curated").exists()
    with psycopg.connect(etl_connections.dsn) as conn:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE tablename = 'daily_revenue'").fetchone()[
            0
        ]
    assert tables == 0
