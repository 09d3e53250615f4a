"""The Terraform operators on real Terraform, run as DAGs with dag.test() on the local backend.

plan -> apply -> outputs, then a second run with no changes; a stale plan refused with nothing applied;
a plan file changed after it was planned refused; a retried apply that recognises its own plan.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from service.terraform.tf_env import (
    ADMIN_PASSWORD,
    BACKEND_TOKEN,
    MODULE,
    all_xcom_text,
    run_dag,
    state_resources,
    states,
    xcoms,
)

pytestmark = pytest.mark.usefixtures("airflow_db")


def common(state: Path, conn_id: str = "terraform_default", **more: Any) -> dict[str, Any]:
    return {
        "module": str(MODULE),
        "environment": "dev",
        "backend_config": {"path": str(state)},
        "terraform_conn_id": conn_id,
        **more,
    }


def plan_apply_outputs(state: Path, conn_id: str, variables: dict[str, Any]) -> Callable[[], None]:
    def build() -> None:
        from podium.operators.terraform import (
            TerraformApplyOperator,
            TerraformOutputOperator,
            TerraformPlanOperator,
        )

        args = common(state, conn_id)
        plan = TerraformPlanOperator(task_id="plan", variables=variables, **args)
        apply = TerraformApplyOperator(task_id="apply", **args)
        plan >> apply >> TerraformOutputOperator(task_id="outputs", **args)

    return build


def test_plan_apply_outputs_then_a_second_run_changes_nothing(
    tmp_path: Path, terraform_conn: str, capfd: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "dev.tfstate"
    build = plan_apply_outputs(state, terraform_conn, {"environment": "dev"})
    run, log = run_dag(build, capfd)
    assert states(run) == {"plan": "success", "apply": "success", "outputs": "success"}
    values = xcoms(run)
    plan = values["plan"]
    assert plan["has_changes"] is True
    assert plan["summary"]["headline"] == "Plan: 3 to add, 0 to change, 0 to destroy."
    assert {r["address"] for r in plan["summary"]["resources"]} == {
        "terraform_data.assets_bucket",
        "terraform_data.database",
        "terraform_data.cart_cache",
    }
    assert Path(plan["plan_uri"].removeprefix("file://")).is_file()
    assert values["apply"] == {"applied": True, "already_applied": False, "sha256": plan["sha256"]}
    assert values["outputs"]["outputs"] == {
        "bucket": "storefront-dev-assets",
        "cache_nodes": 1,
        "database_endpoint": "storefront_dev.db.dev.storefront.internal:5432",
        "database_name": "storefront_dev",
    }
    assert values["outputs"]["sensitive"] == ["admin_password", "database_password"]
    # the sensitive values: one from the connection, one only Terraform knows (derived from the state)
    from podium.hooks.terraform import TerraformHook

    with TerraformHook(terraform_conn).working_copy(MODULE, backend_config={"path": str(state)}) as ws:
        ws.init()
        generated = ws.outputs()["database_password"]["value"]
    assert len(generated) == 24
    for secret in (ADMIN_PASSWORD, generated, BACKEND_TOKEN):
        assert secret not in log
        assert secret not in all_xcom_text(run)
    serial = json.loads(state.read_text())["serial"]

    again, _ = run_dag(build, capfd)
    assert states(again) == {"plan": "success", "apply": "skipped", "outputs": "skipped"}
    assert xcoms(again)["plan"]["has_changes"] is False
    assert json.loads(state.read_text())["serial"] == serial, "nothing was applied"


def test_a_stale_plan_is_refused_and_nothing_is_applied(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Between plan and apply another plan is applied to the same state: the first plan is stale."""
    state = tmp_path / "dev.tfstate"

    def build() -> None:
        from podium.operators.terraform import TerraformApplyOperator, TerraformPlanOperator

        plan = TerraformPlanOperator(task_id="plan", variables={"environment": "dev"}, **common(state))
        other = common(state, environment="other")
        other_plan = TerraformPlanOperator(task_id="other_plan", variables={"environment": "qa"}, **other)
        other_apply = TerraformApplyOperator(task_id="other_apply", plan_task_id="other_plan", **other)
        apply = TerraformApplyOperator(task_id="apply", **common(state))
        plan >> other_plan >> other_apply >> apply

    run, log = run_dag(build, capfd)
    assert states(run) == {
        "plan": "success",
        "other_plan": "success",
        "other_apply": "success",
        "apply": "failed",
    }
    assert "is stale: the state changed after it was planned" in log
    assert "Terraform applied nothing" in log
    resources = state_resources(state)
    assert resources["terraform_data.assets_bucket"]["input"]["value"]["name"] == "storefront-qa-assets"


