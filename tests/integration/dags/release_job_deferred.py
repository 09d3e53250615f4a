"""release_job_deferred: one ReleaseJobOperator waiting in the triggerer (no plan task).

Loaded by the integration tests' Airflow cluster as a second DAG bundle (tests/harness/cluster_fixtures.py)
and run by tests/integration/test_release_job_triggerer.py. The trigger form's ``image_tag`` picks the
Job's image: in the Kubernetes sandbox a tag ending in ``-fail`` makes the Job's pods fail.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, Param

from podium.operators.release_checks import ReleaseJobOperator

with DAG(
    dag_id="release_job_deferred",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["podium", "test"],
    default_args={"owner": "platform", "retries": 0},
    params={"image_tag": Param("1.0", type="string", pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")},
) as dag:
    ReleaseJobOperator(
        task_id="migrate",
        service="api",
        plan_task_id=None,
        job={
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "migrate"},
            "spec": {
                "backoffLimit": 1,
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "migrate", "image": "ghcr.io/podium-dev/migrate:latest"}],
                    }
                },
            },
        },
        image_overrides={"migrate": "ghcr.io/podium-dev/migrate:{{ params.image_tag }}"},
        namespace="default",
        timeout=180,
        poll_interval=1,
        deferrable=True,
    )
