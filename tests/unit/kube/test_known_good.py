"""podium.kube.known_good: the version last verified healthy, and the rollback target of a run."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from podium.kube.known_good import (
    RollbackTarget,
    Version,
    current_version,
    encode,
    healthy_version,
    known_good,
    known_good_patch,
    recorded_target,
    rollback_target,
    target_of_revision,
    timestamp,
)
from podium.kube.workloads import LAST_KNOWN_GOOD, ROLLBACK_TARGET

NOW = "2026-12-02T07:00:00Z"
THEN = "2026-12-02T06:40:12Z"
REVISION = "deployment.kubernetes.io/revision"


def annotations(lkg: dict[str, Any] | str | None) -> dict[str, str]:
    if lkg is None:
        return {}
    return {LAST_KNOWN_GOOD: lkg if isinstance(lkg, str) else encode(lkg)}


def deployment(
    revision: int, *, done: bool = True, lkg: dict[str, Any] | str | None = None, observed: bool = True
) -> dict[str, Any]:
    """deployment/web at ``revision``: fully rolled out (``done``) or 1 of its 3 pods updated."""
    return {
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "uid": "d-uid",
            "generation": 4,
            "annotations": {REVISION: str(revision), **annotations(lkg)},
        },
        "spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "web", "image": "x"}]}}},
        "status": {
            "observedGeneration": 4 if observed else 3,
            "replicas": 3 if done else 4,
            "updatedReplicas": 3 if done else 1,
            "availableReplicas": 3,
        },
    }


def replicaset(suffix: str, revision: int, tag: str) -> dict[str, Any]:
    return {
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"web-{suffix}",
            "annotations": {REVISION: str(revision)},
            "labels": {"app": "web", "pod-template-hash": suffix},
            "ownerReferences": [{"uid": "d-uid", "kind": "Deployment", "name": "web", "controller": True}],
        },
        "spec": {
            "template": {
                "metadata": {"labels": {"app": "web", "pod-template-hash": suffix}},
                "spec": {"containers": [{"name": "web", "image": f"shop/web:{tag}"}]},
            }
        },
    }


def statefulset(
    update: str, current: str, *, ready: int, lkg: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "kind": "StatefulSet",
        "metadata": {"name": "db", "uid": "s-uid", "generation": 2, "annotations": annotations(lkg)},
        "spec": {"replicas": 3, "updateStrategy": {"type": "RollingUpdate"}},
        "status": {
            "observedGeneration": 2,
            "readyReplicas": ready,
            "updatedReplicas": 3 if update == current else 1,
            "currentReplicas": 3 if update == current else 2,
            "updateRevision": update,
            "currentRevision": current,
        },
    }


def daemonset() -> dict[str, Any]:
    return {
        "kind": "DaemonSet",
        "metadata": {"name": "agent", "uid": "a-uid", "generation": 1},
        "spec": {},
        "status": {
            "observedGeneration": 1,
            "desiredNumberScheduled": 3,
            "updatedNumberScheduled": 3,
            "numberAvailable": 3,
        },
    }


def revision(owner: str, uid: str, name: str, number: int, tag: str) -> dict[str, Any]:
    return {
        "kind": "ControllerRevision",
        "metadata": {"name": name, "ownerReferences": [{"uid": uid}]},
        "revision": number,
        "data": {
            "spec": {
                "template": {
                    "spec": {"containers": [{"name": owner, "image": f"{owner}:{tag}"}]},
                    "$patch": "replace",
                }
            }
        },
    }


def version(name: str, number: int, tag: str, healthy_at: str | None = None, **extra: Any) -> Version:
    kind = "ReplicaSet" if name.startswith("web-") else "ControllerRevision"
    image = f"shop/web:{tag}" if kind == "ReplicaSet" else f"{name.split('-')[0]}:{tag}"
    container = "web" if kind == "ReplicaSet" else name.split("-")[0]
    return Version(kind, name, number, {container: image}, healthy_at, **extra)


AAA, BBB, CCC = replicaset("aaa", 1, "1.0"), replicaset("bbb", 2, "1.1"), replicaset("ccc", 3, "1.2")
LKG_AAA = version("web-aaa", 1, "1.0", THEN, rollout="d/run-1/roll").as_dict()
WAITING = 'Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...'
DONE = 'deployment "web" successfully rolled out'
DB_AAA = revision("db", "s-uid", "db-aaa", 1, "1.0")
DB_BBB = revision("db", "s-uid", "db-bbb", 2, "1.1")


@pytest.mark.parametrize(
    ("workload", "history", "expected"),
    [
        pytest.param(None, [], RollbackTarget(None, exists=False), id="first-rollout"),
        pytest.param(
            deployment(1),
            [AAA],
            RollbackTarget(version("web-aaa", 1, "1.0", NOW), version("web-aaa", 1, "1.0"), status=DONE),
            id="healthy-current-without-record",
        ),
        pytest.param(
            deployment(2, lkg=LKG_AAA),
            [AAA, BBB],
            RollbackTarget(version("web-bbb", 2, "1.1", NOW), version("web-bbb", 2, "1.1"), status=DONE),
            id="healthy-current-wins-over-an-older-record",
        ),
        pytest.param(
            deployment(2, done=False, lkg=LKG_AAA),
            [AAA, BBB],
            RollbackTarget(
                version("web-aaa", 1, "1.0", THEN, rollout="d/run-1/roll"),
                version("web-bbb", 2, "1.1"),
                unfinished=True,
                status=WAITING,
            ),
            id="unfinished-returns-to-last-known-good",
        ),
        pytest.param(
            deployment(4, done=False, lkg=LKG_AAA),
            [BBB, replicaset("aaa", 3, "1.0"), replicaset("ddd", 4, "1.3")],
            RollbackTarget(
                version("web-aaa", 3, "1.0", THEN, rollout="d/run-1/roll"),
                version("web-ddd", 4, "1.3"),
                unfinished=True,
                status=WAITING,
            ),
            id="last-known-good-found-by-name-after-renumbering",
        ),
        pytest.param(
            deployment(3, done=False, observed=False, lkg=LKG_AAA),
            [AAA, BBB, CCC],
            RollbackTarget(
                version("web-aaa", 1, "1.0", THEN, rollout="d/run-1/roll"),
                version("web-ccc", 3, "1.2"),
                unfinished=True,
                status="Waiting for deployment spec update to be observed...",
            ),
            id="spec-update-not-observed-is-unfinished",
        ),
        pytest.param(
            deployment(2, done=False),
            [AAA, BBB],
            RollbackTarget(None, version("web-bbb", 2, "1.1"), unfinished=True, status=WAITING),
            id="unfinished-and-nothing-ever-recorded-healthy",
        ),
        pytest.param(
            deployment(2, done=False, lkg="{not json"),
            [AAA, BBB],
            RollbackTarget(None, version("web-bbb", 2, "1.1"), unfinished=True, status=WAITING),
            id="unreadable-record-is-no-record",
        ),
        pytest.param(
            deployment(3, done=False, lkg=LKG_AAA),
            [BBB, CCC],
            RollbackTarget(
                None,
                version("web-ccc", 3, "1.2"),
                unfinished=True,
                status=WAITING,
                gone=version("web-aaa", 1, "1.0", THEN, rollout="d/run-1/roll"),
            ),
            id="last-known-good-pruned-from-history",
        ),
        pytest.param(
            deployment(1, done=False, lkg=LKG_AAA),
            [AAA],
            RollbackTarget(
                version("web-aaa", 1, "1.0", THEN, rollout="d/run-1/roll"),
                version("web-aaa", 1, "1.0"),
                unfinished=True,
                status=WAITING,
            ),
            id="unhealthy-last-known-good-is-still-the-target",
        ),
        pytest.param(
            statefulset("db-bbb", "db-aaa", ready=2, lkg=version("db-aaa", 1, "1.0", THEN).as_dict()),
            [DB_AAA, DB_BBB],
            RollbackTarget(
                version("db-aaa", 1, "1.0", THEN),
                version("db-bbb", 2, "1.1"),
                unfinished=True,
                status="Waiting for 1 pods to be ready...",
            ),
            id="statefulset-mid-update",
        ),
        pytest.param(
            statefulset("db-bbb", "db-bbb", ready=3, lkg=version("db-aaa", 1, "1.0", THEN).as_dict()),
            [DB_AAA, DB_BBB],
            RollbackTarget(
                version("db-bbb", 2, "1.1", NOW),
                version("db-bbb", 2, "1.1"),
                status="statefulset rolling update complete 3 pods at revision db-bbb...",
            ),
            id="statefulset-rolled-out",
        ),
        pytest.param(
            daemonset(),
            [
                revision("agent", "a-uid", "agent-aaa", 1, "3"),
                revision("agent", "a-uid", "agent-bbb", 2, "4"),
            ],
            RollbackTarget(
                version("agent-bbb", 2, "4", NOW),
                version("agent-bbb", 2, "4"),
                status='daemon set "agent" successfully rolled out',
            ),
            id="daemonset-rolled-out",
        ),
    ],
)
def test_rollback_target(
    workload: dict[str, Any] | None, history: list[dict[str, Any]], expected: RollbackTarget
) -> None:
    target = rollback_target(workload, history, now=NOW)
    assert target == expected
    assert RollbackTarget.from_dict(json.loads(encode(target.as_dict()))) == target  # survives the annotation


@pytest.mark.parametrize(
    ("target", "describe"),
    [
        pytest.param(
            RollbackTarget(None, exists=False), "first rollout: nothing to roll back to", id="first"
        ),
        pytest.param(
            RollbackTarget(version("web-aaa", 1, "1.0", THEN), version("web-bbb", 2, "1.1"), unfinished=True),
            "1.1 was not fully rolled out when this run started: returning to 1.0 (replicaset web-aaa, "
            "revision 1), last healthy at 2026-12-02T06:40:12Z",
            id="unfinished",
        ),
        pytest.param(
            RollbackTarget(version("web-aaa", 1, "1.0", NOW), version("web-aaa", 1, "1.0")),
            "1.0 was fully rolled out when this run started: returning to 1.0 (replicaset web-aaa, "
            "revision 1), last healthy at 2026-12-02T07:00:00Z",
            id="healthy",
        ),
        pytest.param(
            RollbackTarget(version("web-aaa", 1, "1.0", THEN), version("web-aaa", 1, "1.0"), unfinished=True),
            "1.0 was not fully rolled out when this run started, but it is the last version recorded "
            "healthy: returning to 1.0 (replicaset web-aaa, revision 1), last healthy at "
            "2026-12-02T06:40:12Z",
            id="unhealthy-last-known-good",
        ),
        pytest.param(
            RollbackTarget(None, version("web-bbb", 2, "1.1"), unfinished=True),
            "1.1 was not fully rolled out when this run started and no version of it was ever recorded "
            "healthy: nothing to roll back to",
            id="never-healthy",
        ),
        pytest.param(
            RollbackTarget(None, None, unfinished=True, gone=version("web-aaa", 1, "1.0")),
            "its newest version was not fully rolled out when this run started and its last known good "
            "version 1.0 (replicaset web-aaa, revision 1) is gone from its history: nothing to roll back to",
            id="gone",
        ),
        pytest.param(
            RollbackTarget(version("db-aaa", 1, "1.0"), version("db-bbb", 2, "1.1"), unfinished=True),
            "1.1 was not fully rolled out when this run started: returning to 1.0 (controllerrevision "
            "db-aaa, revision 1)",
            id="statefulset-without-time",
        ),
    ],
)
def test_describe_says_which_version_and_why(target: RollbackTarget, describe: str) -> None:
    assert target.describe() == describe


def test_describe_takes_the_revision_number_of_now() -> None:
    target = RollbackTarget(version("web-aaa", 1, "1.0", THEN), version("web-bbb", 2, "1.1"), unfinished=True)
    assert "returning to 1.0 (replicaset web-aaa, revision 3), last healthy at" in target.describe(3)


def test_unfinished_text_names_the_current_version_and_its_status() -> None:
    target = rollback_target(deployment(2, done=False, lkg=LKG_AAA), [AAA, BBB], now=NOW)
    assert target.unfinished_text() == (
        "this run starts on an unfinished change: 1.1 (replicaset web-bbb, revision 2) is not fully rolled "
        f"out ({WAITING})"
    )


@pytest.mark.parametrize(
    ("workload", "history", "expected"),
    [
        pytest.param(
            deployment(2), [AAA, BBB], version("web-bbb", 2, "1.1", NOW, rollout="r"), id="rolled-out"
        ),
        pytest.param(deployment(2, done=False), [AAA, BBB], None, id="mid-rollout"),
        pytest.param(deployment(3), [AAA, BBB], None, id="no-replicaset-yet"),
    ],
)
def test_healthy_version(
    workload: dict[str, Any], history: list[dict[str, Any]], expected: Version | None
) -> None:
    assert healthy_version(workload, history, now=NOW, rollout="r") == expected


def test_the_record_is_json_on_metadata_only() -> None:
    record = version("web-aaa", 1, "1.0", THEN, rollout="d/run-1/roll")
    patch = known_good_patch(record)
    assert list(patch) == ["metadata"]  # no spec: writing it starts no rollout
    assert json.loads(patch["metadata"]["annotations"][LAST_KNOWN_GOOD]) == {
        "kind": "ReplicaSet",
        "name": "web-aaa",
        "revision": 1,
        "images": {"web": "shop/web:1.0"},
        "healthy_at": THEN,
        "rollout": "d/run-1/roll",
    }
    assert known_good({"metadata": patch["metadata"]}) == record
    assert known_good({"metadata": {}}) is None


def test_recorded_target_and_the_revision_number_of_older_runs() -> None:
    target = rollback_target(deployment(2, done=False, lkg=LKG_AAA), [AAA, BBB], now=NOW)
    live = {"metadata": {"annotations": {ROLLBACK_TARGET: encode(target.as_dict())}}}
    assert recorded_target(live) == target
    assert recorded_target({"metadata": {}}) is None
    assert target_of_revision(deployment(2), [AAA, BBB], 1) == RollbackTarget(version("web-aaa", 1, "1.0"))
    assert target_of_revision(deployment(2), [AAA, BBB], None).first_rollout


def test_current_version_and_timestamp() -> None:
    assert current_version(deployment(3), [AAA, BBB, CCC]) == version("web-ccc", 3, "1.2")
    assert current_version(deployment(1), []) is None
    moment = dt.datetime(2026, 12, 2, 7, 40, 12, 999, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert timestamp(moment) == THEN


@pytest.mark.parametrize(
    ("target", "text"),
    [
        pytest.param(
            RollbackTarget(None, exists=False), "Nothing to roll back to (first rollout).", id="first"
        ),
        pytest.param(
            RollbackTarget(None, version("web-aaa", 1, "1.0-crash"), unfinished=True),
            "Nothing to roll back to: 1.0-crash was not fully rolled out when this run started and no "
            "version of it was ever recorded healthy.",
            id="never-healthy",
        ),
    ],
)
def test_nothing_to_roll_back_to(target: RollbackTarget, text: str) -> None:
    assert target.nothing_to_roll_back_to() == text
