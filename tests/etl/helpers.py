"""Run one podium ETL operator for real: in a one-task DAG through dag.test()."""

from __future__ import annotations

from typing import Any

from rollouts.helpers import run_task as run_one_task


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
