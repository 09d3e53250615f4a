"""k8s_rollout: apply the demo app and roll it to the image tag from the trigger form; smoke-check it."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Param, task

from podium.operators.kubernetes import KubernetesRolloutOperator

NAMESPACE = "podium-demo"
# Docker's tag grammar: 1-128 characters, no leading dot or dash.
IMAGE_TAG = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"

with DAG(
    dag_id="k8s_rollout",
    doc_md="""
### Kubernetes rollout
Applies `include/manifests/demo-app.yaml` (namespace, config, service, deployment) with the image tag
from the trigger form, waits until the Deployment is rolled out, and smoke-checks that the Service
reaches ready pods on the new image. If the rollout fails (progress deadline, pods stuck in
CrashLoopBackOff or ImagePullBackOff, timeout) it is rolled back to the revision that was live before,
and the task fails naming the pods and reasons.

With `make run` this runs against the local Kubernetes sandbox: a tag ending in `-crash` or `-nopull`
shows a rollback.
""",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["podium", "kubernetes", "example"],
    default_args={"owner": "platform", "retries": 2, "retry_delay": timedelta(seconds=30)},
    params={
        "image_tag": Param(
            "1.0",
            type="string",
            pattern=IMAGE_TAG,
            title="Image tag",
            description="Tag of ghcr.io/podium-dev/demo-web to roll out.",
        ),
    },
) as dag:
    rollout = KubernetesRolloutOperator(
        task_id="rollout",
        manifest="manifests/demo-app.yaml",
        namespace=NAMESPACE,
        timeout=600,
        pod_grace_seconds=30,
    )

    @task(multiple_outputs=True)
    def smoke_check(result: dict) -> dict:
        """The Service reaches ready pods that run the image just rolled out."""
        from podium.exceptions import PermanentError
        from podium.hooks.kubernetes import PodiumKubernetesHook
        from podium.kube.smoke import service_selector, service_smoke_problems

        hook = PodiumKubernetesHook(conn_id="kubernetes_default")
        service = hook.get("v1", "Service", "demo-web", NAMESPACE)
        pods = hook.list("v1", "Pod", NAMESPACE, service_selector(service)) if service else []
        problems = service_smoke_problems(service, pods, result["images"])
        if problems:
            raise PermanentError("smoke check failed: " + "; ".join(problems))
        return {"service": "demo-web", "ready_pods": len(pods), "images": result["images"]}

    smoke_check(rollout.output)  # type: ignore[arg-type]  # XComArg resolves at run time
