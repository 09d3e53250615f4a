"""revenue_report: runs on data, not on a clock: whenever orders_daily publishes daily_revenue."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, Param, task

from orders_pipeline.assets import DAILY_REVENUE

with DAG(
    dag_id="revenue_report",
    doc_md="""
### revenue_report
Scheduled on the `daily_revenue` Asset: it runs each time `orders_daily` publishes a day (several
days at once when a backfill publishes faster than reports run). For each published day it reads the
lake partition `curated/daily_revenue/date=YYYY-MM-DD/` and writes `reports/revenue/date=.../report.csv`
(revenue per region and its share of the day). Idempotent: a rerun rewrites the same files.

**Params**: `days`, days to report when triggered by hand (an asset-triggered run takes the days from
the asset events).
""",
    schedule=[DAILY_REVENUE],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["podium", "etl", "example"],
    default_args={"owner": "data", "retries": 2, "retry_delay": timedelta(seconds=20)},
    params={
        "days": Param(
            [],
            type="array",
            items={"type": "string", "format": "date"},
            title="Days",
            description="Days (YYYY-MM-DD) to report on a manual run.",
        )
    },
) as dag:

    @task(multiple_outputs=True)
    def report(triggering_asset_events: Any = None, params: dict | None = None) -> dict[str, dict]:
        """Revenue by region with each region's share, one CSV per published day."""
        import csv
        import tempfile
        from pathlib import Path

        import duckdb

        from podium.hooks.lake import LakeHook

        events = list(triggering_asset_events[DAILY_REVENUE]) if triggering_asset_events else []
        days = sorted({str(event.extra["ds"]) for event in events} | set((params or {}).get("days") or []))
        if not days:
            raise ValueError("nothing to report: no asset event and no days given")
        lake = LakeHook()
        summary: dict[str, dict] = {}
        for day in days:
            with lake.readable(f"curated/daily_revenue/date={day}") as local, duckdb.connect() as duck:
                rows = duck.execute(
                    "SELECT region, orders, revenue, round(100 * revenue / sum(revenue) OVER (), 2) "
                    "FROM read_parquet(?, hive_partitioning = false) ORDER BY region",
                    [str(local / "*.parquet")],
                ).fetchall()
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "report.csv"
                with path.open("w", newline="") as handle:
                    writer = csv.writer(handle)
                    writer.writerow(("region", "orders", "revenue", "share_pct"))
                    writer.writerows(rows)
                lake.put_file(path, f"reports/revenue/date={day}/report.csv")
            summary[day] = {
                "orders": sum(int(r[1]) for r in rows),
                "revenue": str(sum(r[2] for r in rows)),
            }
        return summary

    report()
