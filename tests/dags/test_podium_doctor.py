"""podium_doctor, run for real with dag.test(): connections come from Airflow's secrets (env vars)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

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


# One distinct secret per place a connection can carry one, so a failure names the place that leaked.
LEAKS = {
    "host userinfo": "h0st-pa55word",
    "login": "l0gin-n4me-secret",
    "password": "pa55w0rd-f1eld",
    "schema userinfo": "sch3ma-pa55word",
    "schema token": "sch3ma-t0ken",
    "endpoint_url userinfo": "endp0int-pa55word",
    "endpoint_url signature": "endp0int-s1gnature",
    "endpoint_url token": "endp0int-t0ken",
    "service_config endpoint_url": "nest3d-pa55word",
    "service_config secret key": "nest3d-secret-key",
    "proxies": "pr0xy-pa55word",
    "secret extra": "aws-secret-access-key",
    "webhook token": "w3bhook-t0ken",
    "uri password": "ur1-pa55word",
    "uri endpoint_url": "ur1-endp0int-pa55word",
}


@pytest.fixture
def leaky_doctor(doctor: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The doctor, with connections that hold a secret in every place a URL can carry one."""
    from urllib.parse import quote

    monkeypatch.setenv(
        "AIRFLOW_CONN_PODIUM_TEST_MINIO",
        json.dumps(
            {
                "conn_type": "aws",
                "host": f"https://admin:{LEAKS['host userinfo']}@minio.internal:9000",
                "login": LEAKS["login"],
                "password": LEAKS["password"],
                "schema": (
                    f"https://admin:{LEAKS['schema userinfo']}@minio.internal/?token={LEAKS['schema token']}"
                ),
                "extra": {
                    "region_name": "eu-west-1",
                    "endpoint_url": (
                        f"https://admin:{LEAKS['endpoint_url userinfo']}@minio.internal:9000/bucket"
                        f"?X-Amz-Signature={LEAKS['endpoint_url signature']}"
                        f"&token={LEAKS['endpoint_url token']}"
                    ),
                    "service_config": {
                        "s3": {
                            "endpoint_url": (
                                f"https://s3user:{LEAKS['service_config endpoint_url']}@s3.internal"
                            ),
                            "aws_secret_access_key": LEAKS["service_config secret key"],
                        }
                    },
                    "proxies": {"https": f"http://proxy-user:{LEAKS['proxies']}@proxy.internal:3128"},
                    "aws_secret_access_key": LEAKS["secret extra"],
                    "webhook": f"https://hooks.internal/x?token={LEAKS['webhook token']}",
                },
            }
        ),
    )
    # The URI form: the password and an extra's URL %-encoded in it.
    endpoint = quote(f"https://minio:{LEAKS['uri endpoint_url']}@minio-uri.internal:9000", safe="")
    monkeypatch.setenv(
        "AIRFLOW_CONN_PODIUM_TEST_MINIO_URI",
        f"aws://AKIA:{LEAKS['uri password']}@minio-uri.internal:9000/?endpoint_url={endpoint}",
    )
    return doctor


def test_no_secret_reaches_xcom_or_the_log(leaky_doctor: Any, capfd: pytest.CaptureFixture[str]) -> None:
    run = leaky_doctor.test(run_conf={"connections": ["podium_test_minio", "podium_test_minio_uri"]})
    assert run.state == "success"
    reports = _xcom(run, "check_connections")
    out, err = capfd.readouterr()
    shown = json.dumps(reports)
    assert [place for place, secret in LEAKS.items() if secret in shown] == []
    assert [place for place, secret in LEAKS.items() if secret in out + err] == []
    # ... while where each connection points is still reported, in XCom and in the log
    minio, minio_uri = reports
    assert minio["host"] == "https://minio.internal:9000"
    assert minio["schema"] == "https://minio.internal/?token=***"
    assert minio["extra"] == {
        "aws_secret_access_key": "***",
        "endpoint_url": "https://minio.internal:9000/bucket?X-Amz-Signature=***&token=***",
        "proxies": {"https": "http://proxy.internal:3128"},
        "region_name": "eu-west-1",
        "service_config": {"s3": {"aws_secret_access_key": "***", "endpoint_url": "https://s3.internal"}},
        "webhook": "***",
    }
    assert (minio_uri["host"], minio_uri["port"]) == ("minio-uri.internal", 9000)
    assert minio_uri["extra"] == {"endpoint_url": "https://minio-uri.internal:9000"}
    assert re.search(r"podium_test_minio +found +aws https://minio\.internal:9000 schema=", out + err)
    assert re.search(r'podium_test_minio_uri +found .* "https://minio-uri\.internal:9000"', out + err)


def test_the_operator_returns_no_secret(leaky_doctor: Any) -> None:
    from podium.operators.connections import ConnectionCheckOperator

    operator = ConnectionCheckOperator(
        task_id="check", conn_ids=["podium_test_minio", "podium_test_minio_uri"], require_all=True
    )
    returned = json.dumps(operator.execute(context={}))
    assert [place for place, secret in LEAKS.items() if secret in returned] == []
    assert "https://minio.internal:9000/bucket?X-Amz-Signature=***&token=***" in returned
