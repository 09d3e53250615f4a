"""ETL fixtures: a PostgreSQL warehouse database and a lake folder per test, wired as connections."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class Warehouse:
    name: str
    dsn: str
    conn_json: str


@pytest.fixture
def warehouse(postgres) -> Iterator[Warehouse]:
    """A fresh PostgreSQL database, dropped afterwards."""
    import psycopg

    name = f"podium_etl_{secrets.token_hex(4)}"
    with psycopg.connect(postgres.dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    conn_json = json.dumps(
        {
            "conn_type": "postgres",
            "host": postgres.host,
            "port": postgres.port,
            "login": postgres.user,
            "password": postgres.password,
            "schema": name,
        }
    )
    try:
        yield Warehouse(name=name, dsn=postgres.dsn(name), conn_json=conn_json)
    finally:
        with psycopg.connect(postgres.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    root = tmp_path / "lake"
    root.mkdir()
    return root


@pytest.fixture
def etl_connections(warehouse: Warehouse, lake: Path, monkeypatch: pytest.MonkeyPatch) -> Warehouse:
    """`lake` and `warehouse` connections (environment variables) for in-process runs."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_LAKE", json.dumps({"conn_type": "fs", "extra": {"path": f"file://{lake}"}})
    )
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", warehouse.conn_json)
    return warehouse
