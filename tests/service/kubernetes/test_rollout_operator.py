"""KubernetesRolloutOperator against the sandbox, sync and deferrable, as Airflow runs it (dag.test())."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.kube import wait_for
from harness.tasks import run_task
from podium.operators.kubernetes import KubernetesRolloutOperator
from sandbox.manifests import deployment

REPO = Path(__file__).resolve().parents[3]
PATHS = os.pathsep.join([str(REPO / "plugins"), str(REPO / "tests")])


@pytest.fixture
def web(apps, airflow_db):
    """deployment/web at revision 1 (nginx:1.27), rolled out."""
    apps.create_namespaced_deployment("default", deployment("web", progressDeadlineSeconds=600))
    wait_for(lambda: apps.read_namespaced_deployment("web", "default").status.available_replicas == 3)
    return apps


def rollout(conn: str, deferrable: bool, **kwargs):
    kwargs.setdefault("workload", "deployment/web")
    kwargs.setdefault("timeout", 60)
    kwargs.setdefault("pod_grace_seconds", 5)
    return lambda: KubernetesRolloutOperator(
        task_id="roll", kubernetes_conn_id=conn, deferrable=deferrable, **kwargs
    )


def image_of(apps) -> str:
    return apps.read_namespaced_deployment("web", "default").spec.template.spec.containers[0].image


def rolled_out(apps) -> bool:
    live = apps.read_namespaced_deployment("web", "default")
    status = live.status
    return live.metadata.generation == status.observed_generation and (
        status.updated_replicas == status.replicas == status.available_replicas == live.spec.replicas
    )


def failure_line(output: str) -> str:
    return next(line for line in reversed(output.splitlines()) if "PermanentError: rollout of" in line)


@pytest.mark.parametrize("deferrable", [False, True], ids=["sync", "deferrable"])
def test_good_image_rolls_out(kube_conn, web, kubectl, capfd, deferrable) -> None:
    result = run_task(rollout(kube_conn, deferrable, images={"web": "nginx:1.28"}), capfd)
    assert result.state == "success", result.output[-2000:]
    assert result.value == {
        "kind": "Deployment",
        "name": "web",
        "namespace": "default",
        "revision": 2,
        "previous_revision": 1,
        "images": {"web": "nginx:1.28"},
    }
    assert kubectl("rollout", "status", "deployment/web", "--timeout=5s").stdout.strip() == (
        'deployment "web" successfully rolled out'
    )


@pytest.mark.parametrize("deferrable", [False, True], ids=["sync", "deferrable"])
@pytest.mark.parametrize(
    ("image", "reasons"),
    [
        ("nginx:1.28-crash", ("CrashLoopBackOff",)),
        ("nginx:1.28-nopull", ("ErrImagePull", "ImagePullBackOff")),
    ],
)
def test_failing_image_is_rolled_back_and_the_task_says_why(
    kube_conn, web, core, kubectl, capfd, deferrable, image, reasons
) -> None:
    result = run_task(rollout(kube_conn, deferrable, images={"web": image}), capfd)
    assert (result.state, result.tries) == ("failed", 1)  # a failed rollout is not retried
    message = failure_line(result.output)
    assert "rollout of deployment/web in namespace default failed: " in message
    assert "pod web-" in message
    assert " container web: " in message
    assert any(reason in message for reason in reasons)
    assert message.endswith("Rolled back to revision 1.")
    assert image_of(web) == "nginx:1.27"
    status = kubectl("rollout", "status", "deployment/web", "--timeout=30s")
    assert status.stdout.strip().endswith('deployment "web" successfully rolled out')
    # kubectl's undo semantics: revision 1's ReplicaSet is re-used as revision 3
    assert (
        web.read_namespaced_deployment("web", "default").metadata.annotations[
            "deployment.kubernetes.io/revision"
        ]
        == "3"
    )
    pods = core.list_namespaced_pod("default", label_selector="app=web").items
    assert {p.spec.containers[0].image for p in pods} == {"nginx:1.27"}


def test_timeout_rolls_back(kube_conn, web, capfd) -> None:
    slow = deployment("web", image="nginx:1.29", progressDeadlineSeconds=600)
    slow["spec"]["template"]["metadata"]["annotations"] = {"sandbox.podium.dev/ready-delay": "100000"}
    result = run_task(rollout(kube_conn, False, workload=None, manifest=slow, timeout=3), capfd)
    assert result.state == "failed"
    message = failure_line(result.output)
    assert "timed out waiting for deployment/web in namespace default: " in message
    assert message.endswith("Rolled back to revision 1.")
    assert image_of(web) == "nginx:1.27"


def test_deadline_verdict_agrees_with_kubectl(kube_conn, apps, kubectl, capfd, airflow_db) -> None:
    apps.create_namespaced_deployment("default", deployment("web", progressDeadlineSeconds=20))
    wait_for(lambda: apps.read_namespaced_deployment("web", "default").status.available_replicas == 3)
    result = run_task(
        rollout(
            kube_conn,
            False,
            images={"web": "nginx:1.28-crash"},
            rollback_on_failure=False,
            pod_grace_seconds=100_000,
        ),
        capfd,
    )
    assert result.state == "failed"
    expected = 'deployment/web in namespace default failed: deployment "web" exceeded its progress deadline; '
    assert expected + "pod web-" in failure_line(result.output)
    status = kubectl("rollout", "status", "deployment/web", "--timeout=5s", check=False)
    assert status.returncode == 1
    assert 'error: deployment "web" exceeded its progress deadline' in status.stderr
    assert image_of(apps) == "nginx:1.28-crash"  # rollback_on_failure=False leaves it


@pytest.mark.parametrize("deferrable", [False, True], ids=["sync", "deferrable"])
def test_a_deadline_before_the_pod_grace_still_names_pod_container_and_reason(
    kube_conn, apps, capfd, airflow_db, deferrable
) -> None:
    """progressDeadlineSeconds (6) ends the rollout long before pod_grace_seconds (600) would: the
    failure still names the crashing pods, their container, CrashLoopBackOff and the last events."""
    apps.create_namespaced_deployment("default", deployment("web", progressDeadlineSeconds=6))
    wait_for(lambda: apps.read_namespaced_deployment("web", "default").status.available_replicas == 3)
    result = run_task(
        rollout(kube_conn, deferrable, images={"web": "nginx:1.28-crash"}, pod_grace_seconds=600), capfd
    )
    assert (result.state, result.tries) == ("failed", 1)
    message = failure_line(result.output)
    assert 'failed: deployment "web" exceeded its progress deadline; pod web-' in message
    assert re.search(r"; pod web-\w+-\w+ container web: CrashLoopBackOff \(\d+ restarts?\) - ", message)
    assert "last run ended: Error, exit code 1" in message
    assert "[last warning events: " in message
    assert "BackOff: Back-off restarting failed container web in pod web-" in message
    assert message.endswith("Rolled back to revision 1.")
    assert image_of(apps) == "nginx:1.27"


def test_first_rollout_has_nothing_to_roll_back_to(kube_conn, apps, capfd, airflow_db) -> None:
    result = run_task(
        rollout(kube_conn, False, workload=None, manifest=deployment("web", image="app:1-crash")), capfd
    )
    assert result.state == "failed"
    assert failure_line(result.output).endswith("Nothing to roll back to (first rollout).")


SHOP = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: cart, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: cart}}
  template:
    metadata: {labels: {app: cart}}
    spec: {containers: [{name: cart, image: "shop/cart:{{ params.tag }}"}]}
---
apiVersion: v1
kind: Service
metadata: {name: cart, namespace: shop}
spec: {selector: {app: cart}, ports: [{port: 80}]}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}
"""


