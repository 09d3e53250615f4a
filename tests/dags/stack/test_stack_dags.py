"""The storefront-infra stack's DAGs: their shape from the DagBag, and the dev DAG run with dag.test()."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from airflow.dag_processing.dagbag import DagBag

from podium.exceptions import SpecError

REPO = Path(__file__).resolve().parents[3]
DAG_FILE = REPO / "dags" / "stack_storefront_infra.py"
ENVIRONMENTS = ("dev", "staging", "production")

pytestmark = pytest.mark.usefixtures("airflow_db")


@pytest.fixture(scope="module")
def bag(airflow_db: Path) -> DagBag:
    bag = DagBag(dag_folder=str(DAG_FILE))
    assert bag.import_errors == {}
    return bag


def test_two_dags_per_environment(bag: DagBag) -> None:
    assert sorted(bag.dag_ids) == sorted(
        [f"stack__storefront-infra__{env}" for env in ENVIRONMENTS]
        + [f"drift__storefront-infra__{env}" for env in ENVIRONMENTS]
    )
    for dag_id in bag.dag_ids:
        assert bag.get_dag(dag_id).max_active_runs == 1


@pytest.mark.parametrize(("env", "approval"), [("dev", False), ("staging", True), ("production", True)])
def test_plan_approve_apply_outputs(bag: DagBag, env: str, approval: bool) -> None:
    dag = bag.get_dag(f"stack__storefront-infra__{env}")
    order = ["plan", "approve", "apply", "outputs"]
    assert sorted(dag.task_ids) == sorted(order)
    for upstream, downstream in itertools.pairwise(order):
        assert dag.get_task(upstream).downstream_task_ids == {downstream}
    plan = dag.get_task("plan")
    assert plan.variables["environment"] == env
    assert plan.state_name == f"storefront-infra__{env}"
    assert plan.module == "terraform/storefront-infra"
    assert plan.destroy == "{{ params.destroy }}"
    # without approval, only a destroy asks: the plan skips the approval otherwise
    assert plan.destroy_approval_task_id == (None if approval else "approve")
    assert dag.params["destroy"] is False
    approve = dag.get_task("approve")
    assert type(approve).__name__ == "ApprovalOperator"
    assert "plan['sha256']" in approve.body
    assert "plan['summary']['headline']" in approve.body
    assert dag.get_task("apply").trigger_rule == "none_failed"
    assert [o.uri for o in dag.get_task("outputs").outlets] == [f"x-podium-stack://storefront-infra/{env}"]


def test_drift_dags_share_the_environment_state(bag: DagBag) -> None:
    schedules = {}
    for env in ENVIRONMENTS:
        dag = bag.get_dag(f"drift__storefront-infra__{env}")
        (task,) = dag.tasks
        assert task.task_id == "drift"
        assert task.state_name == f"storefront-infra__{env}"
        schedules[env] = dag.schedule
    assert schedules == {"dev": "@daily", "staging": "@daily", "production": "@hourly"}


def test_a_broken_spec_fails_the_dag_file(tmp_path: Path) -> None:
    from podium.stack import stack_dags

    spec = tmp_path / "broken.yaml"
    spec.write_text("apiVersion: podium/v1\nkind: Stack\nname: x\nmodule: .\nenvironments: [{name: dev}]\n")
    namespace: dict[str, Any] = {}
    with pytest.raises(SpecError, match=r"module \(line 4:1\): folder '.' holds no Terraform files"):
        stack_dags(spec, namespace)
    assert namespace == {}


def published_events(run_id: str) -> dict[str, dict]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(AssetModel.name, AssetEvent.extra)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetEvent.source_run_id == run_id)
        ).all()
    return dict(rows)


def test_the_dev_dag_applies_then_has_nothing_to_do(bag: DagBag) -> None:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    from podium.hooks.terraform import TerraformHook

    dag = bag.get_dag("stack__storefront-infra__dev")
    first = dag.test()
    assert {ti.task_id: str(ti.state) for ti in first.get_task_instances()} == {
        "plan": "success",
        "approve": "skipped",  # dev: no approval unless destroying
        "apply": "success",
        "outputs": "success",
    }
    with create_session() as session:
        row = session.scalars(
            XComModel.get_many(
                run_id=first.run_id, dag_ids=dag.dag_id, task_ids="outputs", key="return_value"
            )
        ).one()
        outputs = XComModel.deserialize_value(row)
    assert outputs["outputs"]["bucket"] == "storefront-dev-assets"
    assert outputs["sensitive"] == ["admin_password", "database_password"]
    assert published_events(first.run_id) == {
        "podium-stack/storefront-infra/dev": {"environment": "dev", "run_id": first.run_id, **outputs}
    }
    state = TerraformHook.home() / "state" / "storefront-infra__dev.tfstate"
    assert json.loads(state.read_text())["resources"]

    second = dag.test()
    assert {ti.task_id: str(ti.state) for ti in second.get_task_instances()} == {
        "plan": "success",
        "approve": "skipped",
        "apply": "skipped",
        "outputs": "skipped",
    }
