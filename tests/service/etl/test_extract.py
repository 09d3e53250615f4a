"""Extract operators into Parquet staging: object storage (JSON lines), SQL (chunked), paginated HTTP API."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from harness.etl_helpers import read_parquet, run_task

STAGING = "_staging/extract/date=2026-01-03"


def test_object_storage_json_lines_into_parquet(lake, monkeypatch, airflow_db):
    from podium.operators.etl_extract import ObjectStorageToParquetOperator

    monkeypatch.setenv(
        "AIRFLOW_CONN_LAKE", json.dumps({"conn_type": "fs", "extra": {"path": f"file://{lake}"}})
    )
    source = lake / "landing" / "events" / "date=2026-01-03"
    source.mkdir(parents=True)
    (source / "a.jsonl").write_text('{"id": 1, "kind": "view"}\n{"id": 2, "kind": "buy"}\n')
    (source / "b.jsonl").write_text('{"id": 3, "kind": "view"}\n')

    state, value = run_task(
        lambda: ObjectStorageToParquetOperator(
            task_id="extract",
            source="landing/events/date={{ '2026-01-03' }}",
            source_format="jsonl",
            staging=f"{STAGING}/events.parquet",
        )
    )
    assert state == "success"
    assert value["rows"] == 3
    assert read_parquet(lake / STAGING / "events.parquet") == [(1, "view"), (2, "buy"), (3, "view")]


@pytest.mark.postgres
def test_sql_extract_in_chunks_through_a_server_side_cursor(etl_connections, lake, airflow_db):
    import psycopg

    from podium.operators.etl_extract import SqlToParquetOperator

    with psycopg.connect(etl_connections.dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE src (id int, label text, amount numeric(8,2))")
        conn.execute("INSERT INTO src SELECT i, 'row ' || i, i / 4.0 FROM generate_series(1, 2500) AS i")

    state, value = run_task(
        lambda: SqlToParquetOperator(
            task_id="extract",
            conn_id="warehouse",
            sql="SELECT id, label, amount FROM src WHERE id > %(after)s ORDER BY id",
            parameters={"after": 100},
            chunk_size=1000,
            staging=f"{STAGING}/src.parquet",
        )
    )
    assert state == "success"
    assert value["rows"] == 2400
    rows = read_parquet(lake / STAGING / "src.parquet")
    assert len(rows) == 2400
    assert rows[0][:2] == (101, "row 101")
    assert str(rows[-1][2]) == "625.00"


class _Api(BaseHTTPRequestHandler):
    """A paginated JSON API: /orders?page=N (10 per page, 25 records) and /events?cursor=C."""

    records = [{"id": i, "total": i * 1.5} for i in range(1, 26)]
    seen: list[str] = []

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.seen.append(self.path)
        if url.path == "/orders":
            page = int(query["page"])
            body: dict = {"items": self.records[(page - 1) * 10 : page * 10]}
        else:
            start = int(query.get("cursor", 0))
            body = {"data": self.records[start : start + 7]}
            if start + 7 < len(self.records):
                body["next"] = str(start + 7)
        payload = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def api_server(monkeypatch) -> Iterator[type[_Api]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv(
        "AIRFLOW_CONN_ORDERS_API",
        json.dumps(
            {"conn_type": "http", "host": "127.0.0.1", "port": server.server_address[1], "schema": "http"}
        ),
    )
    _Api.seen = []
    try:
        yield _Api
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize(
    ("pagination", "endpoint", "kwargs", "requests"),
    [
        ("page", "/orders", {"records_field": "items"}, 4),  # 3 full pages and an empty one
        ("cursor", "/events", {"records_field": "data", "cursor_field": "next"}, 4),  # 7+7+7+4
    ],
)
def test_paginated_http_api_into_parquet(
    api_server, lake, monkeypatch, airflow_db, pagination, endpoint, kwargs, requests
):
    from podium.operators.etl_extract import HttpApiToParquetOperator

    monkeypatch.setenv(
        "AIRFLOW_CONN_LAKE", json.dumps({"conn_type": "fs", "extra": {"path": f"file://{lake}"}})
    )
    state, value = run_task(
        lambda: HttpApiToParquetOperator(
            task_id="extract",
            http_conn_id="orders_api",
            endpoint=endpoint,
            pagination=pagination,
            staging=f"{STAGING}/api.parquet",
            **kwargs,
        )
    )
    assert state == "success"
    assert value["rows"] == 25
    assert len(api_server.seen) == requests
    assert read_parquet(lake / STAGING / "api.parquet") == [(r["id"], r["total"]) for r in _Api.records]
