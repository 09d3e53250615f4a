"""The storefront release through the real scheduler: pools, rollouts waiting in the triggerer, the
trigger form refusing a bad tag, and the ledger queried over REST.

(The production DAG's approval is covered by the structure tests. Answering it over the HITL REST API
in this harness left the task awaiting input after a 200 answer in 2 of 5 runs, both on a loaded
machine; until that is understood it is not part of the suite.)"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

DAG_ID = "release__storefront__staging"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def release_dag(airflow_cluster):
    # the pools `make run` imports from include/pools.json (without them the tasks would never queue)
    for name, pool in json.loads((REPO / "include" / "pools.json").read_text()).items():
        response = airflow_cluster.api("POST", "/pools", json={"name": name, **pool})
        assert response.status_code in (201, 409), response.text
    airflow_cluster.wait_for_dag(DAG_ID)
    airflow_cluster.unpause(DAG_ID)
    return airflow_cluster


def wait_for_task_state(cluster, run_id: str, task_id: str, state: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        response = cluster.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}")
        if response.status_code == 200 and response.json()["state"] == state:
            return response.json()
        assert time.monotonic() < deadline, f"{task_id} is {response.json().get('state')}, not {state}"
        time.sleep(1)


def failures(cluster, run_id: str) -> str:
    """The failed tasks of a run and the end of their logs, for an assertion message."""
    tis = cluster.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances").json()["task_instances"]
    text = [f"{ti['task_id']}: {ti['state']}" for ti in tis]
    for ti in tis:
        if ti["state"] in ("failed", "up_for_retry", "running", "deferred", "awaiting_input"):
            path = f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{ti['task_id']}/logs/{ti['try_number']}"
            log = cluster.api("GET", path)
            text.append(f"--- {ti['task_id']}:\n{log.text[-3000:]}")
    return "\n".join(text)


def test_staging_release_through_the_scheduler_records_the_ledger(release_dag, cluster_kube):
    from kubernetes import client, config

    refused = release_dag.trigger(DAG_ID, {"tag_cart": "not a tag"})
    assert refused.status_code == 400, refused.text
    assert release_dag.runs(DAG_ID) == []

    response = release_dag.trigger(DAG_ID, {"tag_catalog": "1.4.1"})
    assert response.status_code == 200, response.text
    run_id = response.json()["dag_run_id"]
    try:
        state = release_dag.wait_for_run(DAG_ID, run_id, timeout=300)
    except AssertionError:
        state = "still running"
    assert state == "success", failures(release_dag, run_id)

    api_client = config.new_client_from_config(config_file=str(cluster_kube.kubeconfig))
    apps = client.AppsV1Api(api_client)
    deployments = {d.metadata.name: d for d in apps.list_namespaced_deployment("storefront-staging").items}
    assert deployments["catalog"].spec.template.spec.containers[0].image == "ghcr.io/podium-dev/catalog:1.4.1"
    assert deployments["storefront-web"].spec.replicas == 1  # staging's replicas override
    report = release_dag.xcom(DAG_ID, run_id, "report")
    assert {row["service"]: row["result"] for row in report} == dict.fromkeys(
        ["catalog", "inventory", "payments", "cart", "storefront-web"], "released"
    )
    # the rollouts waited in the triggerer (deferrable by default in this harness)
    rollout = release_dag.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/catalog.rollout").json()
    assert rollout["pool"] == "podium_release_staging"
    trigger_logs = list(
        (
            release_dag.home / "logs" / f"dag_id={DAG_ID}" / f"run_id={run_id}" / "task_id=catalog.rollout"
        ).glob("attempt=1.log.trigger.*.log")
    )
    assert trigger_logs, "the catalog rollout did not wait in the triggerer"

    # "what version runs where": the newest event of the environment's ledger Asset, over REST
    assets = release_dag.api(
        "GET", "/assets", params={"uri_pattern": "x-podium-release://storefront/"}
    ).json()
    asset_id = {a["uri"]: a["id"] for a in assets["assets"]}["x-podium-release://storefront/staging"]
    events = release_dag.api(
        "GET", "/assets/events", params={"asset_id": asset_id, "order_by": "-timestamp", "limit": 1}
    ).json()["asset_events"]
    assert events[0]["extra"]["run_id"] == run_id
    assert events[0]["extra"]["services"]["catalog"]["version"] == "1.4.1"
    assert events[0]["source_task_id"] == "report"
    api_client.close()
