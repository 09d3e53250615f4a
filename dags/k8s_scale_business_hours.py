"""k8s_scale_business_hours: scale the demo app up for business hours and down after, Berlin time."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, MultipleCronTriggerTimetable, Param

from podium.operators.kubernetes import KubernetesScaleOperator

TIMEZONE = "Europe/Berlin"

with DAG(
    dag_id="k8s_scale_business_hours",
    doc_md="""
### Scale for business hours
Runs at 08:00 and 18:00 on weekdays, Europe/Berlin time (daylight saving handled by the timetable).
The 08:00 run scales `deployment/demo-web` to `business_replicas`, the 18:00 run to
`off_hours_replicas`. A manual trigger scales for the hour it runs at. When a HorizontalPodAutoscaler
targets the deployment, its minReplicas/maxReplicas are set instead (the log says so).
""",
    schedule=MultipleCronTriggerTimetable("0 8 * * 1-5", "0 18 * * 1-5", timezone=TIMEZONE),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["podium", "kubernetes", "example", "scaling"],
    default_args={"owner": "platform", "retries": 3, "retry_delay": timedelta(minutes=1)},
    render_template_as_native_obj=True,
    params={
        "business_replicas": Param(
            4, type="integer", minimum=1, maximum=100, title="Business-hours replicas"
        ),
        "off_hours_replicas": Param(1, type="integer", minimum=0, maximum=100, title="Off-hours replicas"),
    },
) as dag:
    KubernetesScaleOperator(
        task_id="scale",
        workload="deployment/demo-web",
        namespace="podium-demo",
        replicas=(
            "{{ params.business_replicas if 8 <= (logical_date or dag_run.run_after)"
            f".in_timezone('{TIMEZONE}').hour < 18 else params.off_hours_replicas }}}}"
        ),
        timeout=600,
    )
