"""A release run's decisions as pure functions (podium.release.rules): tables of cases."""

from __future__ import annotations

from typing import Any

import pytest

from podium.release.rules import (
    RollbackDecision,
    Selection,
    failed_tasks,
    ledger_entry,
    outcome_error,
    report_rows,
    rollback_decision,
    rollback_outcome,
    row_failed,
    select_services,
)

# storefront's graph: cart needs catalog and inventory; web needs cart, payments and catalog
GRAPH = {
    "catalog": [],
    "inventory": [],
    "payments": [],
    "cart": ["catalog", "inventory"],
    "web": ["cart", "payments", "catalog"],
}


@pytest.mark.parametrize(
    ("asked", "expected"),
    [
        pytest.param(None, Selection(tuple(GRAPH), (), ()), id="none-means-all"),
        pytest.param([], Selection(tuple(GRAPH), (), ()), id="empty-means-all"),
        pytest.param(["payments"], Selection(("payments",), (), ()), id="leaf"),
        pytest.param(
            ["cart"],
            Selection(("catalog", "inventory", "cart"), ("catalog", "inventory"), ()),
            id="deps-added",
        ),
        pytest.param(
            ["web"],
            Selection(tuple(GRAPH), ("cart", "catalog", "inventory", "payments"), ()),
            id="transitive",
        ),
        pytest.param(
            ["cart", "catalog"],
            Selection(("catalog", "inventory", "cart"), ("inventory",), ()),
            id="partly-asked",
        ),
        pytest.param(
            ["web", "catalog", "inventory", "payments", "cart"],
            Selection(tuple(GRAPH), (), ()),
            id="release-order-not-ask-order",
        ),
        pytest.param(["carts", "payments"], Selection(("payments",), (), ("carts",)), id="unknown"),
    ],
)
def test_select_services(asked: list[str] | None, expected: Selection) -> None:
    assert select_services(asked, GRAPH) == expected


def test_unknown_services_are_an_error_naming_the_known_ones() -> None:
    selection = select_services(["carts", "zeta"], GRAPH)
    assert selection.error(GRAPH) == (
        "unknown services ['carts', 'zeta']; "
        "this release has ['cart', 'catalog', 'inventory', 'payments', 'web']"
    )
    assert select_services(["cart"], GRAPH).error(GRAPH) is None


SERVICE_TASKS = {"catalog": ["catalog.pre_migrate", "catalog.rollout"], "web": ["web.rollout", "web.health"]}


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        pytest.param({}, [], id="nothing-ran"),
        pytest.param({"catalog.rollout": {"state": "success"}}, [], id="success"),
        pytest.param({"web.rollout": {"state": "skipped"}}, [], id="skipped"),
        pytest.param(
            {"web.health": {"state": "failed"}, "catalog.pre_migrate": {"state": "failed"}},
            ["catalog.pre_migrate", "web.health"],
            id="sorted",
        ),
        pytest.param(
            {"web.rollout": {"state": "failed"}, "web.health": {"state": "upstream_failed"}},
            ["web.health", "web.rollout"],
            id="upstream-failed-counts",
        ),
        pytest.param({"rollback": {"state": "failed"}}, [], id="only-service-tasks"),
    ],
)
def test_failed_tasks(states: dict[str, dict[str, Any]], expected: list[str]) -> None:
    assert failed_tasks(SERVICE_TASKS, states) == expected


def deployment(revision: int) -> dict[str, Any]:
    return {
        "kind": "Deployment",
        "metadata": {
            "name": "cart",
            "namespace": "shop",
            "uid": "d-uid",
            "annotations": {"deployment.kubernetes.io/revision": str(revision)},
        },
        "spec": {"template": {"metadata": {"labels": {"app": "cart"}}}},
        "status": {},
    }


def replicaset(template_hash: str, revision: int) -> dict[str, Any]:
    return {
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"cart-{template_hash}",
            "annotations": {"deployment.kubernetes.io/revision": str(revision)},
            "ownerReferences": [{"uid": "d-uid", "kind": "Deployment", "name": "cart", "controller": True}],
        },
    }


