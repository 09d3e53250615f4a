"""The storefront release end to end: dag.test() of release__storefront__staging against the sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag

from rollouts.helpers import _serialize

REPO = Path(__file__).resolve().parents[2]
NAMESPACE = "storefront-staging"
SERVICES = ["catalog", "inventory", "payments", "cart", "storefront-web"]
CONTAINER = {name: "web" if name == "storefront-web" else "api" for name in SERVICES}


@pytest.fixture
def default_conn(kube, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_KUBERNETES_DEFAULT",
        json.dumps({"conn_type": "kubernetes", "extra": {"kube_config_path": str(kube.kubeconfig)}}),
    )


@pytest.fixture
def staging(airflow_db):
    dag = DagBag(dag_folder=str(REPO / "dags" / "release_storefront.py")).get_dag(
        "release__storefront__staging"
    )
    _serialize(dag)
    return dag


def tags(**tags: str) -> dict[str, str]:
    return {f"tag_{name.replace('-', '_')}": tag for name, tag in tags.items()}


def images(apps) -> dict[str, str]:
    return {
        name: apps.read_namespaced_deployment(name, NAMESPACE).spec.template.spec.containers[0].image
        for name in SERVICES
    }


def states(run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def xcom(run, task_id: str):
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.scalars(
            XComModel.get_many(run_id=run.run_id, dag_ids=run.dag_id, task_ids=task_id, key="return_value")
        ).first()
        return XComModel.deserialize_value(row) if row else None


FIRST = dict(catalog="1.4.0", inventory="2.1.0", payments="3.0.2", cart="1.9.0", storefront_web="5.2.0")


def test_release_then_failed_release_rolls_back_exactly_what_it_changed(default_conn, kube, apps, staging):
    first = staging.test(run_conf={})
    assert first.state == "success", states(first)
    assert images(apps) == {n: f"ghcr.io/podium-dev/{n}:{FIRST[n.replace('-', '_')]}" for n in SERVICES}
    report = {row["service"]: row for row in xcom(first, "report")}
    assert {n: r["result"] for n, r in report.items()} == dict.fromkeys(SERVICES, "released")
    assert report["catalog"]["from"] == "-" and report["catalog"]["to"] == "1.4.0"
    assert apps.read_namespaced_deployment("storefront-web", NAMESPACE).spec.replicas == 1  # staging override

    # the second release changes catalog, inventory and cart, keeps payments, and breaks the web front end
    before = len(kube.call("GET", "requests"))
    second = staging.test(
        run_conf=tags(
            catalog="1.5.0", inventory="2.2.0", cart="2.0.0", payments="3.0.2", storefront_web="6.0.0-crash"
        )
    )
    assert second.state == "failed"
    result = states(second)
    assert result["storefront-web.rollout"] == "failed"
    assert result["storefront-web.health"] == "upstream_failed"
    assert result["payments.rollout"] == "success"
    assert result["rollback"] == "success" and result["report"] == "success" and result["outcome"] == "failed"

    # exactly the services this run changed went back, in reverse dependency order
    rolled = [entry["service"] for entry in xcom(second, "rollback") if entry["action"] == "rolled back"]
    assert rolled == ["storefront-web", "cart", "inventory", "catalog"]
    assert images(apps) == {n: f"ghcr.io/podium-dev/{n}:{FIRST[n.replace('-', '_')]}" for n in SERVICES}
    # ... as the API server saw it: JSON patches of the pod template, one per changed Deployment
    undo = [
        path.rsplit("/", 1)[-1]
        for method, path, _watch, status, content in kube.call("GET", "requests")[before:]
        if method == "PATCH" and content == "application/json-patch+json" and "/deployments/" in path
    ]
    assert undo == ["storefront-web", "cart", "inventory", "catalog"]

    report = {row["service"]: row for row in xcom(second, "report")}
    assert report["payments"]["result"] == "unchanged"
    assert report["storefront-web"]["result"] == "failed, rolled back"
    assert report["cart"] == {
        **report["cart"],
        "from": "1.9.0",
        "to": "1.9.0",
        "result": "released, rolled back",
    }
