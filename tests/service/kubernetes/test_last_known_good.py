"""Last known good against the sandbox: a run that starts on top of a crashed, unfinished rollout
returns to the last version that was healthy, not to the unfinished one; retries of the same run keep
the rollback target of their first try."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from harness.kube import wait_for
from harness.tasks import run_task
from podium.kube.workloads import LAST_KNOWN_GOOD, ROLLBACK_TARGET
from podium.operators.kubernetes import KubernetesRolloutOperator
from sandbox.manifests import deployment, statefulset

REPO = Path(__file__).resolve().parents[3]
PATHS = os.pathsep.join([str(REPO / "plugins"), str(REPO / "tests")])
READY_DELAY = "sandbox.podium.dev/ready-delay"


def with_ready_delay(manifest: dict[str, Any], seconds: int) -> dict[str, Any]:
    """``manifest`` whose pods become Ready ``seconds`` (controller time) after they start."""
    slow = copy.deepcopy(manifest)
    slow["spec"]["template"]["metadata"]["annotations"] = {READY_DELAY: str(seconds)}
    return slow


def web(tag: str) -> dict[str, Any]:
    return deployment("web", image=f"shop/web:{tag}", progressDeadlineSeconds=600)


def db(tag: str) -> dict[str, Any]:
    return statefulset("db", image=f"shop/db:{tag}")


def roll(conn: str, **kwargs: Any) -> Callable[[], KubernetesRolloutOperator]:
    kwargs.setdefault("timeout", 60)
    kwargs.setdefault("pod_grace_seconds", 5)
    kwargs.setdefault("deferrable", False)
    return lambda: KubernetesRolloutOperator(task_id="roll", kubernetes_conn_id=conn, **kwargs)


def failure_line(output: str) -> str:
    return next(line for line in reversed(output.splitlines()) if "PermanentError: rollout of" in line)


def annotations_of(read: Callable[[], Any]) -> dict[str, str]:
    return dict(read().metadata.annotations or {})


def known_good_of(read: Callable[[], Any]) -> dict[str, Any]:
    return json.loads(annotations_of(read)[LAST_KNOWN_GOOD])


def crash_mid_rollout(conn: str, run_id: str, kwargs: dict[str, Any], started: Callable[[], bool]) -> None:
    """Run a rollout in a worker process and kill it (SIGKILL) once ``started`` says it is mid-way."""
    attempt = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).with_name("crashed_rollout.py")),
            conn,
            run_id,
            json.dumps(kwargs),
        ],
        env={**os.environ, "PYTHONPATH": PATHS},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(started, timeout=90, what=f"the rollout of {run_id} under way")
        time.sleep(0.5)
    finally:
        attempt.kill()  # the worker dies while waiting
        attempt.wait()
        assert attempt.stdout is not None
        attempt.stdout.close()


def pod_images(core: Any, app: str) -> set[str]:
    pods = core.list_namespaced_pod("default", label_selector=f"app={app}").items
    return {p.spec.containers[0].image for p in pods if p.metadata.deletion_timestamp is None}


def test_deployment_after_a_crashed_rollout_returns_to_the_last_known_good(
    kube, kube_conn, apps, core, kubectl, capfd, airflow_db
) -> None:
    def read() -> Any:
        return apps.read_namespaced_deployment("web", "default")

    good = run_task(roll(kube_conn, manifest=web("1.0")), capfd)
    assert good.state == "success", good.output[-3000:]
    known = known_good_of(read)
    assert (known["kind"], known["revision"], known["images"]) == ("ReplicaSet", 1, {"web": "shop/web:1.0"})
    assert known["name"].startswith("web-")
    assert read().metadata.generation == 1  # recording it is metadata only: no rollout started

    # 1.1 is killed mid-rollout: its one new pod never becomes Ready
    def one_of_three_updated() -> bool:
        live = read()
        return (
            live.status.observed_generation == live.metadata.generation == 2
            and live.status.updated_replicas == 1
        )

    crash_mid_rollout(
        kube_conn, "run-1.1", {"manifest": with_ready_delay(web("1.1"), 100_000)}, one_of_three_updated
    )
    assert read().status.updated_replicas == 1
    assert known_good_of(read) == known  # an unfinished rollout records nothing

    result = run_task(roll(kube_conn, manifest=web("1.2-crash")), capfd)
    assert (result.state, result.tries) == ("failed", 1), result.output[-3000:]
    started = result.output.index("this run starts on an unfinished change: 1.1 (replicaset web-")
    assert started < result.output.index("applied deployment/web")  # said before anything changed
    message = failure_line(result.output)
    assert "rollout of deployment/web in namespace default failed: " in message
    assert "CrashLoopBackOff" in message
    assert message.endswith(
        f"1.1 was not fully rolled out when this run started: returning to 1.0 (replicaset {known['name']}, "
        f"revision 1), last healthy at {known['healthy_at']}. Rolled back to revision 1."
    )

    status = kubectl("rollout", "status", "deployment/web", "--timeout=30s")
    assert status.stdout.strip().endswith('deployment "web" successfully rolled out')
    assert read().spec.template.spec.containers[0].image == "shop/web:1.0"
    wait_for(lambda: pod_images(core, "web") == {"shop/web:1.0"}, what="only 1.0 pods")
    again = known_good_of(read)  # the rollback recorded the version it made healthy again
    assert (again["name"], again["images"], again["revision"]) == (known["name"], known["images"], 4)
    assert again["healthy_at"] >= known["healthy_at"]


def test_statefulset_after_a_crashed_rollout_returns_to_the_last_known_good(
    kube, kube_conn, apps, core, kubectl, capfd, airflow_db
) -> None:
    def read() -> Any:
        return apps.read_namespaced_stateful_set("db", "default")

    good = run_task(roll(kube_conn, manifest=db("1.0")), capfd)
    assert good.state == "success", good.output[-3000:]
    known = known_good_of(read)
    assert (known["kind"], known["revision"], known["images"]) == (
        "ControllerRevision",
        1,
        {"db": "shop/db:1.0"},
    )
    assert read().metadata.generation == 1

    # 1.1 is killed mid-rollout: db-2 is replaced by a 1.1 pod that never becomes Ready
    def db_2_updated() -> bool:
        status = read().status
        return status.update_revision != status.current_revision and status.updated_replicas == 1

    crash_mid_rollout(kube_conn, "run-1.1", {"manifest": with_ready_delay(db("1.1"), 100_000)}, db_2_updated)

    # the StatefulSet controller waits for db-2 forever: the new run times out, and its rollback
    # deletes the pods that are not Ready (Kubernetes' forced rollback), 1.1's included
    result = run_task(roll(kube_conn, manifest=db("1.2-crash"), timeout=8), capfd)
    assert (result.state, result.tries) == ("failed", 1), result.output[-3000:]
    started = result.output.index("this run starts on an unfinished change: 1.1 (controllerrevision db-")
    assert started < result.output.index("applied statefulset/db")
    message = failure_line(result.output)
    assert "timed out waiting for statefulset/db in namespace default" in message
    assert message.endswith(
        f"1.1 was not fully rolled out when this run started: returning to 1.0 (controllerrevision "
        f"{known['name']}, revision 1), last healthy at {known['healthy_at']}. Rolled back to revision 1."
    )

    assert kubectl("rollout", "status", "statefulset/db", "--timeout=30s").returncode == 0
    assert read().spec.template.spec.containers[0].image == "shop/db:1.0"
    wait_for(lambda: pod_images(core, "db") == {"shop/db:1.0"}, what="only 1.0 pods")
    status = read().status
    assert status.current_revision == status.update_revision == known["name"]
    assert status.ready_replicas == 3
    assert known_good_of(read)["name"] == known["name"]


def test_a_retry_after_a_crash_keeps_the_first_tries_target_and_does_not_reapply(
    kube, kube_conn, apps, capfd, caplog, airflow_db
) -> None:
    def read() -> Any:
        return apps.read_namespaced_deployment("web", "default")

    good = run_task(roll(kube_conn, manifest=web("1.0")), capfd)
    assert good.state == "success", good.output[-3000:]
    known = known_good_of(read)

    def updating(generation: int) -> Callable[[], bool]:
        def one_new_pod() -> bool:
            live = read()
            observed = live.status.observed_generation == live.metadata.generation == generation
            return observed and live.status.updated_replicas == 1

        return one_new_pod

    # run 2 (1.1) is killed mid-rollout; run 3 (1.2) starts on top of it and is killed mid-rollout too
    crash_mid_rollout(kube_conn, "run-2", {"manifest": with_ready_delay(web("1.1"), 100_000)}, updating(2))
    slow_12 = with_ready_delay(web("1.2"), 20)  # Ready after 2 s: the retry can finish
    crash_mid_rollout(kube_conn, "run-3", {"manifest": slow_12}, updating(3))
    recorded = annotations_of(read)[ROLLBACK_TARGET]
    assert json.loads(recorded)["version"]["name"] == known["name"]
    assert read().status.updated_replicas != 3

    # the retry of run 3: same task instance, a new process
    capfd.readouterr()
    with caplog.at_level("INFO"):
        result = KubernetesRolloutOperator(
            task_id="roll", manifest=slow_12, kubernetes_conn_id=kube_conn, timeout=120, deferrable=False
        ).execute({"ti": SimpleNamespace(dag_id="release", run_id="run-3", task_id="roll")})
    logged = caplog.text + "".join(capfd.readouterr())
    assert (
        "resuming rollout release/run-3/roll of deployment/web in namespace default; rollback target "
        "recorded on its first try: 1.1 was not fully rolled out when this run started: returning to 1.0 "
        f"(replicaset {known['name']}, revision 1), last healthy at {known['healthy_at']}"
    ) in logged
    assert "deployment/web already matches the manifest: not re-applying" in logged
    assert "applied deployment/web" not in logged  # no second apply
    assert read().metadata.generation == 3
    assert (result["revision"], result["previous_revision"]) == (3, 1)
    assert result["images"] == {"web": "shop/web:1.2"}
    assert annotations_of(read)[ROLLBACK_TARGET] == recorded
    assert len(apps.list_namespaced_replica_set("default", label_selector="app=web").items) == 3
    now_good = known_good_of(read)
    assert (now_good["revision"], now_good["images"], now_good["rollout"]) == (
        3,
        {"web": "shop/web:1.2"},
        "release/run-3/roll",
    )


def test_a_first_rollout_that_never_became_healthy_is_not_rolled_back(
    kube_conn, apps, capfd, airflow_db
) -> None:
    first = run_task(roll(kube_conn, manifest=web("1.0-crash")), capfd)
    assert first.state == "failed"
    assert failure_line(first.output).endswith("Nothing to roll back to (first rollout).")
    second = run_task(roll(kube_conn, manifest=web("1.1-crash")), capfd)
    assert second.state == "failed"
    assert failure_line(second.output).endswith(
        "Nothing to roll back to: 1.0-crash was not fully rolled out when this run started and no version "
        "of it was ever recorded healthy."
    )
    image = apps.read_namespaced_deployment("web", "default").spec.template.spec.containers[0].image
    assert image == "shop/web:1.1-crash"  # left in place: there is nothing healthy to return to
