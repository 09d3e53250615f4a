"""KubernetesRolloutTrigger against the sandbox: verdicts, failures naming pods, timeouts, faults."""

from __future__ import annotations

import re
import threading
import time
from types import SimpleNamespace

import pytest

from harness.kube import wait_for
from podium.triggers.kubernetes import KubernetesRolloutTrigger, run_inline
from sandbox.manifests import deployment


def trigger(
    conn: str, name: str = "web", *, timeout: float = 60, grace: float = 5, kind: str = "Deployment", **kwargs
) -> KubernetesRolloutTrigger:
    return KubernetesRolloutTrigger(
        kind=kind,
        name=name,
        namespace="default",
        kubernetes_conn_id=conn,
        timeout_at=time.time() + timeout,
        pod_grace_seconds=grace,
        recheck_seconds=1,
        **kwargs,
    )


def set_image(apps, name: str, image: str) -> None:
    apps.patch_namespaced_deployment(
        name, "default", {"spec": {"template": {"spec": {"containers": [{"name": name, "image": image}]}}}}
    )


def test_serialize_round_trips(kube_conn) -> None:
    original = trigger(kube_conn, replicas_between=[2, 5])
    path, kwargs = original.serialize()
    assert path == "podium.triggers.kubernetes.KubernetesRolloutTrigger"
    assert KubernetesRolloutTrigger(**kwargs).serialize() == (path, kwargs)


def test_success(kube_conn, apps) -> None:
    apps.create_namespaced_deployment("default", deployment("web"))
    event = run_inline(trigger(kube_conn))
    assert event["status"] == "success"
    assert event["message"] == 'deployment "web" successfully rolled out'
    assert (event["kind"], event["name"], event["namespace"]) == ("Deployment", "web", "default")


@pytest.mark.parametrize(
    ("image", "reasons"),
    [
        ("nginx:1.28-crash", {"CrashLoopBackOff"}),
        ("nginx:1.28-nopull", {"ErrImagePull", "ImagePullBackOff"}),
    ],
)
def test_stuck_pods_fail_early_naming_pod_and_reason(kube_conn, apps, core, image, reasons) -> None:
    apps.create_namespaced_deployment("default", deployment("web", progressDeadlineSeconds=600))
    assert run_inline(trigger(kube_conn))["status"] == "success"
    set_image(apps, "web", image)
    event = run_inline(trigger(kube_conn, grace=5))
    assert event["status"] == "error"
    problems = event["verdict"]["problems"]
    assert problems
    assert {p["reason"] for p in problems} <= reasons
    bad_pods = {
        p.metadata.name
        for p in core.list_namespaced_pod("default", label_selector="app=web").items
        if p.spec.containers[0].image == image
    }
    assert {p["pod"] for p in problems} <= bad_pods
    assert {p["container"] for p in problems} == {"web"}
    assert event["message"].startswith('deployment "web" has pods that cannot start; pod web-')


def test_progress_deadline_is_a_failure(kube, kube_conn, apps) -> None:
    apps.create_namespaced_deployment("default", deployment("web", progressDeadlineSeconds=20))
    assert run_inline(trigger(kube_conn))["status"] == "success"
    set_image(apps, "web", "nginx:1.28-crash")
    event = run_inline(trigger(kube_conn, grace=3600))  # only the deadline can fail it
    assert event["status"] == "error"
    assert event["message"].startswith('deployment "web" exceeded its progress deadline')


def test_timeout(kube, kube_conn, apps) -> None:
    kube.call("POST", "ready-delay", {"seconds": 10_000})
    apps.create_namespaced_deployment("default", deployment("web"))
    event = run_inline(trigger(kube_conn, timeout=2))
    assert event["status"] == "timeout"
    assert event["message"].startswith("timed out waiting for deployment/web in namespace default: ")
    assert "0 of 3 updated replicas are available" in event["message"]


def test_missing_workload(kube_conn) -> None:
    event = run_inline(trigger(kube_conn, "ghost"))
    assert (event["status"], event["message"]) == (
        "error",
        "deployment/ghost in namespace default does not exist",
    )


def test_replicas_between_waits_for_the_bounds(kube_conn, apps) -> None:
    apps.create_namespaced_deployment("default", deployment("web", replicas=1))
    assert run_inline(trigger(kube_conn))["status"] == "success"
    threading.Timer(
        1.0, lambda: apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": 3}})
    ).start()
    event = run_inline(trigger(kube_conn, replicas_between=[3, 6]))
    assert event["status"] == "success"
    assert apps.read_namespaced_deployment("web", "default").status.available_replicas == 3


@pytest.mark.parametrize("image", ["nginx:1.28", "nginx:1.28-crash"])
def test_right_verdict_through_faults_cut_watches_and_compaction(kube, kube_conn, apps, image) -> None:
    apps.create_namespaced_deployment("default", deployment("web", progressDeadlineSeconds=600))
    wait_for(lambda: apps.read_namespaced_deployment("web", "default").status.available_replicas == 3)
    kube.faults(error_rate=0.1, error_status=429, retry_after=0, watch_close_after=0.3, seed=11)
    stop = threading.Event()

    def compact_repeatedly() -> None:  # every resumed watch may find its resourceVersion gone (410)
        while not stop.wait(0.2):
            kube.compact(keep=0)

    compactor = threading.Thread(target=compact_repeatedly, daemon=True)
    compactor.start()
    try:
        set_image(apps, "web", image)
        event = run_inline(trigger(kube_conn, grace=5))
    finally:
        stop.set()
        compactor.join()
    expected = "success" if image == "nginx:1.28" else "error"
    assert event["status"] == expected, event["message"]
    kube.faults(drop_rate=0.1, seed=3, watch_close_after=0.3)
    assert run_inline(trigger(kube_conn, grace=5))["status"] == expected


