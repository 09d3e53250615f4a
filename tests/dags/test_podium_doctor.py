"""podium_doctor, run for real with dag.test(): connections come from Airflow's secrets (env vars)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag

REPO = Path(__file__).resolve().parents[2]
SECRET = "pa55-w0rd-not-for-logs"


@pytest.fixture
def doctor(airflow_db: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_PODIUM_TEST_WAREHOUSE",
        json.dumps(
            {
                "conn_type": "postgres",
                "host": "db.internal",
                "port": 5432,
                "login": "etl",
                "password": SECRET,
                "schema": "warehouse",
                "extra": {"sslmode": "require", "token": SECRET},
            }
        ),
    )
    return DagBag(dag_folder=str(REPO / "dags" / "podium_doctor.py")).get_dag("podium_doctor")


def _xcom(dag_run, task_id: str):
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.scalars(
            XComModel.get_many(
                run_id=dag_run.run_id, dag_ids=dag_run.dag_id, task_ids=task_id, key="return_value"
            )
        ).first()
        return XComModel.deserialize_value(row) if row else None


def test_reports_found_and_missing_connections_without_secrets(doctor) -> None:
    run = doctor.test(run_conf={"connections": ["podium_test_warehouse", "podium_test_absent"]})
    assert run.state == "success"
    reports = _xcom(run, "check_connections")
    assert reports == [
        {
            "conn_id": "podium_test_warehouse",
            "found": True,
            "conn_type": "postgres",
            "host": "db.internal",
            "port": 5432,
            "schema": "warehouse",
            "extra": {"sslmode": "***", "token": "***"},
        },
        {
            "conn_id": "podium_test_absent",
            "found": False,
            "conn_type": None,
            "host": None,
            "port": None,
            "schema": None,
            "extra": {},
        },
    ]
    assert SECRET not in json.dumps(reports)


def test_require_all_fails_at_once_naming_the_missing_connection(doctor, capfd) -> None:
    run = doctor.test(
        run_conf={"connections": ["podium_test_warehouse", "podium_test_absent"], "require_all": True}
    )
    assert run.state == "failed"
    (ti,) = run.get_task_instances()
    # PermanentError is an AirflowFailException: the task has retries=1 but must not be retried.
    assert (ti.state, ti.try_number) == ("failed", 1)
    out, err = capfd.readouterr()
    assert "missing Airflow connection(s): podium_test_absent" in out + err
    assert SECRET not in out + err