SNAPSHOT = {"kind": "Deployment", "name": "cart", "namespace": "shop", "exists": True, "history": "cart-aaa"}
CREATED = {**SNAPSHOT, "exists": False, "history": None}


@pytest.mark.parametrize(
    ("snapshot", "live", "history", "expected"),
    [
        pytest.param(SNAPSHOT, None, [], RollbackDecision("absent"), id="absent"),
        pytest.param(CREATED, None, [], RollbackDecision("absent"), id="created-then-gone"),
        pytest.param(
            CREATED,
            deployment(1),
            [replicaset("bbb", 1)],
            RollbackDecision("created by this run: no earlier revision, left in place"),
            id="created-by-this-run",
        ),
        pytest.param(
            SNAPSHOT,
            deployment(1),
            [replicaset("aaa", 1)],
            RollbackDecision("unchanged"),
            id="unchanged",
        ),
        pytest.param(
            SNAPSHOT,
            deployment(3),
            [replicaset("bbb", 2), replicaset("aaa", 3)],
            RollbackDecision("unchanged"),
            id="already-back-renumbered",
        ),
        pytest.param(
            SNAPSHOT,
            deployment(2),
            [replicaset("aaa", 1), replicaset("bbb", 2)],
            RollbackDecision("roll back", revision=1),
            id="roll-back",
        ),
        pytest.param(
            SNAPSHOT,
            deployment(4),
            [replicaset("bbb", 2), replicaset("aaa", 3), replicaset("ccc", 4)],
            RollbackDecision("roll back", revision=3),
            id="roll-back-to-the-renumbered-revision",
        ),
        pytest.param(
            SNAPSHOT,
            deployment(2),
            [replicaset("bbb", 2)],
            RollbackDecision(
                "failed: previous revision gone",
                error="cart: the revision before the release (cart-aaa) is gone",
            ),
            id="previous-revision-gone",
        ),
    ],
)
def test_rollback_decision(
    snapshot: dict[str, Any],
    live: dict[str, Any] | None,
    history: list[dict[str, Any]],
    expected: RollbackDecision,
) -> None:
    decision = rollback_decision("cart", snapshot, live, history)
    assert decision == expected
    assert decision.roll_back == (expected.revision is not None)


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        pytest.param(
            "success",
            'deployment "cart" successfully rolled out',
            RollbackDecision("rolled back", 3),
            id="ok",
        ),
        pytest.param(
            "timeout",
            "timed out waiting for deployment/cart",
            RollbackDecision(
                "rollback did not complete: timed out waiting for deployment/cart",
                3,
                "cart: rollback did not complete: timed out waiting for deployment/cart",
            ),
            id="timeout",
        ),
        pytest.param(
            "error",
            "pods cannot start",
            RollbackDecision(
                "rollback did not complete: pods cannot start",
                3,
                "cart: rollback did not complete: pods cannot start",
            ),
            id="error",
        ),
    ],
)
def test_rollback_outcome(status: str, message: str, expected: RollbackDecision) -> None:
    assert rollback_outcome("cart", 3, status, message) == expected


def test_rollback_outcome_keeps_the_version_and_why() -> None:
    decision = RollbackDecision("roll back", revision=1, version="1.0", why="1.1 was not fully rolled out")
    assert rollback_outcome("cart", decision, "success", "ok") == RollbackDecision(
        "rolled back", revision=1, version="1.0", why="1.1 was not fully rolled out"
    )


def ready(revision: int, *, done: bool = True) -> dict[str, Any]:
    """deployment(revision) with a status: fully rolled out, or 1 of 2 pods updated."""
    live = deployment(revision)
    live["metadata"]["generation"] = 3
    live["spec"]["replicas"] = 2
    live["status"] = {
        "observedGeneration": 3,
        "replicas": 2 if done else 3,
        "updatedReplicas": 2 if done else 1,
        "availableReplicas": 2,
    }
    return live


def tagged(rs: dict[str, Any], tag: str) -> dict[str, Any]:
    return {
        **rs,
        "spec": {"template": {"spec": {"containers": [{"name": "api", "image": f"shop/cart:{tag}"}]}}},
    }


