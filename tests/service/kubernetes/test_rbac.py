"""include/rbac/podium-deployer.yaml grants exactly what podium's operators use.

One sandbox records every API request while the example DAGs and the operators run their scenarios
(rollouts, failures and rollbacks of Deployments and StatefulSets, scaling with and without an HPA,
jobs, dry runs, sensors). Each request becomes (API group, resource, verb) as Kubernetes authorizes
it; every one must be granted by the ClusterRoles, and every verb the workload rules grant must have
been used (least privilege).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from airflow.dag_processing.dagbag import DagBag

from harness.tasks import run_task
from podium.operators.kubernetes import (
    KubernetesRollbackOperator,
    KubernetesRolloutOperator,
    KubernetesScaleOperator,
)
from podium.sensors.kubernetes import KubernetesRolloutSensor
from sandbox.manifests import daemonset, statefulset

REPO = Path(__file__).resolve().parents[3]
RBAC = REPO / "include" / "rbac" / "podium-deployer.yaml"
# Kinds a user's manifests may hold: granted for apply, extended by users; not part of the "unused" check.
MANIFEST_KINDS = {("", "services"), ("", "configmaps"), ("", "serviceaccounts"), ("", "namespaces")}
NON_RESOURCE = ("/api", "/apis", "/openapi", "/version")


def authorization(method: str, path: str, watch: bool, status: int) -> set[tuple[str, str, str]]:
    """(apiGroup, resource[/subresource], verb) that Kubernetes would check for this request."""
    parts = path.strip("/").split("/")
    group, rest = ("", parts[2:]) if parts[0] == "api" else (parts[1], parts[3:])
    if rest and rest[0] == "namespaces" and len(rest) > 2:
        rest = rest[2:]
    resource = rest[0] + (f"/{rest[2]}" if len(rest) > 2 else "")
    named = len(rest) > 1
    verb = {
        "GET": "get" if named else ("watch" if watch else "list"),
        "POST": "create",
        "PUT": "update",
        "PATCH": "patch",
        "DELETE": "delete" if named else "deletecollection",
    }[method]
    needed = {(group, resource, verb)}
    if method == "PATCH" and status == 201:  # server-side apply that created the object
        needed.add((group, resource, "create"))
    return needed


def granted(rules: list[dict]) -> set[tuple[str, str, str]]:
    return {
        (g, r, v)
        for rule in rules
        for g in rule["apiGroups"]
        for r in rule["resources"]
        for v in rule["verbs"]
    }


@pytest.fixture
def scenarios(kube, kube_conn, monkeypatch, api, capfd, airflow_db):
    monkeypatch.setenv(
        "AIRFLOW_CONN_KUBERNETES_DEFAULT",
        json.dumps({"conn_type": "kubernetes", "extra": {"kube_config_path": str(kube.kubeconfig)}}),
    )

    def dag(dag_id: str):
        return DagBag(dag_folder=str(REPO / "dags" / f"{dag_id}.py")).get_dag(dag_id)

    assert dag("k8s_rollout").test(run_conf={"image_tag": "1.0"}).state == "success"
    assert dag("k8s_rollout").test(run_conf={"image_tag": "2.0-crash"}).state == "failed"  # rolled back
    assert dag("k8s_scale_business_hours").test().state == "success"
    assert dag("k8s_scale_around_batch").test(run_conf={"workers": 2, "fail_batch": True}).state == "failed"
    release = DagBag(dag_folder=str(REPO / "dags" / "release_storefront.py")).get_dag(
        "release__storefront__staging"
    )
    assert release.test().state == "success"  # pre-deploy and smoke Jobs, health checks through the proxy
    client, api_client = api
    client.AutoscalingV2Api(api_client).create_namespaced_horizontal_pod_autoscaler(
        "podium-demo",
        {
            "metadata": {"name": "demo-web"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "demo-web"},
                "minReplicas": 1,
                "maxReplicas": 5,
            },
        },
    )
    for make in (
        lambda: KubernetesScaleOperator(
            task_id="s",
            workload="deployment/demo-web",
            namespace="podium-demo",
            replicas=3,
            kubernetes_conn_id=kube_conn,
        ),
        lambda: KubernetesRollbackOperator(
            task_id="r", workload="deployment/demo-web", namespace="podium-demo", kubernetes_conn_id=kube_conn
        ),
        lambda: KubernetesRolloutSensor(
            task_id="w",
            workload="deployment/demo-web",
            namespace="podium-demo",
            kubernetes_conn_id=kube_conn,
            poke_interval=0.5,
            timeout=60,
        ),
        lambda: KubernetesRolloutOperator(
            task_id="sts", manifest=statefulset("db"), kubernetes_conn_id=kube_conn
        ),
        lambda: KubernetesRolloutOperator(
            task_id="sts",
            workload="statefulset/db",
            images={"db": "redis:8-crash"},
            kubernetes_conn_id=kube_conn,
            pod_grace_seconds=5,
        ),
        lambda: KubernetesScaleOperator(
            task_id="s", workload="statefulset/db", replicas=4, kubernetes_conn_id=kube_conn
        ),
        lambda: KubernetesRolloutOperator(
            task_id="ds", manifest=daemonset("agent"), kubernetes_conn_id=kube_conn
        ),
        lambda: KubernetesRolloutOperator(
            task_id="ds",
            workload="daemonset/agent",
            images={"agent": "fb:9-crash"},
            kubernetes_conn_id=kube_conn,
            pod_grace_seconds=5,
        ),
    ):
        run_task(make, capfd)
    return [tuple(r) for r in kube.call("GET", "requests")]


def test_the_role_grants_what_podium_uses_and_no_more(scenarios) -> None:
    used: set[tuple[str, str, str]] = set()
    for method, path, watch, status, _content_type in scenarios:
        if (
            path.startswith(NON_RESOURCE) and not path.startswith(("/api/v1/", "/apis/"))
        ) or path in NON_RESOURCE:
            continue
        if path.startswith("/apis/") and len(path.strip("/").split("/")) <= 3:
            continue  # discovery of a group/version
        if status >= 400 and status != 404:
            continue
        used |= authorization(method, path, watch, status)
    documents = list(yaml.safe_load_all(RBAC.read_text()))
    roles = {d["metadata"]["name"]: d for d in documents if d["kind"] == "ClusterRole"}
    allowed = granted(roles["podium-deployer"]["rules"]) | granted(roles["podium-namespaces"]["rules"])
    assert used - allowed == set(), "podium uses permissions the Role does not grant"
    unused = {p for p in allowed - used if (p[0], p[1]) not in MANIFEST_KINDS}
    assert unused == set(), "the Role grants permissions podium never uses"
    assert ("", "pods", "delete") in used  # the StatefulSet's forced rollback ran
    assert ("autoscaling", "horizontalpodautoscalers", "patch") in used
