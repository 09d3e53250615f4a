"""KubernetesJobTrigger and HttpCheckTrigger on their own: serialization (what the triggerer stores and
rebuilds them from), and events against the sandbox's API server, its faults and a closed port."""

from __future__ import annotations

import socket
import time

import pytest

from podium.hooks.kubernetes import PodiumKubernetesHook
from podium.triggers.http_check import HttpCheckTrigger
from podium.triggers.kubernetes import run_inline
from podium.triggers.kubernetes_job import KubernetesJobTrigger

JOB = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {"name": "migrate", "namespace": "default"},
    "spec": {
        "backoffLimit": 0,
        "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "app", "image": "x:1"}]}},
    },
}


@pytest.mark.parametrize(
    "trigger",
    [
        KubernetesJobTrigger(name="migrate-1", namespace="shop", timeout_at=1.5e9, not_before=1.4e9),
        HttpCheckTrigger(url="https://shop.example/ready", timeout_at=1.5e9, expected_status=204),
        HttpCheckTrigger(
            service_name="web", namespace="shop", port="http", path="/healthz", timeout_at=1.5e9
        ),
    ],
    ids=["job", "url", "service"],
)
def test_serialize_round_trips(trigger) -> None:
    path, kwargs = trigger.serialize()
    assert path == f"{type(trigger).__module__}.{type(trigger).__name__}"
    assert path.startswith("podium.triggers.")
    assert type(trigger)(**kwargs).serialize() == (path, kwargs)


@pytest.mark.parametrize("targets", [{}, {"url": "http://x", "service_name": "web"}], ids=["none", "both"])
def test_a_check_needs_exactly_one_target(targets) -> None:
    with pytest.raises(ValueError, match="give url= or service_name="):
        HttpCheckTrigger(timeout_at=0, **targets)


def job_trigger(conn: str, name: str, timeout: float = 60) -> KubernetesJobTrigger:
    return KubernetesJobTrigger(
        name=name,
        namespace="default",
        kubernetes_conn_id=conn,
        timeout_at=time.time() + timeout,
        poll_interval=0.2,
    )


def test_a_missing_job_is_an_error_event(kube_conn) -> None:
    event = run_inline(job_trigger(kube_conn, "ghost"))
    assert event["status"] == "error"
    assert event["message"].startswith("job/ghost: not found: ")
    assert (event["job"], event["namespace"], event["transient"]) == ("ghost", "default", False)


def test_a_job_completes_through_api_faults(kube, kube_conn) -> None:
    PodiumKubernetesHook(conn_id=kube_conn).apply(JOB)
    kube.faults(error_rate=0.3, error_status=503, retry_after=0, seed=7)
    event = run_inline(job_trigger(kube_conn, "migrate"))
    assert event == {
        "status": "success",
        "message": "job/migrate in default completed",
        "job": "migrate",
        "namespace": "default",
        "reason": "",
        "transient": False,
    }


def test_a_failed_job_event_has_its_reason_and_pods(kube, kube_conn) -> None:
    PodiumKubernetesHook(conn_id=kube_conn).apply(
        {
            **JOB,
            "spec": {
                **JOB["spec"],
                "template": {"spec": {"containers": [{"name": "app", "image": "x:1-fail"}]}},
            },
        }
    )
    event = run_inline(job_trigger(kube_conn, "migrate"))
    assert (event["status"], event["reason"]) == ("error", "BackoffLimitExceeded")
    assert event["message"].startswith("job/migrate in default failed (BackoffLimitExceeded: ")
    assert "; pod migrate-" in event["message"]
    assert event["message"].endswith("Failed: app Error exit code 1")


def test_an_api_that_keeps_failing_is_a_transient_error_event(kube, kube_conn) -> None:
    PodiumKubernetesHook(conn_id=kube_conn).apply(JOB)
    kube.faults(error_rate=1.0, error_status=503, retry_after=0, seed=1)
    event = run_inline(job_trigger(kube_conn, "migrate"))
    assert (event["status"], event["transient"]) == ("error", True)
    assert "Kubernetes API kept failing to get job/migrate in namespace default (HTTP 503" in event["message"]


def test_a_url_that_never_answers_times_out_saying_so() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    trigger = HttpCheckTrigger(
        url=f"http://127.0.0.1:{port}/ready", timeout_at=time.time() + 1, poll_interval=0.2
    )
    event = run_inline(trigger)
    assert (event["status"], event["http_status"]) == ("timeout", 0)
    assert event["attempts"] >= 2
    assert event["message"].startswith(f"http://127.0.0.1:{port}/ready answered nothing (expected 200) for ")
    assert "last answer: ClientConnectorError" in event["message"]


def test_a_service_that_does_not_exist_answers_404(kube, kube_conn) -> None:
    trigger = HttpCheckTrigger(
        service_name="ghost",
        namespace="default",
        port=80,
        kubernetes_conn_id=kube_conn,
        timeout_at=time.time() + 0.5,
        poll_interval=0.2,
    )
    event = run_inline(trigger)
    assert (event["status"], event["http_status"], event["target"]) == ("timeout", 404, "service/ghost:80/")
    assert 'services \\"ghost\\" not found' in event["message"]
