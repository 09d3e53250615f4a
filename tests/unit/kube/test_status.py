"""podium.kube.status as tables: kubectl's verdicts and messages, and early pod-failure detection."""

from __future__ import annotations

import datetime as dt

import pytest

from podium.kube.status import (
    PodProblem,
    Verdict,
    pod_problems,
    rollout_verdict,
    workload_verdict,
)

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)


def deployment(generation=2, observed=2, replicas=3, updated=3, total=3, available=3, conditions=()):
    return {
        "kind": "Deployment",
        "metadata": {"name": "web", "generation": generation},
        "spec": {"replicas": replicas},
        "status": {
            "observedGeneration": observed,
            "updatedReplicas": updated,
            "replicas": total,
            "availableReplicas": available,
            "conditions": list(conditions),
        },
    }


DEADLINE = {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
STALE_OK = {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}


@pytest.mark.parametrize(
    ("obj", "state", "message"),
    [
        (deployment(), "complete", 'deployment "web" successfully rolled out'),
        (
            deployment(generation=3, observed=2),
            "progressing",
            "Waiting for deployment spec update to be observed...",
        ),
        # a stale deadline condition from before the new generation does not count
        (
            deployment(generation=3, observed=2, conditions=[DEADLINE]),
            "progressing",
            "Waiting for deployment spec update to be observed...",
        ),
        (
            deployment(conditions=[DEADLINE], updated=1),
            "failed",
            'deployment "web" exceeded its progress deadline',
        ),
        (
            deployment(updated=1, total=4),
            "progressing",
            'Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...',
        ),
        (
            deployment(total=4),
            "progressing",
            'Waiting for deployment "web" rollout to finish: 1 old replicas are pending termination...',
        ),
        (
            deployment(available=2),
            "progressing",
            'Waiting for deployment "web" rollout to finish: 2 of 3 updated replicas are available...',
        ),
        (
            deployment(replicas=0, updated=0, total=0, available=0, conditions=[STALE_OK]),
            "complete",
            'deployment "web" successfully rolled out',
        ),
        (
            {"kind": "Deployment", "metadata": {"name": "web", "generation": 1}, "spec": {}, "status": {}},
            "progressing",
            "Waiting for deployment spec update to be observed...",
        ),
    ],
)
def test_deployment_verdicts(obj, state, message) -> None:
    assert workload_verdict(obj) == Verdict(state, message)


def statefulset(
    generation=1,
    observed=1,
    replicas=3,
    ready=3,
    updated=3,
    partition=0,
    rolling=True,
    current="db-a",
    update="db-a",
    current_replicas=3,
    strategy="RollingUpdate",
):
    update_strategy = {"type": strategy}
    if rolling:
        update_strategy["rollingUpdate"] = {"partition": partition}
    return {
        "kind": "StatefulSet",
        "metadata": {"name": "db", "generation": generation},
        "spec": {"replicas": replicas, "updateStrategy": update_strategy},
        "status": {
            "observedGeneration": observed,
            "readyReplicas": ready,
            "updatedReplicas": updated,
            "currentRevision": current,
            "updateRevision": update,
            "currentReplicas": current_replicas,
        },
    }


@pytest.mark.parametrize(
    ("obj", "state", "message"),
    [
        (statefulset(observed=0), "progressing", "Waiting for statefulset spec update to be observed..."),
        (statefulset(generation=2), "progressing", "Waiting for statefulset spec update to be observed..."),
        (statefulset(ready=1), "progressing", "Waiting for 2 pods to be ready..."),
        (
            statefulset(updated=1, partition=0),
            "progressing",
            "Waiting for partitioned roll out to finish: 1 out of 3 new pods have been updated...",
        ),
        (
            statefulset(updated=1, partition=2),
            "complete",
            "partitioned roll out complete: 1 new pods have been updated...",
        ),
        (statefulset(), "complete", "partitioned roll out complete: 3 new pods have been updated..."),
        (
            statefulset(rolling=False, update="db-b", updated=2),
            "progressing",
            "waiting for statefulset rolling update to complete 2 pods at revision db-b...",
        ),
        (
            statefulset(rolling=False),
            "complete",
            "statefulset rolling update complete 3 pods at revision db-a...",
        ),
        (
            statefulset(strategy="OnDelete"),
            "failed",
            "rollout status is only available for RollingUpdate strategy type",
        ),
    ],
)
def test_statefulset_verdicts(obj, state, message) -> None:
    assert workload_verdict(obj) == Verdict(state, message)


def daemonset(generation=1, observed=1, desired=3, updated=3, available=3):
    return {
        "kind": "DaemonSet",
        "metadata": {"name": "agent", "generation": generation},
        "spec": {"updateStrategy": {"type": "RollingUpdate"}},
        "status": {
            "observedGeneration": observed,
            "desiredNumberScheduled": desired,
            "updatedNumberScheduled": updated,
            "numberAvailable": available,
        },
    }


@pytest.mark.parametrize(
    ("obj", "state", "message"),
    [
        (daemonset(), "complete", 'daemon set "agent" successfully rolled out'),
        (daemonset(generation=2), "progressing", "Waiting for daemon set spec update to be observed..."),
        (
            daemonset(updated=1),
            "progressing",
            'Waiting for daemon set "agent" rollout to finish: 1 out of 3 new pods have been updated...',
        ),
        (
            daemonset(available=2),
            "progressing",
            'Waiting for daemon set "agent" rollout to finish: 2 of 3 updated pods are available...',
        ),
    ],
)
def test_daemonset_verdicts(obj, state, message) -> None:
    assert workload_verdict(obj) == Verdict(state, message)


def test_unknown_kinds_are_refused() -> None:
    with pytest.raises(ValueError, match="only Deployment, StatefulSet, DaemonSet"):
        workload_verdict({"kind": "Job", "metadata": {"name": "x"}})


def pod(name, age_s, *containers, phase="Running", init=()):
    return {
        "metadata": {"name": name, "creationTimestamp": (NOW - dt.timedelta(seconds=age_s)).isoformat()},
        "status": {
            "phase": phase,
            "containerStatuses": list(containers),
            "initContainerStatuses": list(init),
        },
    }


def waiting(name, reason, message="", restarts=0):
    return {
        "name": name,
        "restartCount": restarts,
        "state": {"waiting": {"reason": reason, "message": message}},
    }


def running(name):
    return {"name": name, "restartCount": 0, "state": {"running": {}}}


GRACE = dt.timedelta(seconds=30)


@pytest.mark.parametrize(
    ("pods", "expected"),
    [
        ([pod("p1", 60, running("app"))], ()),
        ([pod("p1", 60, waiting("app", "ContainerCreating"))], ()),
        ([pod("p1", 10, waiting("app", "CrashLoopBackOff"))], ()),  # within the grace period
        (
            [pod("p1", 60, waiting("app", "CrashLoopBackOff", "back-off 10s", 4), running("sidecar"))],
            (PodProblem("p1", "app", "CrashLoopBackOff", "back-off 10s", 4),),
        ),
        (
            [
                pod("p2", 60, waiting("app", "ImagePullBackOff", 'Back-off pulling image "x"')),
                pod("p1", 60, waiting("app", "ErrImagePull")),
            ],
            (
                PodProblem("p1", "app", "ErrImagePull"),
                PodProblem("p2", "app", "ImagePullBackOff", 'Back-off pulling image "x"'),
            ),
        ),
        (
            [pod("p1", 60, waiting("app", "CreateContainerConfigError", 'secret "db" not found'))],
            (PodProblem("p1", "app", "CreateContainerConfigError", 'secret "db" not found'),),
        ),
        (
            [pod("p1", 60, waiting("app", "PodInitializing"), init=[waiting("migrate", "CrashLoopBackOff")])],
            (PodProblem("p1", "migrate", "CrashLoopBackOff"),),
        ),
        ([pod("p1", 60, phase="Failed")], (PodProblem("p1", "", "Failed"),)),
    ],
)
def test_pod_problems(pods, expected) -> None:
    assert pod_problems(pods, NOW, GRACE) == expected


def test_stuck_pods_fail_a_rollout_early_naming_pod_container_and_reason() -> None:
    stuck = [pod("web-7d9-abcde", 45, waiting("web", "CrashLoopBackOff", "back-off 20s", 3))]
    verdict = rollout_verdict(deployment(updated=1, total=4), stuck, NOW, GRACE)
    assert verdict.state == "failed"
    assert verdict.describe() == (
        'deployment "web" has pods that cannot start; pod web-7d9-abcde container web: CrashLoopBackOff '
        "(3 restarts) - back-off 20s"
    )
    # the same pods within the grace period: still progressing, with kubectl's message
    assert rollout_verdict(deployment(updated=1, total=4), stuck, NOW, dt.timedelta(minutes=5)) == Verdict(
        "progressing",
        'Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...',
    )


def test_pods_are_not_judged_before_the_controller_observed_the_spec() -> None:
    stuck = [pod("web-1", 600, waiting("web", "CrashLoopBackOff"))]
    verdict = rollout_verdict(deployment(generation=4, observed=3, updated=1, total=4), stuck, NOW, GRACE)
    assert verdict == Verdict("progressing", "Waiting for deployment spec update to be observed...")


def test_deadline_failure_carries_the_pod_problems() -> None:
    stuck = [pod("web-1", 600, waiting("web", "ImagePullBackOff"))]
    verdict = rollout_verdict(deployment(conditions=[DEADLINE], updated=1), stuck, NOW, GRACE)
    assert verdict == Verdict(
        "failed",
        'deployment "web" exceeded its progress deadline',
        (PodProblem("web-1", "web", "ImagePullBackOff"),),
    )


def test_complete_ignores_leftover_pods() -> None:
    leftovers = [pod("old", 600, waiting("web", "CrashLoopBackOff"))]
    assert rollout_verdict(deployment(), leftovers, NOW, GRACE).state == "complete"


def test_verdict_round_trips_through_a_dict() -> None:
    verdict = Verdict("failed", "m", (PodProblem("p", "c", "ErrImagePull", "x", 1),))
    assert Verdict.from_dict(verdict.as_dict()) == verdict
