"""podium.saga.plan: declarations, compensation order and run-time decisions, as plain functions."""

from __future__ import annotations

import pytest

from podium.exceptions import SpecError
from podium.saga.plan import Parallel, Step, StepContext, plan_saga, saga_outcome, should_compensate


def act(ctx: StepContext) -> str:
    return ctx.step


def undo(ctx: StepContext) -> None:
    return None


LINEAR = plan_saga(
    [
        Step("a", act),
        Step("b", act, undo),
        Step("c", act, undo, "undo_c"),
        Step("d", act),
    ]
)
FORKED = plan_saga(
    [Step("a", act, undo), Parallel(Step("b", act, undo), Step("c", act, undo)), Step("d", act)]
)


def test_stages_and_compensation_order() -> None:
    assert LINEAR.step_ids == ("a", "b", "c", "d")
    assert LINEAR.compensation_ids == ("undo_c", "compensate_b")
    assert [[s.name for s in stage] for stage in FORKED.stages] == [["a"], ["b", "c"], ["d"]]
    assert FORKED.compensation_ids == ("compensate_c", "compensate_b", "compensate_a")
    assert FORKED.earlier_steps("c") == ("a",)
    assert FORKED.earlier_steps("d") == ("a", "b", "c")


def test_every_problem_of_a_declaration_is_named() -> None:
    with pytest.raises(SpecError) as caught:
        plan_saga(
            [Step("a", act), Step("a", act), Parallel(), Step("bad id!", act), Step("e", "no", retries=-1)],  # type: ignore[arg-type]
            source="dags/x.py",
        )
    text = str(caught.value)
    assert text.startswith("dags/x.py: 5 problems")
    for expected in (
        "steps[1].name: task id 'a' is used twice",
        "steps[2]: a parallel group needs at least one step",
        "steps[3].name: 'bad id!' is not a valid task id",
        "steps[4].action: must be callable",
        "steps[4].retries: must be >= 0",
    ):
        assert expected in text
    with pytest.raises(SpecError, match="a saga needs at least one step"):
        plan_saga([])
    with pytest.raises(SpecError, match="task id 'saga_result' is used twice"):
        plan_saga([Step("saga_result", act)])
    with pytest.raises(SpecError, match="'compensate_b' is used twice"):
        plan_saga([Step("compensate_b", act), Step("b", act, undo)])


@pytest.mark.parametrize(
    ("states", "step", "runs"),
    [
        # nothing failed: no compensation runs
        ({"a": "success", "b": "success", "c": "success", "d": "success"}, "b", False),
        # d failed for good: b and c completed, both undone
        ({"a": "success", "b": "success", "c": "success", "d": "failed"}, "b", True),
        ({"a": "success", "b": "success", "c": "success", "d": "failed"}, "c", True),
        # c failed itself: it is not compensated, b is
        ({"a": "success", "b": "success", "c": "failed", "d": "upstream_failed"}, "c", False),
        ({"a": "success", "b": "success", "c": "failed", "d": "upstream_failed"}, "b", True),
        # b never ran
        ({"a": "failed", "b": "upstream_failed", "c": "upstream_failed", "d": "upstream_failed"}, "b", False),
        # skipped steps are not compensated
        ({"a": "success", "b": "skipped", "c": "success", "d": "failed"}, "b", False),
        # a step with no compensation
        ({"a": "success", "b": "success", "c": "success", "d": "failed"}, "a", False),
    ],
)
def test_should_compensate(states, step, runs) -> None:
    assert should_compensate(LINEAR, step, states).run is runs


def test_a_parallel_sibling_that_completed_is_compensated() -> None:
    states = {"a": "success", "b": "failed", "c": "success", "d": "upstream_failed"}
    assert [should_compensate(FORKED, s, states).run for s in ("a", "b", "c")] == [True, False, True]


def test_outcome_of_a_compensated_run() -> None:
    states = {
        "a": "success",
        "b": "success",
        "c": "success",
        "d": "failed",
        "undo_c": "success",
        "compensate_b": "failed",
    }
    outcome = saga_outcome(LINEAR, states)
    assert not outcome.succeeded
    assert outcome.as_dict() == {
        "status": "failed",
        "failed_step": "d",
        "failed_steps": ["d"],
        "completed_steps": ["a", "b", "c"],
        "compensations_run": ["undo_c"],
        "compensations_failed": ["compensate_b"],
    }
    assert outcome.message() == "saga failed at d; compensated: undo_c; COMPENSATIONS FAILED: compensate_b"


def test_outcome_of_a_successful_and_of_a_skipped_run() -> None:
    done = dict.fromkeys(LINEAR.step_ids, "success") | {"undo_c": "skipped", "compensate_b": "skipped"}
    assert saga_outcome(LINEAR, done).succeeded
    assert saga_outcome(LINEAR, done | {"c": "skipped", "d": "skipped"}).succeeded
    # a step still running (should not happen behind all_done) is not a success
    running = saga_outcome(LINEAR, done | {"d": "running"})
    assert not running.succeeded
    assert running.not_finished == ("d",)
