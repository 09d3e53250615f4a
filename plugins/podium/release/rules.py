"""Pure decisions of a release run: what it releases, what the rollback does per service, the report's
rows, the ledger entry and the run's verdict.

Plain data in (the plan's XCom, task states, rollout and rollback XComs, live API objects), plain data
out; :mod:`podium.operators.release` reads the inputs through Airflow and the Kubernetes API and acts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from podium.kube.known_good import RollbackTarget
from podium.kube.revisions import history_name, revision_named, version_of
from podium.release.graph import with_dependencies

Obj = dict[str, Any]
FAILED_STATES = ("failed", "upstream_failed")


@dataclass(frozen=True)
class Selection:
    """The services a run releases (in the release's order), those added as dependencies of the ones
    asked for, and names asked for that the release does not have."""

    selected: tuple[str, ...]
    added: tuple[str, ...]
    unknown: tuple[str, ...]

    def error(self, known: Iterable[str]) -> str | None:
        if not self.unknown:
            return None
        return f"unknown services {list(self.unknown)}; this release has {sorted(known)}"


def select_services(asked: Sequence[str] | None, depends_on: Mapping[str, Sequence[str]]) -> Selection:
    """``asked`` (none or empty: every service) plus everything it depends on, transitively."""
    wanted = list(asked or depends_on)
    unknown = tuple(sorted(set(wanted) - set(depends_on)))
    chosen = with_dependencies([name for name in wanted if name in depends_on], depends_on)
    return Selection(
        selected=tuple(name for name in depends_on if name in chosen),
        added=tuple(sorted(chosen - set(wanted))),
        unknown=unknown,
    )


def failed_tasks(
    service_tasks: Mapping[str, Sequence[str]], states: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """The service tasks that failed (or could not run because an upstream task failed), sorted."""
    return sorted(
        task_id
        for tasks in service_tasks.values()
        for task_id in tasks
        if (states.get(task_id) or {}).get("state") in FAILED_STATES
    )


@dataclass(frozen=True)
class RollbackDecision:
    """What the rollback does about one service: ``action`` is what the report shows; ``revision`` is
    set when the workload must be rolled back to it; ``error`` when the rollback cannot be done;
    ``version`` names the version it returns to (``1.0``) and ``why`` says why that one."""

    action: str
    revision: int | None = None
    error: str | None = None
    version: str | None = None
    why: str | None = None

    @property
    def roll_back(self) -> bool:
        return self.revision is not None


def rollback_decision(
    service: str,
    snapshot: Mapping[str, Any],
    live: Mapping[str, Any] | None,
    history_objects: Iterable[Mapping[str, Any]],
) -> RollbackDecision:
    """Compare the workload now (``live`` and its ReplicaSets/ControllerRevisions) with the rollback
    target the plan recorded for it (``snapshot["target"]``: the version live before the release if
    that was fully rolled out, else its last known good version): absent, created by this run (nothing
    earlier to return to), never healthy (nothing to return to), unchanged (still, or again, on the
    target), roll back to the revision that holds the target now, or fail because that revision is gone.

    A plan recorded before podium kept rollback targets returns to the ReplicaSet/ControllerRevision
    live before the release (``snapshot["history"]``). The history is only looked at when the workload
    exists and existed before the release.
    """
    if live is None:
        return RollbackDecision("absent")
    if not snapshot.get("exists"):
        return RollbackDecision("created by this run: no earlier revision, left in place")
    objects = list(history_objects)
    if "target" not in snapshot:
        return _recorded_history_decision(service, snapshot, live, objects)
    target = RollbackTarget.from_dict(snapshot["target"])
    if target.version is None:
        return RollbackDecision(f"no healthy version to return to ({target.reason()}): left in place")
    version = target.version
    if history_name(live, objects) == version.name:
        return RollbackDecision("unchanged", version=version.tag)
    revision = revision_named(live, objects, version.name)
    if revision is None:
        return RollbackDecision(
            "failed: rollback target gone",
            error=f"{service}: its rollback target {version.text()} is gone from the history",
        )
    return RollbackDecision(
        "roll back", revision=revision, version=version.tag, why=target.describe(revision)
    )


def _recorded_history_decision(
    service: str, snapshot: Mapping[str, Any], live: Mapping[str, Any], objects: list[Mapping[str, Any]]
) -> RollbackDecision:
    recorded = snapshot.get("history")
    if history_name(live, objects) == recorded:
        return RollbackDecision("unchanged")
    revision = revision_named(live, objects, recorded or "")
    if revision is None:
        return RollbackDecision(
            "failed: previous revision gone",
            error=f"{service}: the revision before the release ({recorded}) is gone",
        )
    return RollbackDecision("roll back", revision=revision)


def rollback_outcome(
    service: str, decision: RollbackDecision | int, status: str, message: str
) -> RollbackDecision:
    """The report's action after the rollback to ``decision`` (or a bare revision) ended with ``status``."""
    if isinstance(decision, int):
        decision = RollbackDecision("roll back", revision=decision)
    if status == "success":
        return replace(decision, action="rolled back", error=None)
    action = f"rollback did not complete: {message}"
    return replace(decision, action=action, error=f"{service}: {action}")


def report_rows(
    order: Sequence[str],
    plan: Mapping[str, Any],
    states: Mapping[str, Mapping[str, Any]],
    service_tasks: Mapping[str, Sequence[str]],
    rollouts: Mapping[str, Mapping[str, Any] | None],
    rollbacks: Mapping[str, Mapping[str, Any]],
) -> list[Obj]:
    """One row per service: ``service``, ``from`` and ``to`` (versions), ``result`` and ``duration``
    (seconds its tasks took, None when none ran).

    ``plan`` is the plan task's XCom (empty when it did not run), ``states`` task_id -> {"state",
    "duration"}, ``rollouts`` service -> its rollout task's XCom, ``rollbacks`` service -> the rollback
    task's entry for it.
    """
    selected = plan.get("selected") or ()
    rows: list[Obj] = []
    for service in order:
        snap = (plan.get("snapshot") or {}).get(service) or {}
        before = version_of(snap.get("images") or {}) if snap.get("exists") else "-"
        tasks = [states.get(t) or {} for t in service_tasks[service]]
        task_states = [t.get("state") for t in tasks]
        duration = sum(float(t.get("duration") or 0) for t in tasks) or None
        after = before
        if service not in selected:
            result = "not selected" if plan else "not started"
        elif "failed" in task_states:
            result = "failed"
        elif "upstream_failed" in task_states or None in task_states:
            result = "not started"
        else:
            rolled = rollouts.get(service) or {}
            after = version_of(rolled.get("images") or {})
            same = rolled.get("revision") == snap.get("revision") and snap.get("exists")
            result = "unchanged" if same else "released"
        rollback = rollbacks.get(service) or {}
        if rollback.get("action") == "rolled back":
            result += ", rolled back"
            after = rollback.get("version") or before
        rows.append({"service": service, "from": before, "to": after, "result": result, "duration": duration})
    return rows


def row_failed(row: Mapping[str, Any]) -> bool:
    """A row that makes the release a failure: a service that failed, or that was rolled back."""
    result = str(row["result"])
    return result.startswith("failed") or "rolled back" in result


def outcome_error(rows: Sequence[Mapping[str, Any]]) -> str | None:
    """Why the release failed (None when it succeeded)."""
    bad = [r for r in rows if row_failed(r)]
    if not bad:
        return None
    return (
        "release failed: "
        + "; ".join(f"{r['service']} {r['result']}" for r in bad)
        + " (the failing task's log says which pod and why)"
    )


def ledger_entry(
    release: str, environment: str, run_id: str, rows: Sequence[Mapping[str, Any]], finished_at: str
) -> Obj:
    """The extra of the ledger Asset's event: the run, its result and, per service that runs
    something, the version that runs now."""
    return {
        "release": release,
        "environment": environment,
        "run_id": run_id,
        "result": "failed" if any(row_failed(r) for r in rows) else "succeeded",
        "finished_at": finished_at,
        "services": {
            r["service"]: {"version": r["to"], "from": r["from"], "result": r["result"]}
            for r in rows
            if r["to"] != "-"
        },
    }
