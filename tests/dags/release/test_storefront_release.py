"""The storefront release end to end: dag.test() of release__storefront__staging against the sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from airflow.dag_processing.dagbag import DagBag

from harness.kube import wait_for
from harness.tasks import _serialize

REPO = Path(__file__).resolve().parents[3]
PATHS = os.pathsep.join([str(REPO / "plugins"), str(REPO / "tests")])
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


FIRST = {
    "catalog": "1.4.0",
    "inventory": "2.1.0",
    "payments": "3.0.2",
    "cart": "1.9.0",
    "storefront_web": "5.2.0",
}


def test_release_then_failed_release_rolls_back_exactly_what_it_changed(default_conn, kube, apps, staging):
    first = staging.test(run_conf={})
    assert first.state == "success", states(first)
    assert images(apps) == {n: f"ghcr.io/podium-dev/{n}:{FIRST[n.replace('-', '_')]}" for n in SERVICES}
    report = {row["service"]: row for row in xcom(first, "report")}
    assert {n: r["result"] for n, r in report.items()} == dict.fromkeys(SERVICES, "released")
    assert report["catalog"]["from"] == "-"
    assert report["catalog"]["to"] == "1.4.0"
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
    assert result["rollback"] == "success"
    assert result["report"] == "success"
    assert result["outcome"] == "failed"

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


def ledger(uri: str, *runs) -> list[dict]:
    """The release ledger: the extras of the Asset's events for these runs, oldest first."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.uri == uri)
            .order_by(AssetEvent.timestamp)
        ).all()
        run_ids = {run.run_id for run in runs}
        return [dict(row.extra) for row in rows if row.extra.get("run_id") in run_ids]


def objects(apps) -> dict[str, str]:
    """Every Deployment and ReplicaSet of the namespace with its resourceVersion."""
    found = {
        f"deploy/{d.metadata.name}": d.metadata.resource_version
        for d in apps.list_namespaced_deployment(NAMESPACE).items
    }
    found |= {
        f"rs/{r.metadata.name}": r.metadata.resource_version
        for r in apps.list_namespaced_replica_set(NAMESPACE).items
    }
    return found


def test_dry_run_changes_nothing_a_subset_brings_its_dependencies_and_the_ledger_records(
    default_conn, kube, apps, staging
):
    first = staging.test(run_conf={})
    assert first.state == "success"
    entries = ledger("x-podium-release://storefront/staging", first)
    assert len(entries) == 1
    assert entries[0]["result"] == "succeeded"
    assert {n: s["version"] for n, s in entries[0]["services"].items()} == {
        n: FIRST[n.replace("-", "_")] for n in SERVICES
    }

    before = objects(apps)
    dry = staging.test(run_conf={"dry_run": True, **tags(cart="2.0.0", storefront_web="6.0.0")})
    assert dry.state == "success"
    result = states(dry)
    assert result.pop("plan") == "success"
    assert set(result.values()) == {"skipped"}
    plan = xcom(dry, "plan")
    changed = [line for line in plan["diffs"]["cart"].splitlines() if line[:1] in "+-"]
    assert changed == [
        "--- live/deployment/cart -n storefront-staging",
        "+++ proposed/deployment/cart -n storefront-staging",
        "-      - image: ghcr.io/podium-dev/cart:1.9.0",
        "+      - image: ghcr.io/podium-dev/cart:2.0.0",
    ]
    assert plan["diffs"]["catalog"] == ""
    assert objects(apps) == before  # not one object written
    assert ledger("x-podium-release://storefront/staging", dry) == []  # a dry run releases nothing

    # dag.test() keeps the previous run's conf in the DAG's params: say dry_run explicitly
    subset = staging.test(
        run_conf={"dry_run": False, "services": ["cart"], **tags(cart="2.0.0", payments="9.9.9")}
    )
    assert subset.state == "success"
    assert xcom(subset, "plan")["selected"] == ["catalog", "inventory", "cart"]
    result = states(subset)
    assert result["cart.rollout"] == "success", result
    assert result["catalog.pre_migrate"] == "success"
    assert result["payments.rollout"] == "skipped"
    assert result["storefront-web.rollout"] == "skipped"
    assert images(apps)["cart"] == "ghcr.io/podium-dev/cart:2.0.0"
    assert images(apps)["payments"] == "ghcr.io/podium-dev/payments:3.0.2"  # not selected: untouched
    report = {row["service"]: row["result"] for row in xcom(subset, "report")}
    assert report == {
        "catalog": "unchanged",
        "inventory": "unchanged",
        "payments": "not selected",
        "cart": "released",
        "storefront-web": "not selected",
    }
    (latest,) = ledger("x-podium-release://storefront/staging", subset)
    assert latest["services"]["cart"] == {"version": "2.0.0", "from": "1.9.0", "result": "released"}
    assert latest["services"]["payments"]["version"] == "3.0.2"


