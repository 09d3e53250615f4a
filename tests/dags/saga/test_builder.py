"""build_saga: the graph it builds, and generic sagas (a parallel group, retried and failing
compensations) run for real with dag.test()."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest

from podium.dagbuilders.saga import RetrySettings
from podium.exceptions import TransientError

DAG_FILE = Path(__file__).with_name("forked_saga.py")


def journal(run_id: str) -> list[tuple[str, int]]:
    path = Path(os.environ["PODIUM_TEST_SAGA_JOURNAL"])
    lines = path.read_text().splitlines() if path.exists() else []
    return [(e["what"], e["try"]) for e in map(json.loads, lines) if e["run"] == run_id]


@pytest.fixture(scope="module")
def forked(airflow_db: Path):
    """The DAG of forked_saga.py, loaded from its file and written to the metadata DB."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PODIUM_TEST_SAGA_JOURNAL", str(Path(tempfile.mkdtemp(prefix="podium-saga-")) / "j.jsonl"))
        bag = DagBag(dag_folder=str(DAG_FILE))
        assert bag.import_errors == {}
        DagBundlesManager().sync_bundles_to_db()
        sync_bag_to_db(bag, "dags-folder", None)  # dag.test() needs it serialized; it is not in dags/
        dag = bag.dags["podium_test_forked_saga"]
        yield dag, dag.saga_tasks


def states(run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def test_the_graph_shows_steps_then_compensations_in_reverse(forked) -> None:
    dag, tasks = forked
    upstream = {t.task_id: sorted(t.upstream_task_ids) for t in dag.tasks}
    assert upstream == {
        "a": [],
        "b": ["a"],
        "c": ["a"],
        "d": ["b", "c"],
        "compensate_c": ["a", "b", "c", "d"],
        "compensate_b": ["compensate_c"],
        "compensate_a": ["compensate_b"],
        "saga_result": ["compensate_a"],
    }
    assert [t.task_id for t in dag.tasks if not t.downstream_task_ids] == ["saga_result"]
    assert {t.task_id: t.trigger_rule.value for t in dag.tasks if t.trigger_rule.value != "all_success"} == {
        "compensate_c": "all_done",
        "compensate_b": "all_done",
        "compensate_a": "all_done",
        "saga_result": "all_done",
    }
    assert (tasks.steps["a"].retries, tasks.compensations["compensate_a"].retries) == (1, 2)
    assert tasks.steps["a"].retry_exponential_backoff == 2.0
    assert tasks.steps["a"].max_retry_delay == timedelta(seconds=2)


def test_a_failed_parallel_step_undoes_its_completed_sibling_and_earlier_steps(forked) -> None:
    dag, _ = forked
    run = dag.test(run_conf={"fail": "b", "flaky_undo": None, "broken_undo": None})
    assert run.state == "failed"
    assert states(run) == {
        "a": "success",
        "b": "failed",
        "c": "success",
        "d": "upstream_failed",
        "compensate_c": "success",
        "compensate_b": "skipped",
        "compensate_a": "success",
        "saga_result": "failed",
    }
    assert journal(run.run_id) == [("a", 1), ("c", 1), ("undo c", 1), ("undo a", 1)]


def test_a_compensation_is_retried_until_it_succeeds(forked) -> None:
    dag, _ = forked
    run = dag.test(run_conf={"fail": "d", "flaky_undo": "b", "broken_undo": None})
    assert run.state == "failed"
    assert journal(run.run_id)[-4:] == [("undo c", 1), ("undo b timed out", 1), ("undo b", 2), ("undo a", 1)]


def test_a_compensation_that_fails_for_good_does_not_stop_the_others(forked) -> None:
    dag, _ = forked
    run = dag.test(run_conf={"fail": "d", "flaky_undo": None, "broken_undo": "c"})
    assert run.state == "failed"
    got = states(run)
    assert (got["compensate_c"], got["compensate_b"], got["compensate_a"]) == ("failed", "success", "success")
    assert [ti.try_number for ti in run.get_task_instances() if ti.task_id == "compensate_c"] == [3]


def test_a_saga_without_failures_succeeds_and_compensates_nothing(forked) -> None:
    dag, _ = forked
    run = dag.test(run_conf={"fail": None, "flaky_undo": None, "broken_undo": None})
    assert run.state == "success"
    entries = journal(run.run_id)
    assert (entries[0], sorted(entries[1:3]), entries[3:]) == (("a", 1), [("b", 1), ("c", 1)], [("d", 1)])
    assert {s for t, s in states(run).items() if t.startswith("compensate_")} == {"skipped"}


def test_the_retry_policy_retries_transient_errors_only() -> None:
    from airflow.sdk import RetryAction

    policy = RetrySettings().policy()
    decide = lambda error: policy.evaluate(error, try_number=1, max_tries=4).action  # noqa: E731
    assert decide(TransientError("gateway timeout")) is RetryAction.RETRY
    assert decide(ConnectionResetError()) is RetryAction.RETRY
    assert decide(TimeoutError()) is RetryAction.RETRY
    assert decide(ValueError()) is RetryAction.DEFAULT
    assert RetrySettings(unclassified="fail").policy().evaluate(ValueError(), 1, 4).action is RetryAction.FAIL
