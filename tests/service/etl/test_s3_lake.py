"""orders_daily with its lake on S3 (moto's server over HTTP, through the `aws_default` connection and
ObjectStoragePath, as in production) and its warehouse on PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag

from harness.etl_expected import expected_day, revenue_rows, table_checksum

pytestmark = pytest.mark.postgres
REPO = Path(__file__).resolve().parents[3]
BUCKET = "podium-lake"
DAY = date(2026, 1, 3)


def s3_client(endpoint: str):
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )


def objects(client, prefix: str) -> dict[str, str]:
    """Key -> ETag (the MD5 of the bytes, for these single-part uploads) of every object under prefix."""
    found: dict[str, str] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        found.update({item["Key"]: item["ETag"] for item in page.get("Contents", [])})
    return found


def run_day():
    dag = DagBag(dag_folder=str(REPO / "dags" / "orders_daily.py")).get_dag("orders_daily")
    return dag.test(
        logical_date=datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC) + timedelta(days=1),
        run_conf={"rows_per_day": 300, "min_orders": 1, "freshness": "6h"},
    )


def test_orders_daily_runs_on_an_s3_lake(etl_connections, aws_default, monkeypatch, airflow_db):
    import psycopg

    client = s3_client(aws_default)
    client.create_bucket(Bucket=BUCKET)
    monkeypatch.setenv(
        "AIRFLOW_CONN_LAKE",
        json.dumps(
            {"conn_type": "fs", "extra": {"path": f"s3://{BUCKET}/lake", "storage_conn_id": "aws_default"}}
        ),
    )
    first = run_day()
    assert first.state == "success", {ti.task_id: ti.state for ti in first.get_task_instances()}

    raw = client.get_object(Bucket=BUCKET, Key=f"lake/raw/orders/date={DAY}/orders.csv")["Body"].read()
    expected = expected_day(raw.decode(), DAY)
    with psycopg.connect(etl_connections.dsn) as conn:
        assert revenue_rows(conn, DAY) == expected["by_region"]
        assert conn.execute("SELECT count(*) FROM orders_clean").fetchone()[0] == expected["orders"]
        tables = {t: table_checksum(conn, t) for t in ("orders_clean", "daily_revenue")}

    published = {key: etag for key, etag in objects(client, "lake/").items() if "/_staging/" not in key}
    assert sorted({key.rsplit("/", 1)[0] for key in published}) == [
        f"lake/curated/daily_revenue/date={DAY}",
        f"lake/curated/orders_clean/date={DAY}",
        f"lake/quarantine/orders/date={DAY}",
        f"lake/raw/orders/date={DAY}",
    ]
    assert not [key for key in objects(client, "lake/") if "/.tmp-" in key]

    # the rerun replaces every partition with the same bytes and the warehouse with the same rows
    second = run_day()
    assert second.state == "success"
    assert {
        key: etag for key, etag in objects(client, "lake/").items() if "/_staging/" not in key
    } == published
    assert not [key for key in objects(client, "lake/") if "/.tmp-" in key]
    with psycopg.connect(etl_connections.dsn) as conn:
        assert {t: table_checksum(conn, t) for t in ("orders_clean", "daily_revenue")} == tables


def test_extract_from_an_s3_uri_into_a_local_lake(lake, aws_default, monkeypatch, airflow_db):
    """A full s3:// source names its connection the ObjectStoragePath way: s3://<conn_id>@bucket/key."""
    from harness.etl_helpers import read_parquet, run_task
    from podium.operators.etl_extract import ObjectStorageToParquetOperator

    monkeypatch.setenv(
        "AIRFLOW_CONN_LAKE", json.dumps({"conn_type": "fs", "extra": {"path": f"file://{lake}"}})
    )
    client = s3_client(aws_default)
    client.create_bucket(Bucket="partner-exports")
    client.put_object(
        Bucket="partner-exports", Key="2026-01-03/orders.csv", Body=b"id,amount\n1,9.50\n2,12.25\n"
    )
    state, value = run_task(
        lambda: ObjectStorageToParquetOperator(
            task_id="extract",
            source="s3://aws_default@partner-exports/{{ '2026-01-03' }}/orders.csv",
            staging="_staging/partner/date=2026-01-03/orders.parquet",
        )
    )
    assert state == "success"
    assert value["rows"] == 2
    assert read_parquet(lake / "_staging/partner/date=2026-01-03/orders.parquet") == [
        (1, Decimal("9.50")),
        (2, Decimal("12.25")),
    ]
