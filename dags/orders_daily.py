"""orders_daily: one day of orders from the lake's raw zone to daily revenue by region, idempotently."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, CronDataIntervalTimetable, Param, task

from orders_pipeline.assets import DAILY_REVENUE, ORDERS_CLEAN
from podium.operators.etl_extract import ObjectStorageToParquetOperator
from podium.operators.etl_load import LakePartitionOperator, WarehouseLoadOperator
from podium.operators.etl_quality import DataQualityOperator
from podium.operators.etl_transform import DuckDBTransformOperator

INCLUDE = Path(__file__).resolve().parents[1] / "include"
DS = "{{ data_interval_start | ds }}"
STAGING = f"_staging/orders_daily/date={DS}"
STATUSES = ["placed", "shipped", "delivered", "cancelled"]
REGIONS = ["amer", "apac", "emea", "latam"]

CHECKS: list[dict[str, Any]] = [
    {
        "name": "orders_row_count",
        "check": "row_count",
        "table": "orders_clean",
        "min": "{{ params.min_orders }}",
    },
    {
        "name": "orders_not_null",
        "check": "not_null",
        "table": "orders_clean",
        "columns": ["order_id", "customer_id", "region", "order_ts", "amount", "status"],
    },
    {"name": "order_id_unique", "check": "unique", "table": "orders_clean", "columns": ["order_id"]},
    {
        "name": "status_accepted",
        "check": "accepted_values",
        "table": "orders_clean",
        "column": "status",
        "values": STATUSES,
    },
    {
        "name": "region_accepted",
        "check": "accepted_values",
        "table": "daily_revenue",
        "column": "region",
        "values": REGIONS,
    },
    {
        "name": "orders_fresh",
        "check": "freshness",
        "table": "orders_clean",
        "column": "order_ts",
        "max_age": "{{ params.freshness }}",
    },
    {
        # every distinct order of the export is either clean or quarantined, none lost
        "name": "raw_orders_reconcile",
        "check": "reconcile",
        "source": {"table": "raw_orders", "expr": "count(DISTINCT order_id)"},
        "target": {"table": "orders_clean", "expr": "count(*) + (SELECT count(*) FROM orders_quarantine)"},
    },
    {
        "name": "revenue_reconcile",
        "check": "reconcile",
        "source": {"table": "orders_clean", "expr": "sum(amount) FILTER (WHERE status <> 'cancelled')"},
        "target": {"table": "daily_revenue", "expr": "sum(revenue)"},
        "tolerance": 0,
    },
]

with DAG(
    dag_id="orders_daily",
    doc_md="""
### orders_daily
Each run owns exactly one day, its data interval: re-running any run, any number of times (a retry,
a cleared task, `airflow backfill create ... --reprocess-behavior completed`) converges to the same
tables.

1. **generate_raw**: the synthetic orders source writes the day's export (CSV, with duplicates,
   late records and malformed lines) to the lake's raw zone, `raw/orders/date=YYYY-MM-DD/`.
2. **extract_orders**: the export into Parquet staging (`_staging/orders_daily/date=.../`).
3. **transform**: DuckDB SQL in `include/sql/etl/`: malformed lines to quarantine with their reason,
   duplicates dropped, customers' regions joined, daily revenue by region.
4. **quality_gate**: row count, not-null, unique, accepted values, freshness, reconciliation of raw
   vs. clean + quarantined orders and of revenue. A failure stops the run before anything is
   published and names the failed checks.
5. **load_lake**: replaces the day's partitions of `curated/orders_clean`, `curated/daily_revenue`
   and `quarantine/orders` atomically.
6. **load_warehouse**: replaces the day's rows of `orders_clean` and `daily_revenue` in the
   `warehouse` connection in one transaction (PostgreSQL COPY; SQLite under `make run`), then
   publishes: asset events for `orders_clean` and `daily_revenue` (with the day and row counts);
   `revenue_report` runs on them.

