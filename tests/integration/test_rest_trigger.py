"""Trigger an example DAG through the REST API v2 exactly as the web UI's trigger form does."""

from __future__ import annotations

import json

import pytest

from integration.conftest import IT_SECRET

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

DAG_ID = "podium_doctor"


@pytest.fixture(scope="module")
def doctor(airflow_cluster):
    airflow_cluster.wait_for_dag(DAG_ID)
    airflow_cluster.unpause(DAG_ID)
    return airflow_cluster


def test_triggered_run_succeeds_on_the_postgres_metadata_db(doctor, postgres, metadata_db) -> None:
    response = doctor.trigger(DAG_ID, {"connections": ["podium_it_warehouse", "podium_it_absent"]})
    assert response.status_code == 200, response.text
    run_id = response.json()["dag_run_id"]

    assert doctor.wait_for_run(DAG_ID, run_id) == "success"

    reports = doctor.xcom(DAG_ID, run_id, "check_connections")
    assert [(r["conn_id"], r["found"], r["host"]) for r in reports] == [
        ("podium_it_warehouse", True, "warehouse.internal"),
        ("podium_it_absent", False, None),
    ]
    assert IT_SECRET not in json.dumps(reports)

    # The run is a row in this session's own PostgreSQL database: the harness really ran on it.
    import psycopg

    with psycopg.connect(postgres.dsn(metadata_db)) as conn:
        row = conn.execute(
            "SELECT state, conf FROM dag_run WHERE dag_id = %s AND run_id = %s", (DAG_ID, run_id)
        )
        state, conf = row.fetchone()
    assert state == "success"
    assert conf == {"connections": ["podium_it_warehouse", "podium_it_absent"]}


@pytest.mark.parametrize(
    ("conf", "complaint"),
    [
        ({"connections": ["bad id!"]}, "does not match"),
        ({"connections": []}, "should be non-empty"),
        ({"connections": "kubernetes_default"}, "is not of type 'array'"),
        ({"connections": ["a", "a"]}, "non-unique"),
        ({"require_all": "yes"}, "is not of type 'boolean'"),
    ],
)
def test_conf_violating_a_param_gets_400_and_creates_no_run(doctor, conf, complaint) -> None:
    before = {run["dag_run_id"] for run in doctor.runs(DAG_ID)}

    response = doctor.trigger(DAG_ID, conf)

    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert complaint in detail
    assert next(iter(conf)) in detail
    assert {run["dag_run_id"] for run in doctor.runs(DAG_ID)} == before


def test_nothing_failed_to_import(doctor) -> None:
    assert doctor.api("GET", "/importErrors").json()["import_errors"] == []
    listed = doctor.cli("dags", "list-import-errors", "-o", "json").stdout
    assert json.loads(listed.strip().splitlines()[-1]) == []
    assert "podium" in doctor.cli("plugins", "-o", "json").stdout
