"""podium_doctor: check that the Airflow connections podium's DAGs use exist and where they point."""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import DAG, Param

from podium.connections import CONN_ID_PATTERN
from podium.operators.connections import ConnectionCheckOperator

with DAG(
    dag_id="podium_doctor",
    doc_md="""
### podium doctor
Looks up the Airflow connections podium's DAGs use and reports what each points at (type, host,
port, safe extras; never secrets). Trigger it from the UI after setting up a new environment.

**Params**: `connections`, the connection ids to check; `require_all`, fail when any is missing.
""",
    schedule=None,
    catchup=False,
    tags=["podium", "ops"],
    default_args={"owner": "platform", "retries": 1, "retry_delay": timedelta(seconds=30)},
    render_template_as_native_obj=True,
    params={
        "connections": Param(
            ["kubernetes_default", "aws_default"],
            type="array",
            items={"type": "string", "pattern": CONN_ID_PATTERN},
            minItems=1,
            uniqueItems=True,
            title="Connections",
            description="Airflow connection ids to check.",
        ),
        "require_all": Param(
            False, type="boolean", title="Require all", description="Fail when any connection is missing."
        ),
    },
) as dag:
    ConnectionCheckOperator(
        task_id="check_connections",
        conn_ids="{{ params.connections }}",
        require_all="{{ params.require_all }}",
    )