**Connections**: `lake` (conn type fs, extra `{"path": "file:///... or s3://bucket/prefix"}`),
`warehouse` (postgres or sqlite). **Params**: `rows_per_day`, `min_orders`, `freshness`.
""",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=4,
    tags=["podium", "etl", "example"],
    template_searchpath=[str(INCLUDE / "sql")],
    default_args={"owner": "data", "retries": 2, "retry_delay": timedelta(seconds=20)},
    params={
        "rows_per_day": Param(
            20_000,
            type="integer",
            minimum=0,
            maximum=50_000_000,
            title="Rows per day",
            description="Orders the synthetic source exports per day (plus duplicate, late, bad lines).",
        ),
        "min_orders": Param(
            1,
            type="integer",
            minimum=0,
            title="Minimum orders",
            description="Quality gate: fewer clean orders than this fails the run before publishing.",
        ),
        "freshness": Param(
            "6h",
            type="string",
            pattern=r"^\d+[smhd]$",
            title="Freshness",
            description="Quality gate: the newest order must be at most this old at the interval's end.",
        ),
    },
) as dag:

    @task(multiple_outputs=True)
    def generate_raw(data_interval_start: datetime | None = None, params: dict | None = None) -> dict:
        """The synthetic source: the day's export into raw/orders/date=YYYY-MM-DD/ (same day, same bytes)."""
        import tempfile

        from podium.etl.generator import write_day
        from podium.etl.partitions import partition_date, partition_path
        from podium.hooks.lake import LakeHook

        assert data_interval_start is not None
        assert params is not None
        day = partition_date(data_interval_start)
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / "orders.csv"
            lines = write_day(local, day, int(params["rows_per_day"]))
            target = LakeHook().put_file(local, f"{partition_path('raw', 'orders', day)}/orders.csv")
        return {"path": str(target), "lines": lines}

    extract = ObjectStorageToParquetOperator(
        task_id="extract_orders",
        source=f"raw/orders/date={DS}/orders.csv",
        source_format="csv",
        all_text=True,
        staging=f"{STAGING}/raw_orders.parquet",
        # a stream from CSV to Parquet: DuckDB would only cache more
        memory_limit="256MB",
    )
    transform = DuckDBTransformOperator(
        task_id="transform",
        inputs={"raw_orders": f"{STAGING}/raw_orders.parquet", "customers": "include:etl/customers.csv"},
        views={"orders_typed": "etl/orders_typed.sql"},
        outputs={
            "orders_clean": "etl/orders_clean.sql",
            "orders_quarantine": "etl/orders_quarantine.sql",
            "daily_revenue": "etl/daily_revenue.sql",
        },
        staging=STAGING,
        # the dedupe's working set is a bucket of orders, whatever the day's size: memory stays flat
        bucket_by={"raw_orders": "order_id"},
        bucketed=["orders_clean"],
        rows_per_bucket=1_000_000,
    )
    gate = DataQualityOperator(
        task_id="quality_gate",
        tables={
            "raw_orders": f"{STAGING}/raw_orders.parquet",
            "orders_clean": f"{STAGING}/orders_clean",  # bucketed: a folder of Parquet files
            "orders_quarantine": f"{STAGING}/orders_quarantine.parquet",
            "daily_revenue": f"{STAGING}/daily_revenue.parquet",
        },
        checks=CHECKS,
        # unique and reconcile hash every order_id of the day: past this, DuckDB spills them to disk
        # (a little slower) instead of holding memory that grows with the day
        memory_limit="192MB",
    )
    load_lake = LakePartitionOperator(
        task_id="load_lake",
        partitions=[
            {"partition": f"curated/orders_clean/date={DS}", "sources": [f"{STAGING}/orders_clean"]},
            {
                "partition": f"curated/daily_revenue/date={DS}",
                "sources": [f"{STAGING}/daily_revenue.parquet"],
            },
            {
                "partition": f"quarantine/orders/date={DS}",
                "sources": [f"{STAGING}/orders_quarantine.parquet"],
            },
        ],
    )
    load_warehouse = WarehouseLoadOperator(
        task_id="load_warehouse",
        tables={
            "orders_clean": {
                "source": f"{STAGING}/orders_clean",
                "ddl": {
                    "postgres": "etl/warehouse/postgres/orders_clean.sql",
                    "sqlite": "etl/warehouse/sqlite/orders_clean.sql",
                },
            },
            "daily_revenue": {
                "source": f"{STAGING}/daily_revenue.parquet",
                "ddl": {
                    "postgres": "etl/warehouse/postgres/daily_revenue.sql",
                    "sqlite": "etl/warehouse/sqlite/daily_revenue.sql",
                },
            },
        },
        partition_column="ds",
        partition_value=DS,
        # publish: the asset events are emitted when the warehouse load commits (after the lake's)
        outlets=[ORDERS_CLEAN, DAILY_REVENUE],
    )
    generate_raw() >> extract >> transform >> gate >> load_lake >> load_warehouse
