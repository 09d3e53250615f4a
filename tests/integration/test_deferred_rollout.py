"""The deferrable path through the real triggerer: k8s_rollout triggered over the REST API."""

from __future__ import annotations

import re

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

DAG_ID = "k8s_rollout"


@pytest.fixture(scope="module")
def rollout_dag(airflow_cluster):
    airflow_cluster.wait_for_dag(DAG_ID)
    airflow_cluster.unpause(DAG_ID)
    return airflow_cluster


def task_state(cluster, run_id: str, task_id: str) -> dict:
    response = cluster.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}")
    response.raise_for_status()
    return response.json()


def test_rollout_defers_to_the_triggerer_and_succeeds(rollout_dag, cluster_kube) -> None:
    response = rollout_dag.trigger(DAG_ID, {"image_tag": "1.0"})
    assert response.status_code == 200, response.text
    run_id = response.json()["dag_run_id"]
    assert rollout_dag.wait_for_run(DAG_ID, run_id, timeout=240) == "success"
    assert rollout_dag.xcom(DAG_ID, run_id, "smoke_check")["images"] == {
        "web": "ghcr.io/podium-dev/demo-web:1.0"
    }
    # the wait ran in the triggerer, not in a worker: the task's trigger log has the event
    task_logs = rollout_dag.home / "logs" / f"dag_id={DAG_ID}" / f"run_id={run_id}" / "task_id=rollout"
    trigger_logs = list(task_logs.glob("attempt=1.log.trigger.*.log"))
    assert trigger_logs, f"no trigger log under {task_logs}"
    fired = [
        line
        for path in trigger_logs
        for line in path.read_text().splitlines()
        if "Trigger fired event" in line
    ]
    assert len(fired) == 1
    assert "'status': 'success'" in fired[0]
    # and it never blocked the triggerer's shared event loop for long. (The first trigger in a
    # triggerer imports the Kubernetes clients in a thread; under the GIL that can delay the loop
    # a few hundred milliseconds, once. On the loop itself the import took over 3 seconds.)
    triggerer_log = (rollout_dag.home / "logs" / "triggerer.log").read_text()
    blocked = [float(m) for m in re.findall(r"async thread was blocked for ([0-9.]+) seconds", triggerer_log)]
    assert all(seconds < 1.0 for seconds in blocked), blocked


def test_failed_rollout_is_rolled_back_through_the_triggerer(rollout_dag, cluster_kube) -> None:
    from kubernetes import client, config

    first = rollout_dag.trigger(DAG_ID, {"image_tag": "1.0"}).json()["dag_run_id"]
    assert rollout_dag.wait_for_run(DAG_ID, first, timeout=240) == "success"
    broken = rollout_dag.trigger(DAG_ID, {"image_tag": "1.1-crash"}).json()["dag_run_id"]
    assert rollout_dag.wait_for_run(DAG_ID, broken, timeout=300) == "failed"
    rollout = task_state(rollout_dag, broken, "rollout")
    assert rollout["state"] == "failed"
    assert rollout["try_number"] == 1  # PermanentError: no retry of a rollout that failed and was rolled back
    with config.new_client_from_config(config_file=str(cluster_kube.kubeconfig)) as api_client:
        deploy = client.AppsV1Api(api_client).read_namespaced_deployment("demo-web", "podium-demo")
    assert deploy.spec.template.spec.containers[0].image == "ghcr.io/podium-dev/demo-web:1.0"


def test_a_bad_image_tag_is_refused_before_a_run_starts(rollout_dag) -> None:
    before = {run["dag_run_id"] for run in rollout_dag.runs(DAG_ID)}
    response = rollout_dag.trigger(DAG_ID, {"image_tag": "1.0 --privileged"})
    assert response.status_code == 400
    assert "image_tag" in response.json()["detail"]
    assert {run["dag_run_id"] for run in rollout_dag.runs(DAG_ID)} == before