def test_manifest_mode_applies_in_order_and_rerun_changes_nothing(
    kube_conn, api, kube, capfd, airflow_db, tmp_path, monkeypatch
) -> None:
    client, api_client = api
    apps = client.AppsV1Api(api_client)
    monkeypatch.setenv("PODIUM_INCLUDE_DIR", str(tmp_path))
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "shop.yaml").write_text(SHOP)

    def operator():
        from airflow.sdk import get_parsing_context  # noqa: F401  (an Airflow import, as in a DAG file)

        return KubernetesRolloutOperator(
            task_id="roll",
            manifest="manifests/shop.yaml",
            kubernetes_conn_id=kube_conn,
            timeout=60,
            params={"tag": "1.0"},
        )

    first = run_task(operator, capfd)
    assert first.state == "success", first.output[-2000:]
    assert first.value["images"] == {"cart": "shop/cart:1.0"}  # the file was Jinja-rendered
    assert (first.value["revision"], first.value["previous_revision"]) == (1, None)
    assert client.CoreV1Api(api_client).read_namespaced_service("cart", "shop").spec.cluster_ip
    generation = apps.read_namespaced_deployment("cart", "shop").metadata.generation

    again = run_task(operator, capfd)
    assert again.state == "success"
    assert apps.read_namespaced_deployment("cart", "shop").metadata.generation == generation
    assert len(apps.list_namespaced_replica_set("shop").items) == 1


