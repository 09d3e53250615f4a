"""Production's layout against moto's S3 server: the state in the ``s3`` backend (locked with a lock
file), the plan files in an ``s3://`` plan store through ObjectStoragePath and ``aws_default``."""

from __future__ import annotations

import json
from typing import Any

import pytest

from service.terraform.tf_env import MODULE, run_dag, states, xcoms

pytestmark = pytest.mark.usefixtures("airflow_db")


def test_plan_apply_outputs_with_state_and_plans_on_s3(
    s3_stack: dict[str, Any], capfd: pytest.CaptureFixture[str]
) -> None:
    args = {
        "module": str(MODULE),
        "environment": "production",
        "backend": "s3",
        "backend_config": {
            "bucket": "podium-tfstate",
            "key": "storefront/production.tfstate",
            "region": "us-east-1",
            "use_lockfile": True,
        },
        "terraform_conn_id": "terraform_s3",
    }

    def build() -> None:
        from podium.operators.terraform import (
            TerraformApplyOperator,
            TerraformOutputOperator,
            TerraformPlanOperator,
        )

        plan = TerraformPlanOperator(
            task_id="plan",
            variables={"environment": "production"},
            plan_store="s3://podium-tfplans/podium",
            plan_store_conn_id="aws_default",
            **args,
        )
        apply = TerraformApplyOperator(task_id="apply", plan_store_conn_id="aws_default", **args)
        plan >> apply >> TerraformOutputOperator(task_id="outputs", **args)

    run, log = run_dag(build, capfd)
    assert states(run) == {"plan": "success", "apply": "success", "outputs": "success"}, log[-3000:]
    values = xcoms(run)
    # ObjectStoragePath names its connection in the URI: s3://aws_default@podium-tfplans/podium/...
    assert values["plan"]["plan_uri"].startswith("s3://aws_default@podium-tfplans/podium/")
    assert values["outputs"]["outputs"]["bucket"] == "storefront-production-assets"
    s3 = s3_stack["s3"]
    state = json.loads(
        s3.get_object(Bucket="podium-tfstate", Key="storefront/production.tfstate")["Body"].read()
    )
    assert len(state["resources"]) == 3
    plans = [o["Key"] for o in s3.list_objects_v2(Bucket="podium-tfplans")["Contents"]]
    assert any(key.endswith("/production.tfplan") for key in plans)
    assert any(key.endswith("/production.tfplan.applied") for key in plans)
