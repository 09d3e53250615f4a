"""Why a rollout failed, as pure functions over API objects (podium.kube.explain)."""

from __future__ import annotations

from typing import Any

from podium.kube.explain import failure_evidence, warnings_about, workload_conditions
from podium.kube.status import PodProblem, Verdict


def pod(name: str, *containers: dict[str, Any], ready: bool = False, **status: Any) -> dict[str, Any]:
    return {
        "kind": "Pod",
        "metadata": {"name": name, "uid": f"uid-{name}"},
        "status": {
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": list(containers),
            **status,
        },
    }


def crashing(name: str = "web", restarts: int = 4) -> dict[str, Any]:
    return {
        "name": name,
        "ready": False,
        "restartCount": restarts,
        "lastState": {"terminated": {"reason": "Error", "exitCode": 1}},
        "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting"}},
    }


def event(
    obj_uid: str, reason: str, message: str, when: str, count: int = 1, **involved: Any
) -> dict[str, Any]:
    return {
        "type": "Warning",
        "reason": reason,
        "message": message,
        "count": count,
        "lastTimestamp": when,
        "involvedObject": {"uid": obj_uid, **involved},
    }


DEPLOY = {
    "kind": "Deployment",
    "metadata": {"name": "shop", "uid": "uid-shop"},
    "status": {
        "conditions": [
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
            {
                "type": "ReplicaFailure",
                "status": "True",
                "reason": "FailedCreate",
                "message": 'pods "shop-7d9-x" is forbidden: exceeded quota: pods, requested: pods=1, '
                "used: pods=2, limited: pods=2",
            },
            {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"},
        ]
    },
}
NEW_RS = {"kind": "ReplicaSet", "metadata": {"name": "shop-7d9", "uid": "uid-rs"}}


def test_a_crashing_pod_is_named_with_container_reason_restarts_and_its_last_events() -> None:
    events = [
        event("uid-shop-1", "BackOff", "Back-off restarting failed container web", "2026-12-02T10:00:09Z", 3),
        event("uid-shop-1", "Failed", "Error: exit 1", "2026-12-02T10:00:05Z"),
        event("uid-other", "BackOff", "not this pod", "2026-12-02T10:00:09Z"),
        {**event("uid-shop-1", "Pulled", "normal", "2026-12-02T10:00:10Z"), "type": "Normal"},
    ]
    problems, notes = failure_evidence(DEPLOY, [pod("shop-1", crashing())], events)
    assert notes == ()
    assert problems == (
        PodProblem(
            "shop-1",
            "web",
            "CrashLoopBackOff",
            "back-off 40s restarting; last run ended: Error, exit code 1",
            4,
            ("Failed: Error: exit 1", "BackOff: Back-off restarting failed container web (x3)"),
        ),
    )
    verdict = Verdict("failed", 'deployment "shop" exceeded its progress deadline', problems)
    assert verdict.describe() == (
        'deployment "shop" exceeded its progress deadline; pod shop-1 container web: CrashLoopBackOff '
        "(4 restarts) - back-off 40s restarting; last run ended: Error, exit code 1 [last warning events: "
        "Failed: Error: exit 1; BackOff: Back-off restarting failed container web (x3)]"
    )
    assert Verdict.from_dict(verdict.as_dict()) == verdict


def test_no_pod_of_the_new_revision_gives_the_conditions_and_the_replicasets_events() -> None:
    events = [event("uid-rs", "FailedCreate", 'Error creating: pods "shop-7d9-x" is forbidden', "t1", 7)]
    problems, notes = failure_evidence(DEPLOY, [], events, [NEW_RS])
    assert problems == ()
    assert notes == (
        "no pod of the new revision exists; deployment conditions: ReplicaFailure (FailedCreate): "
        'pods "shop-7d9-x" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=2, '
        "limited: pods=2; Progressing=False (ProgressDeadlineExceeded)",
        "replicaset/shop-7d9 warning events: FailedCreate: Error creating: "
        'pods "shop-7d9-x" is forbidden (x7)',
    )


def test_a_statefulset_without_pods_and_without_conditions_says_so() -> None:
    sts = {"kind": "StatefulSet", "metadata": {"name": "db", "uid": "uid-db"}, "status": {}}
    events = [event("uid-db", "FailedCreate", "create Pod db-0 failed: admission webhook denied", "t")]
    assert failure_evidence(sts, [], events) == (
        (),
        (
            "no pod of the new revision exists; statefulset conditions: none",
            "statefulset/db warning events: FailedCreate: create Pod db-0 failed: admission webhook denied",
        ),
    )


def test_unready_pods_of_every_kind() -> None:
    running = {"name": "web", "ready": False, "restartCount": 0, "state": {"running": {}}}
    pending = pod(
        "p-2",
        conditions=[
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": "0/3 nodes are available: 3 Insufficient cpu.",
            }
        ],
    )
    failed = pod("p-3", phase="Failed", reason="Evicted", message="The node was low on resource: memory.")
    failed["status"]["containerStatuses"] = []
    problems, _ = failure_evidence(DEPLOY, [pod("p-1", running), pending, failed, pod("ok", ready=True)], [])
    assert [(p.pod, p.container, p.reason, p.message) for p in problems] == [
        ("p-1", "web", "Running, not ready", "its readiness probe has not passed"),
        ("p-2", "", "Unschedulable", "0/3 nodes are available: 3 Insufficient cpu."),
        ("p-3", "", "Evicted", "The node was low on resource: memory."),
    ]


def test_many_pods_are_counted_not_listed_and_all_ready_is_said() -> None:
    pods = [pod(f"p-{n}", crashing()) for n in range(8)]
    problems, notes = failure_evidence(DEPLOY, pods, [])
    assert sorted({p.pod for p in problems}) == [f"p-{n}" for n in range(5)]
    assert notes == ("3 more pods of the new revision are not ready",)
    assert failure_evidence(DEPLOY, [pod("a", ready=True), pod("b", ready=True)], []) == (
        (),
        ("all 2 pods of the new revision are ready",),
    )


def test_conditions_and_events_helpers() -> None:
    assert workload_conditions({"status": {"conditions": [{"type": "Available", "status": "True"}]}}) == ()
    named = {"type": "Warning", "reason": "X", "message": "m", "involvedObject": {"kind": "Pod", "name": "a"}}
    assert warnings_about([named], {"kind": "Pod", "metadata": {"name": "a"}}) == ("X: m",)
    assert warnings_about([named], {"kind": "Pod", "metadata": {"name": "b"}}) == ()
