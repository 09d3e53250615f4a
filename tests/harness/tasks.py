"""Run podium's operators for real: in a one-task DAG through dag.test() (deferrable runs the trigger)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any


@dataclass
class TaskResult:
    state: str
    tries: int
    value: Any
    output: str


def run_task(make_operator: Any, capfd: Any = None, **dag_kwargs: Any) -> TaskResult:
    """Build a one-task DAG with ``make_operator()`` inside it, run it with dag.test(), report.

    ``capfd``: pytest's fixture, to return what the run printed; ``dag_kwargs`` go to the DAG.
    """
    from airflow.models.xcom import XComModel
    from airflow.sdk import DAG
    from airflow.utils.session import create_session

    with DAG(
        dag_id=f"t_{uuid.uuid4().hex[:10]}",  # noqa: AIR304 (one throwaway DAG per test run)
        schedule=None,
        start_date=datetime(2026, 1, 1),
        default_args={"retries": 0, "retry_delay": timedelta(seconds=1)},
        **dag_kwargs,
    ) as dag:
        operator = make_operator()
    _serialize(dag)
    if capfd is not None:
        capfd.readouterr()
    run = dag.test()
    out, err = capfd.readouterr() if capfd is not None else ("", "")
    (ti,) = run.get_task_instances()
    with create_session() as session:
        row = session.scalars(
            XComModel.get_many(
                run_id=run.run_id, dag_ids=dag.dag_id, task_ids=operator.task_id, key="return_value"
            )
        ).first()
        value = XComModel.deserialize_value(row) if row else None
    return TaskResult(state=str(ti.state), tries=ti.try_number, value=value, output=out + err)


def _serialize(dag: Any) -> None:
    """Write an in-memory DAG to the metadata DB, as the dag-processor does for a DAG file."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    DagBundlesManager().sync_bundles_to_db()
    bag = DagBag(dag_folder="/nonexistent", collect_dags=False)
    bag.bag_dag(dag)
    sync_bag_to_db(bag, "dags-folder", None)
