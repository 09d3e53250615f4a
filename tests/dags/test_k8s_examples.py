"""The Kubernetes example DAGs, run with dag.test() against the sandbox as `kubernetes_default`."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from airflow.dag_processing.dagbag import DagBag

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def default_conn(kube, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_KUBERNETES_DEFAULT",
        json.dumps({"conn_type": "kubernetes", "extra": {"kube_config_path": str(kube.kubeconfig)}}),
    )


def load(dag_id: str):
    return DagBag(dag_folder=str(REPO / "dags" / f"{dag_id}.py")).get_dag(dag_id)


def states(run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def test_rollout_example_rolls_out_and_rolls_back(default_conn, apps, airflow_db) -> None:
    dag = load("k8s_rollout")
    first = dag.test(run_conf={"image_tag": "1.0"})
    assert states(first) == {"rollout": "success", "smoke_check": "success"}
    upgraded = dag.test(run_conf={"image_tag": "1.1"})
    assert upgraded.state == "success"
    deploy = apps.read_namespaced_deployment("demo-web", "podium-demo")
    assert deploy.spec.template.spec.containers[0].image == "ghcr.io/podium-dev/demo-web:1.1"

    broken = dag.test(run_conf={"image_tag": "1.2-crash"})
    assert states(broken) == {"rollout": "failed", "smoke_check": "upstream_failed"}
    deploy = apps.read_namespaced_deployment("demo-web", "podium-demo")
    assert deploy.spec.template.spec.containers[0].image == "ghcr.io/podium-dev/demo-web:1.1"


def test_rollout_example_refuses_a_bad_tag_before_running(airflow_db) -> None:
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError, match="image_tag"):
        load("k8s_rollout").test(run_conf={"image_tag": "-bad tag"})


@pytest.mark.parametrize(("berlin_hour", "replicas"), [(8, 4), (18, 1)])
def test_business_hours_scaling(default_conn, apps, airflow_db, berlin_hour, replicas) -> None:
    assert load("k8s_rollout").test(run_conf={"image_tag": "1.0"}).state == "success"
    when = datetime(2026, 11, 26, berlin_hour, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    run = load("k8s_scale_business_hours").test(logical_date=when)
    assert run.state == "success"
    deploy = apps.read_namespaced_deployment("demo-web", "podium-demo")
    assert (deploy.spec.replicas, deploy.status.ready_replicas) == (replicas, replicas)


@pytest.mark.parametrize("fail_batch", [False, True])
def test_workers_are_scaled_down_even_when_the_batch_fails(
    default_conn, apps, api, airflow_db, fail_batch
) -> None:
    client, api_client = api
    run = load("k8s_scale_around_batch").test(run_conf={"workers": 2, "fail_batch": fail_batch})
    expected = "failed" if fail_batch else "success"
    assert states(run) == {
        "ensure_workers": "success",
        "scale_up": "success",
        "submit_batch": "success",
        "wait_for_batch": expected,
        "scale_down": "success",
    }
    assert run.state == expected
    assert apps.read_namespaced_deployment("demo-worker", "podium-demo").spec.replicas == 0
    jobs = client.BatchV1Api(api_client).list_namespaced_job("podium-demo").items
    assert len(jobs) == 1