@pytest.mark.parametrize(
    "fault",
    [
        {"error_rate": 0.1, "error_status": 500},
        {"error_rate": 0.1, "error_status": 429, "retry_after": 0},
        {"drop_rate": 0.1},
    ],
    ids=["500", "429", "dropped"],
)
@pytest.mark.parametrize("image", ["nginx:1.28", "nginx:1.28-crash"])
def test_right_end_state_through_api_faults_and_cut_watches(
    kube, kube_conn, web, capfd, fault, image
) -> None:
    kube.faults(**fault, watch_close_after=0.5, seed=5)
    result = run_task(rollout(kube_conn, False, images={"web": image}), capfd)
    kube.clear_faults()
    if image == "nginx:1.28":
        assert result.state == "success", result.output[-3000:]
        assert image_of(web) == "nginx:1.28"
    else:
        assert result.state == "failed"
        assert failure_line(result.output).endswith("Rolled back to revision 1.")
        assert image_of(web) == "nginx:1.27"
    assert kube.state()["faults"]["error_rate"] == 0


def test_retry_after_a_worker_crash_resumes_without_reapplying(kube, kube_conn, web, caplog, capfd) -> None:
    kube.call("POST", "ready-delay", {"seconds": 60})  # new pods take a while: the crash lands mid-wait
    # a pod that became Ready a moment ago can turn unready under the new delay until it is 60 s old:
    # the attempt must start on a fully rolled-out 1.27 (its rollback target), so wait for that
    time.sleep(0.5)
    wait_for(lambda: rolled_out(web), timeout=30, what="deployment/web fully rolled out under the new delay")
    env = {**os.environ, "PYTHONPATH": PATHS}
    attempt = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("crashed_attempt.py")), kube_conn, "nginx:1.28"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    wait_for(
        lambda: web.read_namespaced_deployment("web", "default").metadata.generation == 2,
        timeout=60,
        what="the first attempt's patch",
    )
    time.sleep(0.5)
    attempt.kill()  # the worker dies while waiting
    attempt.wait()
    assert attempt.stdout is not None
    attempt.stdout.close()
    live = web.read_namespaced_deployment("web", "default")
    assert live.status.updated_replicas != 3 or live.status.available_replicas != 3  # still in progress
    kube.call("POST", "ready-delay", {"seconds": 2})

    # the retry: same task instance (dag, run, task), a new process
    retry = KubernetesRolloutOperator(
        task_id="roll",
        workload="deployment/web",
        images={"web": "nginx:1.28"},
        kubernetes_conn_id=kube_conn,
        timeout=120,
        deferrable=False,
    )
    capfd.readouterr()
    with caplog.at_level("INFO"):
        result = retry.execute({"ti": SimpleNamespace(dag_id="release", run_id="run-1", task_id="roll")})
    logged = caplog.text + "".join(capfd.readouterr())  # Airflow may have routed task logs to stdout
    assert result["previous_revision"] == 1
    assert result["revision"] == 2
    assert (
        "resuming rollout release/run-1/roll of deployment/web in namespace default; rollback target "
        "recorded on its first try: 1.27 was fully rolled out when this run started: returning to 1.27 "
        "(replicaset web-"
    ) in logged
    assert "set deployment/web images" not in logged  # no second write of the spec
    assert web.read_namespaced_deployment("web", "default").metadata.generation == 2
    assert len(web.list_namespaced_replica_set("default", label_selector="app=web").items) == 2


def test_misuse_is_refused_at_parse_time() -> None:
    with pytest.raises(ValueError, match="give manifest=, or workload= with images="):
        KubernetesRolloutOperator(task_id="x", workload="deployment/web")
    with pytest.raises(ValueError, match="not both"):
        KubernetesRolloutOperator(task_id="x", manifest={}, images={"a": "b"})