@pytest.mark.parametrize(
    ("spec", "status", "bounds", "within"),
    [
        (1, {"replicas": 1, "readyReplicas": 1}, [1, 1], True),
        (1, {"replicas": 3, "readyReplicas": 3}, [1, 1], False),  # scaled down, pods still terminating
        (1, {"replicas": 1, "readyReplicas": 3}, [1, 1], False),
        (4, {"replicas": 4, "readyReplicas": 2}, [4, 4], False),  # scaled up, not ready yet
        (3, {"replicas": 3, "readyReplicas": 3}, [2, 5], True),  # an HPA's bounds
        (0, {}, [0, 0], True),
        (2, {"replicas": 2, "readyReplicas": 2}, None, True),
    ],
)
def test_scale_waits_count_pods_not_only_the_spec(spec, status, bounds, within) -> None:
    from podium.kubernetes.waits import within as _within

    assert _within({"spec": {"replicas": spec}, "status": status}, bounds) is within


def test_an_event_waits_for_not_before(kube_conn, apps) -> None:
    """The settle time after a deferral (apache/airflow#72716): a rollout done at once resumes later."""
    apps.create_namespaced_deployment("default", deployment("web"))
    started = time.time()
    event = run_inline(trigger(kube_conn, not_before=started + 4))
    assert event["status"] == "success"
    assert time.time() - started >= 4
    # a wait that takes longer than the settle time is not delayed by it
    set_image(apps, "web", "nginx:1.28-crash")
    started = time.time()
    event = run_inline(trigger(kube_conn, not_before=started - 1))
    assert event["status"] == "error"


def test_a_deferral_holds_its_event_for_the_configured_settle_time(kube_conn, apps, monkeypatch) -> None:
    from airflow.sdk.exceptions import TaskDeferred

    from podium.operators.kubernetes import KubernetesRolloutOperator

    monkeypatch.setenv("AIRFLOW__PODIUM__DEFER_SETTLE_SECONDS", "7.5")
    apps.create_namespaced_deployment("default", deployment("web"))
    operator = KubernetesRolloutOperator(
        task_id="rollout",
        workload="deployment/web",
        images={"web": "nginx:1.29"},
        namespace="default",
        kubernetes_conn_id=kube_conn,
        deferrable=True,
    )
    before = time.time()
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute({"ti": SimpleNamespace(dag_id="d", run_id="r", task_id="rollout")})
    assert before + 7.5 <= deferred.value.trigger.not_before <= time.time() + 7.5


def test_a_quota_that_refuses_the_new_pods_is_named_with_the_workloads_conditions(
    kube_conn, apps, core
) -> None:
    """No pod of the new revision can exist: the failure says so and gives the Deployment's
    ReplicaFailure condition and the new ReplicaSet's FailedCreate events."""
    from sandbox.manifests import deployment as build

    apps.create_namespaced_deployment("default", build("web", progressDeadlineSeconds=6))
    assert run_inline(trigger(kube_conn))["status"] == "success"
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "pods"},
        "spec": {"hard": {"pods": "3"}},
    }
    core.create_namespaced_resource_quota("default", quota)
    set_image(apps, "web", "nginx:1.28")  # the surge pod of the new revision exceeds the quota
    event = run_inline(trigger(kube_conn, grace=3600))
    assert event["status"] == "error"
    message = event["message"]
    assert message.startswith(
        'deployment "web" exceeded its progress deadline; no pod of the new revision exists; deployment '
        'conditions: ReplicaFailure (FailedCreate): pods "web-'
    )
    assert "is forbidden: exceeded quota: pods, requested: pods=1, used: pods=3, limited: pods=3" in message
    assert re.search(
        r"; replicaset/web-\w+ warning events: FailedCreate: Error creating: pods \"web-", message
    )
    assert event["verdict"]["problems"] == []


def test_a_failed_statefulset_names_its_unready_pod(kube_conn, apps) -> None:
    from sandbox.manifests import statefulset

    apps.create_namespaced_stateful_set("default", statefulset("db", replicas=2))
    ready = run_inline(trigger(kube_conn, "db", kind="StatefulSet"))
    assert ready["status"] == "success", ready["message"]
    apps.patch_namespaced_stateful_set(
        "db",
        "default",
        {"spec": {"template": {"spec": {"containers": [{"name": "db", "image": "redis:8-crash"}]}}}},
    )
    event = run_inline(trigger(kube_conn, "db", kind="StatefulSet", grace=2))
    assert event["status"] == "error"
    assert re.search(r"; pod db-1 container db: CrashLoopBackOff \(\d+ restarts?\)", event["message"])
    assert "BackOff: Back-off restarting failed container db in pod db-1_default(" in event["message"]
