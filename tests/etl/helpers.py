"""Run one podium ETL operator for real: in a one-task DAG through dag.test()."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from rollouts.helpers import _serialize


def run_task(make_operator: Any, **dag_kwargs: Any) -> tuple[str, Any]:
    """Build a one-task DAG around ``make_operator()``, run it with dag.test(); (state, return value)."""
    from airflow.models.xcom import XComModel
    from airflow.sdk import DAG
    from airflow.utils.session import create_session

    with DAG(
        dag_id=f"etl_{uuid.uuid4().hex[:10]}",
        schedule=None,
        start_date=datetime(2026, 1, 1),
        default_args={"retries": 0, "retry_delay": timedelta(seconds=1)},
        **dag_kwargs,
    ) as dag:
        operator = make_operator()
    _serialize(dag)
    run = dag.test()
    (ti,) = run.get_task_instances()
    with create_session() as session:
        row = session.scalars(
            XComModel.get_many(
                run_id=run.run_id, dag_ids=dag.dag_id, task_ids=operator.task_id, key="return_value"
            )
        ).first()
        value = XComModel.deserialize_value(row) if row else None
    return str(ti.state), value


def read_parquet(path: Any) -> list[tuple]:
    import duckdb

    with duckdb.connect() as duck:
        return duck.execute(
            "SELECT * FROM read_parquet(?, hive_partitioning = false) ORDER BY ALL", [str(path)]
        ).fetchall()
