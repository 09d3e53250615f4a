"""Apply, Rollback and Scale operators, the rollout sensor, and StatefulSet/DaemonSet rollouts."""

from __future__ import annotations

import pytest

from harness.kube import wait_for
from harness.tasks import run_task
from podium.operators.kubernetes import (
    KubernetesApplyOperator,
    KubernetesRollbackOperator,
    KubernetesRolloutOperator,
    KubernetesScaleOperator,
)
from podium.sensors.kubernetes import KubernetesRolloutSensor
from sandbox.manifests import daemonset, deployment, statefulset

BUNDLE = [
    deployment("api", replicas=1),
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "api-settings"}, "data": {"mode": "fast"}},
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}},
]


def test_apply_dry_run_changes_nothing_and_logs_a_diff(kube_conn, api, capfd, airflow_db) -> None:
    client, api_client = api
    result = run_task(
        lambda: KubernetesApplyOperator(
            task_id="apply", manifest=BUNDLE, namespace="team", kubernetes_conn_id=kube_conn, dry_run=True
        ),
        capfd,
    )
    assert result.state == "success", result.output[-2000:]
    assert "namespace/team: would be created" in result.output
    assert "configmap/api-settings -n team: would be created (in the new namespace team)" in result.output
    assert "+  mode: fast" in result.output
    assert "team" not in {ns.metadata.name for ns in client.CoreV1Api(api_client).list_namespace().items}


def test_apply_orders_documents_and_returns_refs(kube_conn, api, capfd, airflow_db) -> None:
    client, api_client = api
    result = run_task(
        lambda: KubernetesApplyOperator(
            task_id="apply", manifest=BUNDLE, namespace="team", kubernetes_conn_id=kube_conn
        ),
        capfd,
    )
    assert result.state == "success", result.output[-2000:]
    assert [(r["kind"], r["name"], r["namespace"]) for r in result.value] == [
        ("Namespace", "team", None),
        ("ConfigMap", "api-settings", "team"),
        ("Deployment", "api", "team"),
    ]
    assert client.CoreV1Api(api_client).read_namespaced_config_map("api-settings", "team").data == {
        "mode": "fast"
    }
    changed = [dict(BUNDLE[1], data={"mode": "safe"})]
    dry = run_task(
        lambda: KubernetesApplyOperator(
            task_id="apply", manifest=changed, namespace="team", kubernetes_conn_id=kube_conn, dry_run=True
        ),
        capfd,
    )
    assert dry.state == "success"
    assert "configmap/api-settings -n team: would change" in dry.output
    assert "+  mode: safe" in dry.output
    assert client.CoreV1Api(api_client).read_namespaced_config_map("api-settings", "team").data == {
        "mode": "fast"
    }


def test_broken_manifest_fails_naming_document_and_field(kube_conn, capfd, airflow_db) -> None:
    broken = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}]
    result = run_task(
        lambda: KubernetesApplyOperator(task_id="apply", manifest=broken, kubernetes_conn_id=kube_conn), capfd
    )
    assert (result.state, result.tries) == ("failed", 1)
    assert "manifest: document 1 (ConfigMap): metadata.name is required" in result.output


@pytest.fixture
def three_revisions(apps, kube_conn, capfd, airflow_db):
    apps.create_namespaced_deployment("default", deployment("web", image="app:1"))
    for tag in ("2", "3"):
        result = run_task(
            lambda tag=tag: KubernetesRolloutOperator(
                task_id="roll",
                workload="deployment/web",
                images={"web": f"app:{tag}"},
                kubernetes_conn_id=kube_conn,
                timeout=60,
            ),
            capfd,
        )
        assert result.state == "success"
    return apps


def image(apps, name="web") -> str:
    return apps.read_namespaced_deployment(name, "default").spec.template.spec.containers[0].image


@pytest.mark.parametrize("deferrable", [False, True], ids=["sync", "deferrable"])
def test_rollback_to_previous_and_to_a_given_revision(three_revisions, kube_conn, capfd, deferrable) -> None:
    back = run_task(
        lambda: KubernetesRollbackOperator(
            task_id="undo", workload="deployment/web", kubernetes_conn_id=kube_conn, deferrable=deferrable
        ),
        capfd,
    )
    assert back.state == "success", back.output[-2000:]
    assert back.value["revision"] == 2
    assert image(three_revisions) == "app:2"
    first = run_task(
        lambda: KubernetesRollbackOperator(
            task_id="undo",
            workload="deployment/web",
            to_revision=1,
            kubernetes_conn_id=kube_conn,
            deferrable=deferrable,
        ),
        capfd,
    )
    assert first.state == "success"
    assert image(three_revisions) == "app:1"
    missing = run_task(
        lambda: KubernetesRollbackOperator(
            task_id="undo", workload="deployment/web", to_revision=9, kubernetes_conn_id=kube_conn
        ),
        capfd,
    )
    assert missing.state == "failed"
    assert "cannot roll back deployment/web: unable to find specified revision 9 in history" in missing.output