def test_a_plan_file_changed_after_it_was_planned_is_refused(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """The stored plan is replaced by another valid plan (of other variables): its digest differs."""
    state = tmp_path / "dev.tfstate"

    def build() -> None:
        from airflow.sdk import task

        from podium.operators.terraform import TerraformApplyOperator, TerraformPlanOperator

        plan = TerraformPlanOperator(task_id="plan", variables={"environment": "dev"}, **common(state))
        other = TerraformPlanOperator(
            task_id="other_plan", variables={"environment": "evil"}, **common(state, environment="other")
        )

        @task(task_id="swap")
        def swap(ti: Any = None) -> None:
            planned, swapped = (ti.xcom_pull(task_ids=t)["plan_uri"] for t in ("plan", "other_plan"))
            Path(planned.removeprefix("file://")).write_bytes(
                Path(swapped.removeprefix("file://")).read_bytes()
            )

        plan >> other >> swap() >> TerraformApplyOperator(task_id="apply", **common(state))

    run, log = run_dag(build, capfd)
    assert states(run)["apply"] == "failed"
    assert "changed or replaced after approval; nothing was applied" in log
    assert not state.exists() or state_resources(state) == {}


def test_a_retried_apply_recognises_the_plan_it_applied(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """The first try applied but crashed before recording it: the retry finds the plan in the state."""
    state = tmp_path / "dev.tfstate"

    def build() -> None:
        from airflow.sdk import task

        from podium.operators.terraform import TerraformApplyOperator, TerraformPlanOperator

        plan = TerraformPlanOperator(task_id="plan", variables={"environment": "dev"}, **common(state))
        first = TerraformApplyOperator(task_id="apply", **common(state))

        @task(task_id="crash")
        def crash(ti: Any = None) -> None:  # what a crash after apply, before the marker, leaves
            uri = ti.xcom_pull(task_ids="plan")["plan_uri"]
            Path(uri.removeprefix("file://") + ".applied").unlink()

        retry = TerraformApplyOperator(task_id="retry", **common(state))
        plan >> first >> crash() >> retry

    run, log = run_dag(build, capfd)
    assert states(run) == {"plan": "success", "apply": "success", "crash": "success", "retry": "success"}
    assert xcoms(run)["retry"]["already_applied"] is True
    assert "an earlier try applied this plan" in log


def test_no_drift_on_a_fresh_apply(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "dev.tfstate"
    build_apply = plan_apply_outputs(state, "terraform_default", {"environment": "dev"})
    run, _ = run_dag(build_apply, capfd)
    assert states(run)["apply"] == "success"

    def build() -> None:
        from podium.operators.terraform import TerraformDriftOperator

        TerraformDriftOperator(task_id="drift", variables={"environment": "dev"}, **common(state))

    drift, log = run_dag(build, capfd)
    assert states(drift) == {"drift": "success"}
    assert xcoms(drift)["drift"]["drifted"] is False
    assert "No drift: the infrastructure matches the state." in log


def test_a_destroy_plan_removes_everything(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "dev.tfstate"
    applied, _ = run_dag(plan_apply_outputs(state, "terraform_default", {"environment": "dev"}), capfd)
    assert states(applied)["apply"] == "success"
    assert len(state_resources(state)) == 3

    def build() -> None:
        from podium.operators.terraform import TerraformApplyOperator, TerraformPlanOperator

        plan = TerraformPlanOperator(
            task_id="plan", variables={"environment": "dev"}, destroy="True", **common(state)
        )
        plan >> TerraformApplyOperator(task_id="apply", **common(state))

    destroyed, log = run_dag(build, capfd)
    assert states(destroyed) == {"plan": "success", "apply": "success"}
    assert xcoms(destroyed)["plan"]["summary"]["headline"] == "Plan: 0 to add, 0 to change, 3 to destroy."
    assert "planning the DESTRUCTION" in log
    assert state_resources(state) == {}