def crash_release(conf: dict[str, Any], under_way: Callable[[], bool], log: Path) -> None:
    """Run a staging release in a worker process and kill it (SIGKILL) once ``under_way`` says so."""
    with log.open("wb") as out:
        release = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("crashed_release.py")), json.dumps(conf)],
            env={**os.environ, "PYTHONPATH": PATHS},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(under_way, timeout=240, what=f"the release under way (its log: {log})")
            time.sleep(0.5)
        finally:
            release.kill()
            release.wait()


def known_good(apps, name: str) -> dict[str, Any]:
    annotations = apps.read_namespaced_deployment(name, NAMESPACE).metadata.annotations or {}
    return json.loads(annotations["podium.dev/last-known-good"])


def rolled_out(apps, name: str) -> bool:
    deploy = apps.read_namespaced_deployment(name, NAMESPACE)
    status, replicas = deploy.status, deploy.spec.replicas
    return (
        status.observed_generation == deploy.metadata.generation
        and status.updated_replicas == status.replicas == status.available_replicas == replicas
    )


def test_a_release_after_a_crashed_one_returns_every_service_to_its_last_healthy_version(
    default_conn, kube, apps, staging, capfd, tmp_path
):
    first = staging.test(run_conf={})
    assert first.state == "success", states(first)
    cart_good = known_good(apps, "cart")
    assert cart_good["images"] == {"api": "ghcr.io/podium-dev/cart:1.9.0"}

    # the second release dies while cart's rollout waits (cart 2.0.0's new pod cannot pull its image):
    # catalog 1.5.0 and inventory 2.2.0 are out and healthy, cart is half-way
    kube.mark_image("ghcr.io/podium-dev/cart:2.0.0", "nopull")

    def cart_half_way() -> bool:
        cart = apps.read_namespaced_deployment("cart", NAMESPACE)
        return (
            cart.spec.template.spec.containers[0].image.endswith(":2.0.0")
            and cart.status.updated_replicas == 1
        )

    second = tags(catalog="1.5.0", inventory="2.2.0", cart="2.0.0", payments="3.0.2", storefront_web="5.2.0")
    crash_release(second, cart_half_way, tmp_path / "second-release.log")
    assert {n: i.rsplit(":", 1)[1] for n, i in images(apps).items()} == {
        "catalog": "1.5.0",
        "inventory": "2.2.0",
        "payments": "3.0.2",
        "cart": "2.0.0",
        "storefront-web": "5.2.0",
    }
    assert not rolled_out(apps, "cart")
    assert known_good(apps, "catalog")["images"] == {"api": "ghcr.io/podium-dev/catalog:1.5.0"}

    # the third release changes catalog and cart again and breaks the web front end
    capfd.readouterr()
    third = staging.test(
        run_conf={
            "dry_run": False,
            **tags(
                catalog="1.6.0",
                inventory="2.2.0",
                cart="2.1.0",
                payments="3.0.2",
                storefront_web="6.0.0-crash",
            ),
        }
    )
    output = "".join(capfd.readouterr())
    assert third.state == "failed"
    result = states(third)
    assert (result["cart.rollout"], result["storefront-web.rollout"]) == ("success", "failed"), result
    assert result["rollback"] == "success"

    # the plan said, before anything changed, that cart was mid-change and what it would return to
    assert "cart: this run starts on an unfinished change: 2.0.0 (replicaset cart-" in output
    why = (
        "2.0.0 was not fully rolled out when this run started: returning to 1.9.0 (replicaset "
        f"{cart_good['name']}, revision 1), last healthy at {cart_good['healthy_at']}"
    )
    assert f"cart: rollback target: {why}" in output
    assert f"cart: {why}" in output  # ... and the rollback said it again when it acted

    # every service is on its last healthy version: the one it ran before this release if that was
    # fully rolled out, else the last one that was (cart: 1.9.0, not the unfinished 2.0.0)
    rollback = {entry["service"]: entry for entry in xcom(third, "rollback")}
    assert {s: (e["action"], e.get("version")) for s, e in rollback.items()} == {
        "storefront-web": ("rolled back", "5.2.0"),
        "cart": ("rolled back", "1.9.0"),
        "payments": ("unchanged", "3.0.2"),
        "inventory": ("unchanged", "2.2.0"),
        "catalog": ("rolled back", "1.5.0"),
    }
    assert {n: i.rsplit(":", 1)[1] for n, i in images(apps).items()} == {
        "catalog": "1.5.0",
        "inventory": "2.2.0",
        "payments": "3.0.2",
        "cart": "1.9.0",
        "storefront-web": "5.2.0",
    }
    for name in SERVICES:
        assert rolled_out(apps, name), name
    again = known_good(apps, "cart")  # the rollback recorded what it made healthy
    assert (again["name"], again["images"]) == (cart_good["name"], cart_good["images"])
    report = {row["service"]: row for row in xcom(third, "report")}
    assert (report["cart"]["from"], report["cart"]["to"], report["cart"]["result"]) == (
        "2.0.0",
        "1.9.0",
        "released, rolled back",
    )