@pytest.mark.parametrize("deferrable", [False, True], ids=["sync", "deferrable"])
def test_scale_through_the_scale_subresource(apps, kube_conn, capfd, airflow_db, deferrable) -> None:
    apps.create_namespaced_deployment("default", deployment("web", replicas=2))
    result = run_task(
        lambda: KubernetesScaleOperator(
            task_id="scale",
            workload="deployment/web",
            replicas=5,
            kubernetes_conn_id=kube_conn,
            deferrable=deferrable,
        ),
        capfd,
    )
    assert result.state == "success", result.output[-2000:]
    assert result.value == {
        "kind": "Deployment",
        "name": "web",
        "namespace": "default",
        "replicas": 5,
        "hpa": None,
    }
    assert apps.read_namespaced_deployment("web", "default").status.ready_replicas == 5


def test_scale_patches_the_hpa_that_owns_the_replicas(api, apps, kube_conn, capfd, airflow_db) -> None:
    client, api_client = api
    autoscaling = client.AutoscalingV2Api(api_client)
    apps.create_namespaced_deployment("default", deployment("web", replicas=2))
    autoscaling.create_namespaced_horizontal_pod_autoscaler(
        "default",
        {
            "metadata": {"name": "web-hpa"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "minReplicas": 2,
                "maxReplicas": 4,
            },
        },
    )
    result = run_task(
        lambda: KubernetesScaleOperator(
            task_id="scale", workload="deployment/web", replicas=6, kubernetes_conn_id=kube_conn
        ),
        capfd,
    )
    assert result.state == "success", result.output[-2000:]
    assert (
        "HorizontalPodAutoscaler web-hpa controls deployment/web: setting its minReplicas=6 maxReplicas=6"
        in (result.output)
    )
    hpa = autoscaling.read_namespaced_horizontal_pod_autoscaler("web-hpa", "default")
    assert (hpa.spec.min_replicas, hpa.spec.max_replicas) == (6, 6)
    assert result.value == {
        "kind": "Deployment",
        "name": "web",
        "namespace": "default",
        "replicas": 6,
        "hpa": "web-hpa",
    }
    assert apps.read_namespaced_deployment("web", "default").status.ready_replicas == 6


def test_daemonsets_cannot_be_scaled() -> None:
    with pytest.raises(ValueError, match="cannot be scaled"):
        KubernetesScaleOperator(task_id="s", workload="daemonset/agent", replicas=2)


@pytest.mark.parametrize("mode", ["poke", "reschedule", "deferrable"])
def test_sensor_waits_for_a_rollout(apps, kube_conn, capfd, airflow_db, mode) -> None:
    apps.create_namespaced_deployment("default", deployment("web"))
    result = run_task(
        lambda: KubernetesRolloutSensor(
            task_id="wait",
            workload="deployment/web",
            kubernetes_conn_id=kube_conn,
            poke_interval=0.5,
            timeout=60,
            mode="reschedule" if mode == "reschedule" else "poke",
            deferrable=mode == "deferrable",
        ),
        capfd,
    )
    assert result.state == "success", result.output[-2000:]


@pytest.mark.parametrize("deferrable", [False, True], ids=["poke", "deferrable"])
def test_sensor_fails_fast_on_a_failed_rollout(apps, kube_conn, capfd, airflow_db, deferrable) -> None:
    apps.create_namespaced_deployment("default", deployment("web", image="app:1-crash"))
    result = run_task(
        lambda: KubernetesRolloutSensor(
            task_id="wait",
            workload="deployment/web",
            kubernetes_conn_id=kube_conn,
            poke_interval=0.5,
            timeout=600,
            pod_grace_seconds=5,
            deferrable=deferrable,
        ),
        capfd,
    )
    assert (result.state, result.tries) == ("failed", 1)
    assert "CrashLoopBackOff" in result.output


@pytest.mark.parametrize(
    ("manifest", "workload", "container"),
    [
        (statefulset("db"), "statefulset/db", "db"),
        (daemonset("agent"), "daemonset/agent", "agent"),
    ],
)
def test_statefulset_and_daemonset_failures_roll_back(
    api, kube_conn, capfd, airflow_db, kubectl, manifest, workload, container
) -> None:
    client, api_client = api
    ok = run_task(
        lambda: KubernetesRolloutOperator(
            task_id="roll", manifest=manifest, kubernetes_conn_id=kube_conn, timeout=60
        ),
        capfd,
    )
    assert ok.state == "success", ok.output[-2000:]
    assert ok.value["revision"] == 1
    bad = run_task(
        lambda: KubernetesRolloutOperator(
            task_id="roll",
            workload=workload,
            images={container: "img:2-crash"},
            kubernetes_conn_id=kube_conn,
            timeout=60,
            pod_grace_seconds=5,
        ),
        capfd,
    )
    assert bad.state == "failed"
    assert "Rolled back to revision 1." in bad.output
    kind = workload.split("/")[0]
    assert kubectl("rollout", "status", workload, "--timeout=30s").returncode == 0
    old_image = manifest["spec"]["template"]["spec"]["containers"][0]["image"]

    def images() -> set[str]:
        pods = (
            client.CoreV1Api(api_client)
            .list_namespaced_pod("default", label_selector=f"app={container}")
            .items
        )
        return {p.spec.containers[0].image for p in pods}

    wait_for(lambda: images() == {old_image}, what=f"{kind} pods back on the old image")
