"""A release Job waits in the REAL triggerer: a deferrable ReleaseJobOperator, triggered over the REST API,
goes to `deferred`, its KubernetesJobTrigger fires in the triggerer, and the task resumes: success for a
Job that completes, failure naming the pod, container, reason and exit code for one that fails.

The DAG is tests/integration/dags/release_job_deferred.py, which the session's `airflow_cluster` loads
as a second DAG bundle beside the repository's dags/.
"""

from __future__ import annotations

import time

import pytest

from harness.cluster import AirflowCluster

pytestmark = [
    pytest.mark.integration,
    pytest.mark.postgres,
    pytest.mark.xdist_group("airflow-cluster"),  # with the other clusters' tests, not beside them
]

DAG_ID = "release_job_deferred"
TASK_ID = "migrate"


@pytest.fixture(scope="module")
def job_cluster(airflow_cluster: AirflowCluster) -> AirflowCluster:
    airflow_cluster.wait_for_dag(DAG_ID)
    airflow_cluster.unpause(DAG_ID)
    return airflow_cluster


def follow(cluster: AirflowCluster, run_id: str, timeout: float = 240) -> tuple[dict, list[str]]:
    """The task instance once it has finished, and every state it was seen in (polled twice a second)."""
    path = f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{TASK_ID}"
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        response = cluster.api("GET", path)
        if response.status_code == 200:
            ti = response.json()
            state = str(ti["state"])
            if not seen or seen[-1] != state:
                seen.append(state)
            if state in ("success", "failed"):
                return ti, seen
        assert time.monotonic() < deadline, f"{TASK_ID} still {seen[-1:]} after {timeout}s\n{cluster.logs()}"
        time.sleep(0.5)


def fired_events(cluster: AirflowCluster, run_id: str) -> list[str]:
    """The "Trigger fired event" lines of the task's trigger logs: written by the triggerer only."""
    logs = cluster.home / "logs" / f"dag_id={DAG_ID}" / f"run_id={run_id}" / f"task_id={TASK_ID}"
    return [
        line
        for path in logs.glob("attempt=1.log.trigger.*.log")
        for line in path.read_text().splitlines()
        if "Trigger fired event" in line
    ]


def run(cluster: AirflowCluster, tag: str) -> tuple[str, dict, list[str]]:
    response = cluster.trigger(DAG_ID, {"image_tag": tag})
    assert response.status_code == 200, response.text
    run_id = response.json()["dag_run_id"]
    ti, seen = follow(cluster, run_id)
    return run_id, ti, seen


def test_a_release_job_waits_in_the_triggerer_and_resumes(job_cluster) -> None:
    run_id, ti, seen = run(job_cluster, "1.0")
    assert ti["state"] == "success", seen
    assert "deferred" in seen, seen  # the wait left the worker ...
    assert ti["try_number"] == 1  # ... and came back to the same try
    (fired,) = fired_events(job_cluster, run_id)  # ... after the triggerer fired the event
    assert "'status': 'success'" in fired
    result = job_cluster.xcom(DAG_ID, run_id, TASK_ID)
    assert result["job"].startswith("migrate-")
    assert (result["namespace"], result["result"]) == ("default", "Complete")

    run_id, ti, seen = run(job_cluster, "1.1-fail")
    assert ti["state"] == "failed", seen
    assert "deferred" in seen, seen
    assert ti["try_number"] == 1
    (fired,) = fired_events(job_cluster, run_id)
    assert "'status': 'error'" in fired
    assert "'reason': 'BackoffLimitExceeded'" in fired
    log = job_cluster.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{TASK_ID}/logs/1").text
    assert "PermanentError" in log
    assert "failed (BackoffLimitExceeded: Job has reached the specified backoff limit); pod migrate-" in log
    assert "Failed: migrate Error exit code 1" in log
