"""Run one podium ETL operator for real: in a one-task DAG through dag.test()."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.tasks import run_task as run_one_task


def run_task(make_operator: Any, **dag_kwargs: Any) -> tuple[str, Any]:
    """Build a one-task DAG around ``make_operator()``, run it with dag.test(); (state, return value)."""
    result = run_one_task(make_operator, **dag_kwargs)
    return result.state, result.value


def read_parquet(path: Any) -> list[tuple]:
    import duckdb

    with duckdb.connect() as duck:
        return duck.execute(
            "SELECT * FROM read_parquet(?, hive_partitioning = false) ORDER BY ALL", [str(path)]
        ).fetchall()


def orders_parquet(path: Path, day: str, rows: int, version: int, *, bad_row: bool = False) -> Path:
    """``rows`` orders_clean-shaped rows of ``day``, the version baked into ids and amounts; with
    ``bad_row``, one of them has a NULL status (the warehouse's NOT NULL refuses it)."""
    import duckdb

    with duckdb.connect() as duck:
        duck.execute(
            f"""COPY (
                SELECT DATE '{day}' AS ds, 'v{version}-' || lpad(i::VARCHAR, 8, '0') AS order_id,
                       (i % 500 + 1)::INTEGER AS customer_id,
                       ['amer', 'apac', 'emea', 'latam'][(i % 4 + 1)::INTEGER] AS region,
                       TIMESTAMP '{day}' + to_seconds(i % 86400) AS order_ts,
                       ((i * 7919 + {version}) % 50000 / 100)::DECIMAL(12, 2) AS amount,
                       CASE WHEN {str(bad_row).lower()} AND i = {rows} - 7 THEN NULL ELSE 'placed' END
                           AS status,
                       false AS is_late
                FROM range({rows}) AS t(i)
            ) TO '{path}' (FORMAT parquet)"""
        )
    return path
