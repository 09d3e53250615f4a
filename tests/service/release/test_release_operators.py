"""The release's Job and check operators against the Kubernetes sandbox (and a local HTTP server), in both
modes: inline in the worker, and deferred (dag.test() runs the deferred trigger in-process)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness.tasks import run_task
from podium.hooks.kubernetes import PodiumKubernetesHook
from podium.operators.kubernetes import KubernetesRolloutOperator
from podium.operators.release import ReleasePlanOperator, ReleaseRollbackOperator
from podium.operators.release_checks import ReleaseCheckOperator, ReleaseJobOperator
from sandbox.manifests import deployment

SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "web"},
    "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80}]},
}


MODES = pytest.mark.parametrize("deferrable", [False, True], ids=["sync", "deferrable"])


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


def check(kube_conn: str, deferrable: bool = False, **kwargs):
    return lambda: ReleaseCheckOperator(
        task_id="health",
        service="web",
        plan_task_id=None,
        kubernetes_conn_id=kube_conn,
        namespace="default",
        poll_interval=0.2,
        deferrable=deferrable,
        **kwargs,
    )


def deferred(output: str) -> bool:
    """Whether the task of a dag.test() run deferred (its log says so before the trigger runs)."""
    return "Pausing task as DEFERRED" in output


@MODES
def test_service_check_through_the_api_server_proxy(kube, kube_conn, capfd, airflow_db, deferrable) -> None:
    hook = PodiumKubernetesHook(conn_id=kube_conn)
    hook.apply({**SERVICE, "metadata": {"name": "web", "namespace": "default"}})
    # no pod behind the Service yet: the API server answers 503, and the check says so
    result = run_task(
        check(kube_conn, deferrable, service_name="web", port=80, path="/healthz", check_timeout=1), capfd
    )
    assert deferred(result.output) == deferrable
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
    ok = run_task(check(kube_conn, deferrable, service_name="web", port=80, path="/healthz"), capfd)
    assert ok.state == "success", ok.output[-2000:]
    assert deferred(ok.output) == deferrable
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
    failed = run_task(
        check(kube_conn, deferrable, service_name="web", port=80, path="/healthz", check_timeout=1), capfd
    )
    assert failed.state == "failed"  # ... but the service answers 500
    assert "answered 500 (expected 200)" in failed.output
    assert "ghcr.io/x/web:1.1-unhealthy" in failed.output


@pytest.fixture
def http_server(request):
    """A local HTTP server answering the statuses of ``request.param`` in turn (the last one for good)."""
    answers: list[int] = list(getattr(request, "param", [503, 503, 204]))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status = answers.pop(0) if len(answers) > 1 else answers[0]
            body = b"" if status in (204, 304) else f"status {status} from {self.path}".encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@MODES
def test_url_check_retries_until_the_expected_status(
    http_server, kube_conn, capfd, airflow_db, deferrable
) -> None:
    result = run_task(
        check(kube_conn, deferrable, url=f"{http_server}/ready", expected_status=204, check_timeout=10), capfd
    )
    assert result.state == "success", result.output[-2000:]
    assert deferred(result.output) == deferrable
    assert result.value == {"target": f"{http_server}/ready", "status": 204, "attempts": 3}


@MODES
@pytest.mark.parametrize("http_server", [[500]], indirect=True)
def test_url_check_fails_at_its_timeout_naming_the_last_answer(
    http_server, kube_conn, capfd, airflow_db, deferrable
) -> None:
    result = run_task(check(kube_conn, deferrable, url=f"{http_server}/ready", check_timeout=1), capfd)
    assert (result.state, result.tries) == ("failed", 1)  # PermanentError: no retry
    assert deferred(result.output) == deferrable
    assert f"{http_server}/ready answered 500 (expected 200) for " in result.output
    assert "last answer: status 500 from /ready" in result.output


def test_url_check_refuses_a_url_that_is_not_http(kube_conn, capfd, airflow_db) -> None:
    result = run_task(check(kube_conn, url="file:///etc/passwd"), capfd)
    assert result.state == "failed"
    assert "url must be http(s): 'file:///etc/passwd'" in result.output


def make_job(kube_conn: str, image: str, deferrable: bool, **kwargs):
    kwargs.setdefault("timeout", 60)
    return lambda: ReleaseJobOperator(
        task_id="pre_migrate",
        service="api",
        plan_task_id=None,
        job=job(image),
        image_overrides={"app": image},
        kubernetes_conn_id=kube_conn,
        namespace="default",
        poll_interval=0.2,
        deferrable=deferrable,
        **kwargs,
    )


@MODES
def test_job_runs_to_completion_and_a_failed_job_names_its_pods(
    kube, kube_conn, capfd, airflow_db, deferrable
) -> None:
    def make(image: str):
        return make_job(kube_conn, image, deferrable)

    done = run_task(make("ghcr.io/x/api:2.0"), capfd)
    assert done.state == "success", done.output[-2000:]
    assert deferred(done.output) == deferrable
    name = done.value["job"]
    assert name.startswith("migrate-")
    assert done.value["result"] == "Complete"
    created = PodiumKubernetesHook(conn_id=kube_conn).get("batch/v1", "Job", name, "default")
    assert created["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/x/api:2.0"

    failed = run_task(make("ghcr.io/x/api:2.1-fail"), capfd)
    assert (failed.state, failed.tries) == ("failed", 1)  # PermanentError: no retry
    assert deferred(failed.output) == deferrable
    assert "failed (BackoffLimitExceeded" in failed.output
    assert "pod migrate-" in failed.output
    assert "Failed: app Error exit code 1" in failed.output


@MODES
def test_a_job_still_running_at_its_timeout_fails_naming_its_pod_and_reason(
    kube, kube_conn, capfd, airflow_db, deferrable
) -> None:
    result = run_task(make_job(kube_conn, "ghcr.io/x/api:2.2-nopull", deferrable, timeout=3), capfd)
    assert (result.state, result.tries) == ("failed", 1)
    assert deferred(result.output) == deferrable
    line = next(line for line in result.output.splitlines() if "did not complete by the timeout" in line)
    assert "job/migrate-" in line
    assert "pod migrate-" in line
    assert "Pending: app ErrImagePull" in line or "Pending: app ImagePullBackOff" in line


@pytest.mark.parametrize("operator", [ReleaseRollbackOperator, ReleasePlanOperator])
def test_tasks_that_never_defer_refuse_deferrable(operator) -> None:
    arguments = (
        {"order": ["a"], "service_tasks": {"a": []}}
        if operator is ReleaseRollbackOperator
        else {"services": {}}
    )
    with pytest.raises(ValueError, match="deferrable=True is not supported"):
        operator(task_id="t", deferrable=True, **arguments)
    assert operator(task_id="t", deferrable=False, **arguments).deferrable is False