def target_snapshot(live: dict[str, Any] | None, history: list[dict[str, Any]]) -> dict[str, Any]:
    """What the plan records: its snapshot with the rollback target (podium.release.plan.snapshot)."""
    from podium.release.plan import snapshot

    return {"kind": "Deployment", "name": "cart", "namespace": "shop", **snapshot(live, history, now=NOW)}


NOW = "2026-12-02T07:00:00Z"
RS_A, RS_B, RS_C = (
    tagged(replicaset("aaa", 1), "1.0"),
    tagged(replicaset("bbb", 2), "1.1"),
    tagged(replicaset("ccc", 3), "1.2"),
)
KNOWN_A = {
    "kind": "ReplicaSet",
    "name": "cart-aaa",
    "revision": 1,
    "images": {"api": "shop/cart:1.0"},
    "healthy_at": "2026-12-02T06:40:12Z",
}


def with_known_good(live: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    import json

    live["metadata"]["annotations"]["podium.dev/last-known-good"] = json.dumps(record)
    return live


@pytest.mark.parametrize(
    ("plan_time", "now", "expected"),
    [
        pytest.param(
            (ready(1), [RS_A]),
            (ready(2), [RS_A, RS_B]),
            RollbackDecision(
                "roll back",
                revision=1,
                version="1.0",
                why="1.0 was fully rolled out when this run started: returning to 1.0 (replicaset cart-aaa, "
                "revision 1), last healthy at 2026-12-02T07:00:00Z",
            ),
            id="healthy-at-start-returns-to-it",
        ),
        pytest.param(
            (with_known_good(ready(2, done=False), KNOWN_A), [RS_A, RS_B]),
            (ready(3, done=False), [RS_A, RS_B, RS_C]),
            RollbackDecision(
                "roll back",
                revision=1,
                version="1.0",
                why="1.1 was not fully rolled out when this run started: returning to 1.0 (replicaset "
                "cart-aaa, revision 1), last healthy at 2026-12-02T06:40:12Z",
            ),
            id="started-on-an-unfinished-change-returns-to-the-last-known-good",
        ),
        pytest.param(
            (with_known_good(ready(2, done=False), KNOWN_A), [RS_A, RS_B]),
            (ready(2, done=False), [RS_A, RS_B]),
            RollbackDecision(
                "roll back",
                revision=1,
                version="1.0",
                why="1.1 was not fully rolled out when this run started: returning to 1.0 (replicaset "
                "cart-aaa, revision 1), last healthy at 2026-12-02T06:40:12Z",
            ),
            id="untouched-but-unfinished-goes-back-too",
        ),
        pytest.param(
            (with_known_good(ready(2, done=False), KNOWN_A), [RS_A, RS_B]),
            (ready(4), [RS_B, RS_C, replicaset("aaa", 4)]),
            RollbackDecision("unchanged", version="1.0"),
            id="already-on-the-target-renumbered",
        ),
        pytest.param(
            (ready(2, done=False), [RS_A, RS_B]),
            (ready(3), [RS_A, RS_B, RS_C]),
            RollbackDecision(
                "no healthy version to return to (1.1 was not fully rolled out when this run started and no "
                "version of it was ever recorded healthy): left in place"
            ),
            id="never-healthy-is-left",
        ),
        pytest.param(
            (with_known_good(ready(2, done=False), KNOWN_A), [RS_A, RS_B]),
            (ready(3), [RS_B, RS_C]),
            RollbackDecision(
                "failed: rollback target gone",
                error="cart: its rollback target 1.0 (replicaset cart-aaa, revision 1) is gone from the "
                "history",
            ),
            id="target-pruned-since-the-plan",
        ),
        pytest.param(
            (None, []),
            (ready(1), [RS_A]),
            RollbackDecision("created by this run: no earlier revision, left in place"),
            id="created-by-this-run",
        ),
    ],
)
def test_rollback_decision_returns_to_the_recorded_target(
    plan_time: tuple[dict[str, Any] | None, list[dict[str, Any]]],
    now: tuple[dict[str, Any], list[dict[str, Any]]],
    expected: RollbackDecision,
) -> None:
    assert rollback_decision("cart", target_snapshot(*plan_time), *now) == expected


ORDER = ["catalog", "cart"]
TASKS = {"catalog": ["catalog.pre_migrate", "catalog.rollout"], "cart": ["cart.rollout", "cart.health"]}


def snap(tag: str | None, revision: int | None = 1) -> dict[str, Any]:
    if tag is None:
        return {"exists": False, "images": {}, "history": None, "revision": None}
    return {"exists": True, "images": {"api": f"ghcr.io/shop/x:{tag}"}, "history": "h", "revision": revision}


def plan(selected: list[str], **snapshots: dict[str, Any]) -> dict[str, Any]:
    return {"selected": selected, "snapshot": snapshots}


def ok(*task_ids: str, duration: float = 2.0) -> dict[str, dict[str, Any]]:
    return {t: {"state": "success", "duration": duration} for t in task_ids}


def rolled(tag: str, revision: int) -> dict[str, Any]:
    return {"images": {"api": f"ghcr.io/shop/x:{tag}"}, "revision": revision}


ALL_OK = ok("catalog.pre_migrate", "catalog.rollout", "cart.rollout", "cart.health")


def row(service: str, before: str, after: str, result: str, duration: float | None) -> dict[str, Any]:
    return {"service": service, "from": before, "to": after, "result": result, "duration": duration}


@pytest.mark.parametrize(
    ("the_plan", "states", "rollouts", "rollbacks", "expected"),
    [
        pytest.param(
            {},
            {},
            {},
            {},
            [row("catalog", "-", "-", "not started", None), row("cart", "-", "-", "not started", None)],
            id="plan-did-not-run",
        ),
        pytest.param(
            plan(["catalog", "cart"], catalog=snap(None), cart=snap("1.0")),
            ALL_OK,
            {"catalog": rolled("2.0", 1), "cart": rolled("1.1", 2)},
            {},
            [row("catalog", "-", "2.0", "released", 4.0), row("cart", "1.0", "1.1", "released", 4.0)],
            id="released-first-time-and-update",
        ),
        pytest.param(
            plan(["catalog", "cart"], catalog=snap("2.0", 3), cart=snap("1.0", 1)),
            ALL_OK,
            {"catalog": rolled("2.0", 3), "cart": rolled("1.1", 2)},
            {},
            [row("catalog", "2.0", "2.0", "unchanged", 4.0), row("cart", "1.0", "1.1", "released", 4.0)],
            id="unchanged-same-revision",
        ),
        pytest.param(
            plan(["cart"], catalog=snap("2.0"), cart=snap("1.0")),
            {**ok("cart.rollout", "cart.health"), "catalog.rollout": {"state": "skipped", "duration": 0}},
            {"cart": rolled("1.1", 2)},
            {},
            [row("catalog", "2.0", "2.0", "not selected", None), row("cart", "1.0", "1.1", "released", 4.0)],
            id="not-selected",
        ),
        pytest.param(
            plan(["catalog", "cart"], catalog=snap("2.0"), cart=snap("1.0")),
            {
                **ok("catalog.pre_migrate", "catalog.rollout"),
                "cart.rollout": {"state": "failed", "duration": 30},
                "cart.health": {"state": "upstream_failed", "duration": None},
            },
            {"catalog": rolled("2.1", 2)},
            {"cart": {"action": "rolled back"}, "catalog": {"action": "rolled back"}},
            [
                row("catalog", "2.0", "2.0", "released, rolled back", 4.0),
                row("cart", "1.0", "1.0", "failed, rolled back", 30.0),
            ],
            id="failed-and-rolled-back",
        ),
        pytest.param(
            plan(["catalog", "cart"], catalog=snap("2.0"), cart=snap("1.0")),
            {
                "catalog.pre_migrate": {"state": "failed", "duration": 5},
                "cart.rollout": {"state": "upstream_failed"},
            },
            {},
            {"catalog": {"action": "unchanged"}, "cart": {"action": "unchanged"}},
            [row("catalog", "2.0", "2.0", "failed", 5.0), row("cart", "1.0", "1.0", "not started", None)],
            id="pre-deploy-failed-dependents-not-started",
        ),
        pytest.param(
            plan(["catalog", "cart"], catalog=snap("2.0"), cart=snap("1.0")),
            {
                **ok("catalog.pre_migrate", "catalog.rollout"),
                "cart.rollout": {"state": "success", "duration": 1},
            },
            {"catalog": rolled("2.1", 2)},
            {},
            [row("catalog", "2.0", "2.1", "released", 4.0), row("cart", "1.0", "1.0", "not started", 1.0)],
            id="a-task-that-did-not-finish-is-not-started",
        ),
        pytest.param(
            plan(["catalog", "cart"], catalog=snap("2.0"), cart=snap("1.1")),
            {
                **ok("catalog.pre_migrate", "catalog.rollout"),
                "cart.rollout": {"state": "failed", "duration": 30},
                "cart.health": {"state": "upstream_failed", "duration": None},
            },
            {"catalog": rolled("2.1", 2)},
            {"cart": {"action": "rolled back", "version": "1.0"}, "catalog": {"action": "rolled back"}},
            [
                row("catalog", "2.0", "2.0", "released, rolled back", 4.0),
                row("cart", "1.1", "1.0", "failed, rolled back", 30.0),
            ],
            id="rolled-back-to-the-last-known-good-not-to-the-unfinished-start",
        ),
        pytest.param(
            plan(["catalog", "cart"], catalog=snap("2.0"), cart=snap("1.0")),
            {**ALL_OK, "cart.rollout": {"state": "failed", "duration": 3}},
            {"catalog": rolled("2.1", 2)},
            {"cart": {"action": "rollback did not complete: timed out"}},
            [row("catalog", "2.0", "2.1", "released", 4.0), row("cart", "1.0", "1.0", "failed", 5.0)],
            id="rollback-incomplete-keeps-the-result",
        ),
    ],
)
def test_report_rows(
    the_plan: dict[str, Any],
    states: dict[str, dict[str, Any]],
    rollouts: dict[str, Any],
    rollbacks: dict[str, Any],
    expected: list[dict[str, Any]],
) -> None:
    assert report_rows(ORDER, the_plan, states, TASKS, rollouts, rollbacks) == expected


@pytest.mark.parametrize(
    ("result", "failed"),
    [
        ("released", False),
        ("unchanged", False),
        ("not selected", False),
        ("not started", False),
        ("failed", True),
        ("failed, rolled back", True),
        ("released, rolled back", True),
    ],
)
def test_which_rows_mean_failure(result: str, failed: bool) -> None:
    assert row_failed({"service": "s", "result": result}) is failed


@pytest.mark.parametrize(
    ("results", "expected"),
    [
        pytest.param([], None, id="no-services"),
        pytest.param(["released", "unchanged", "not selected", "not started"], None, id="success"),
        pytest.param(
            ["released, rolled back", "failed, rolled back", "not started"],
            "release failed: s0 released, rolled back; s1 failed, rolled back "
            "(the failing task's log says which pod and why)",
            id="failed",
        ),
    ],
)
def test_outcome_error(results: list[str], expected: str | None) -> None:
    rows = [{"service": f"s{i}", "result": result} for i, result in enumerate(results)]
    assert outcome_error(rows) == expected


@pytest.mark.parametrize(
    ("rows", "result", "services"),
    [
        pytest.param(
            [row("catalog", "2.0", "2.1", "released", 1.0), row("cart", "-", "-", "not started", None)],
            "succeeded",
            {"catalog": {"version": "2.1", "from": "2.0", "result": "released"}},
            id="only-services-that-run-something",
        ),
        pytest.param(
            [row("catalog", "2.0", "2.0", "released, rolled back", 1.0)],
            "failed",
            {"catalog": {"version": "2.0", "from": "2.0", "result": "released, rolled back"}},
            id="rolled-back",
        ),
    ],
)
def test_ledger_entry(rows: list[dict[str, Any]], result: str, services: dict[str, Any]) -> None:
    assert ledger_entry("shop", "staging", "manual__1", rows, "2026-01-01T00:00:00Z") == {
        "release": "shop",
        "environment": "staging",
        "run_id": "manual__1",
        "result": result,
        "finished_at": "2026-01-01T00:00:00Z",
        "services": services,
    }
