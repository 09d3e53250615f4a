"""The release's Job and check operators against the Kubernetes sandbox (and a local HTTP server)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from podium.hooks.kubernetes import PodiumKubernetesHook
from podium.operators.kubernetes import KubernetesRolloutOperator
from podium.operators.release import ReleaseCheckOperator, ReleaseJobOperator
from rollouts.helpers import run_task
from sandbox.manifests import deployment

SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "web"},
    "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80}]},
}


def job(image: str) -> list[dict]:
    return [
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "migrate"},
            "spec": {
                "backoffLimit": 1,
                "template": {
                    "spec": {"restartPolicy": "Never", "containers": [{"name": "app", "image": "x:0"}]}
                },
            },
        }
    ]


def check(kube_conn: str, **kwargs):
    return lambda: ReleaseCheckOperator(
        task_id="health",
        service="web",
        plan_task_id=None,
        kubernetes_conn_id=kube_conn,
        namespace="default",
        poll_interval=0.2,
        **kwargs,
    )


def test_service_check_through_the_api_server_proxy(kube, kube_conn, capfd, airflow_db) -> None:
    hook = PodiumKubernetesHook(conn_id=kube_conn)
    hook.apply({**SERVICE, "metadata": {"name": "web", "namespace": "default"}})
    # no pod behind the Service yet: the API server answers 503, and the check says so
    result = run_task(check(kube_conn, service_name="web", port=80, path="/healthz", check_timeout=1), capfd)
    assert result.state == "failed"
    assert "service/web:80/healthz answered 503 (expected 200)" in result.output
    assert 'no endpoints available for service \\"web:80\\"' in result.output

    rollout = run_task(
        lambda: KubernetesRolloutOperator(
            task_id="r",
            manifest=deployment("web", "ghcr.io/x/web:1.0", replicas=2),
            kubernetes_conn_id=kube_conn,
        ),
        capfd,
    )
    assert rollout.state == "success"
    ok = run_task(check(kube_conn, service_name="web", port=80, path="/healthz"), capfd)
    assert ok.state == "success"
    assert ok.value == {"target": "service/web:80/healthz", "status": 200, "attempts": 1}

    sick = run_task(
        lambda: KubernetesRolloutOperator(
            task_id="r",
            manifest=deployment("web", "ghcr.io/x/web:1.1-unhealthy", replicas=2),
            kubernetes_conn_id=kube_conn,
        ),
        capfd,
    )
    assert sick.state == "success"  # the pods run and are Ready ...
    failed = run_task(check(kube_conn, service_name="web", port=80, path="/healthz", check_timeout=1), capfd)
    assert failed.state == "failed"  # ... but the service answers 500
    assert "answered 500 (expected 200)" in failed.output
    assert "ghcr.io/x/web:1.1-unhealthy" in failed.output


@pytest.fixture
def http_server():
    answers: list[int] = [503, 503, 204]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status = answers.pop(0) if len(answers) > 1 else answers[0]
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_url_check_retries_until_the_expected_status(http_server, kube_conn, capfd, airflow_db) -> None:
    result = run_task(
        check(kube_conn, url=f"{http_server}/ready", expected_status=204, check_timeout=10), capfd
    )
    assert result.state == "success"
    assert result.value == {"target": f"{http_server}/ready", "status": 204, "attempts": 3}


def test_job_runs_to_completion_and_a_failed_job_names_its_pods(kube, kube_conn, capfd, airflow_db) -> None:
    def make(image: str):
        return lambda: ReleaseJobOperator(
            task_id="pre_migrate",
            service="api",
            plan_task_id=None,
            job=job(image),
            image_overrides={"app": image},
            kubernetes_conn_id=kube_conn,
            namespace="default",
            poll_interval=0.2,
            timeout=60,
        )

    done = run_task(make("ghcr.io/x/api:2.0"), capfd)
    assert done.state == "success"
    name = done.value["job"]
    assert name.startswith("migrate-")
    assert done.value["result"] == "Complete"
    created = PodiumKubernetesHook(conn_id=kube_conn).get("batch/v1", "Job", name, "default")
    assert created["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/x/api:2.0"

    failed = run_task(make("ghcr.io/x/api:2.1-fail"), capfd)
    assert failed.state == "failed"
    assert "failed (BackoffLimitExceeded" in failed.output
    assert "pod migrate-" in failed.output
    assert "Failed: app Error exit code 1" in failed.output
