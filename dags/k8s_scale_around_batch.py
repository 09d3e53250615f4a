"""k8s_scale_around_batch: scale workers up for a batch job, and back down even if the job fails."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Param, task

from podium.operators.kubernetes import KubernetesApplyOperator, KubernetesScaleOperator

NAMESPACE = "podium-demo"

with DAG(
    dag_id="k8s_scale_around_batch",
    doc_md="""
### Scale around a batch job
Setup scales `deployment/demo-worker` up to `workers` replicas and waits until they are ready; the
batch Job (`include/manifests/batch-job.yaml`) runs; teardown scales the workers back to 0 whether the
job succeeded or not, so a failed batch never leaves a fleet running. `fail_batch` makes the job fail,
to see the teardown do its work.
""",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["podium", "kubernetes", "example", "scaling"],
    default_args={"owner": "platform", "retries": 1, "retry_delay": timedelta(seconds=30)},
    render_template_as_native_obj=True,
    params={
        "workers": Param(3, type="integer", minimum=1, maximum=50, title="Workers during the batch"),
        "fail_batch": Param(False, type="boolean", title="Make the batch fail (demo)"),
    },
) as dag:
    workers_exist = KubernetesApplyOperator(task_id="ensure_workers", manifest="manifests/demo-worker.yaml")
    scale_up = KubernetesScaleOperator(
        task_id="scale_up",
        workload="deployment/demo-worker",
        namespace=NAMESPACE,
        replicas="{{ params.workers }}",
    )
    submit = KubernetesApplyOperator(task_id="submit_batch", manifest="manifests/batch-job.yaml")

    @task
    def wait_for_batch(refs: list[dict]) -> str:
        """Wait for the Job to finish; fail when it failed."""
        from podium.exceptions import PermanentError
        from podium.hooks.kubernetes import PodiumKubernetesHook

        (job,) = [ref for ref in refs if ref["kind"] == "Job"]
        hook = PodiumKubernetesHook(conn_id="kubernetes_default")
        finished = hook.wait_until_job_complete(job["name"], job["namespace"], job_poll_interval=2)
        failed = hook.is_job_failed(finished)
        if failed:
            raise PermanentError(f"job {job['name']} failed: {failed}")
        return job["name"]

    scale_down = KubernetesScaleOperator(
        task_id="scale_down", workload="deployment/demo-worker", namespace=NAMESPACE, replicas=0
    ).as_teardown(setups=scale_up)

    batch = wait_for_batch(submit.output)  # type: ignore[arg-type]  # XComArg resolves at run time
    workers_exist >> scale_up >> submit >> batch >> scale_down
