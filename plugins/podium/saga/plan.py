"""Sagas, planned: ordered steps (and parallel groups), each with an optional compensation.

Pure logic: what the graph looks like, and, given the states of a run's task instances, whether the
saga failed, which compensations must run and what to report. No task context, no network, no
client; its one Airflow import is :mod:`podium.exceptions` (SpecError is an AirflowFailException,
so importing this module loads Airflow's core: ``make lint``'s purity contract allows only that).

A step "completed" when its task instance ended ``success``. A step "failed for good" when its task
instance ended ``failed`` (Airflow marks a task failed only after its retries are spent, or at once
for an ``AirflowFailException`` such as :class:`podium.exceptions.PermanentError`). Steps that never
ran (``upstream_failed``) or were skipped are not compensated.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from podium.exceptions import SpecError, SpecProblem

TASK_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}$")
COMPLETED = "success"
FAILED = "failed"
# States in which a compensation counts as "ran": only success (a failed compensation is reported).
RAN = frozenset({COMPLETED})


@dataclass(frozen=True)
class StepContext:
    """What a step or compensation callable gets: the run's params and earlier steps' results.

    :param params: the DAG run's params (validated trigger conf).
    :param results: return values of the steps that completed before this one, by step name;
        for a compensation, it includes the result of the step it undoes.
    :param step: the name of the step this callable belongs to.
    :param run_id: the DAG run id.
    :param try_number: the task instance's try (1 on the first attempt).
    """

    params: Mapping[str, Any]
    results: Mapping[str, Any]
    step: str
    run_id: str = ""
    try_number: int = 1


StepCallable = Callable[[StepContext], Any]


@dataclass(frozen=True)
class Step:
    """One step of a saga, declared once with its compensation.

    :param name: the step's task id.
    :param action: a callable taking a :class:`StepContext`; its return value goes to XCom.
    :param compensation: undoes ``action``; must be idempotent (it is retried until it succeeds).
    :param compensation_name: the compensation's task id (default ``compensate_<name>``).
    :param retries: retries for transient failures of the action (None: the saga's default).
    """

    name: str
    action: StepCallable
    compensation: StepCallable | None = None
    compensation_name: str | None = None
    retries: int | None = None

    @property
    def compensation_id(self) -> str | None:
        if self.compensation is None:
            return None
        return self.compensation_name or f"compensate_{self.name}"


@dataclass(frozen=True)
class Parallel:
    """Steps that run side by side; the next stage starts when all of them completed."""

    steps: tuple[Step, ...]

    def __init__(self, *steps: Step) -> None:
        object.__setattr__(self, "steps", tuple(steps))


@dataclass(frozen=True)
class SagaPlan:
    """A validated saga: stages of steps in order, compensations in the order they run."""

    stages: tuple[tuple[Step, ...], ...]
    result_task_id: str = "saga_result"
    steps: tuple[Step, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", tuple(step for stage in self.stages for step in stage))

    @property
    def step_ids(self) -> tuple[str, ...]:
        return tuple(step.name for step in self.steps)

    @property
    def compensation_order(self) -> tuple[Step, ...]:
        """Compensable steps, last stage first; within a stage, last declared first."""
        return tuple(step for stage in reversed(self.stages) for step in reversed(stage) if step.compensation)

    @property
    def compensation_ids(self) -> tuple[str, ...]:
        return tuple(str(step.compensation_id) for step in self.compensation_order)

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)

    def earlier_steps(self, name: str) -> tuple[str, ...]:
        """Names of the steps in stages before ``name``'s stage (whose results it may read)."""
        earlier: list[str] = []
        for stage in self.stages:
            if any(step.name == name for step in stage):
                return tuple(earlier)
            earlier += [step.name for step in stage]
        raise KeyError(name)


def plan_saga(
    declared: Sequence[Step | Parallel], *, result_task_id: str = "saga_result", source: str = "<saga>"
) -> SagaPlan:
    """Validate the declared steps and return the plan; raise SpecError naming every problem."""
    problems: list[SpecProblem] = []
    stages: list[tuple[Step, ...]] = []
    for index, item in enumerate(declared):
        stage = item.steps if isinstance(item, Parallel) else (item,)
        if not stage:
            problems.append(SpecProblem(f"steps[{index}]", "a parallel group needs at least one step"))
        stages.append(stage)
    if not stages:
        problems.append(SpecProblem("steps", "a saga needs at least one step"))

    seen: set[str] = set()
    for path, task_id in _task_ids(stages, result_task_id):
        if not TASK_ID.match(task_id):
            problems.append(SpecProblem(path, f"{task_id!r} is not a valid task id"))
        elif task_id in seen:
            problems.append(SpecProblem(path, f"task id {task_id!r} is used twice"))
        seen.add(task_id)
    for path, step in _steps_with_paths(stages):
        if not callable(step.action):
            problems.append(SpecProblem(f"{path}.action", "must be callable"))
        if step.compensation is not None and not callable(step.compensation):
            problems.append(SpecProblem(f"{path}.compensation", "must be callable"))
        if step.retries is not None and step.retries < 0:
            problems.append(SpecProblem(f"{path}.retries", "must be >= 0"))
    if problems:
        raise SpecError(source, problems)
    return SagaPlan(stages=tuple(stages), result_task_id=result_task_id)


def _steps_with_paths(stages: Sequence[tuple[Step, ...]]) -> Iterable[tuple[str, Step]]:
    for i, stage in enumerate(stages):
        for j, step in enumerate(stage):
            yield (f"steps[{i}]" if len(stage) == 1 else f"steps[{i}][{j}]"), step


def _task_ids(stages: Sequence[tuple[Step, ...]], result_task_id: str) -> Iterable[tuple[str, str]]:
    for path, step in _steps_with_paths(stages):
        yield f"{path}.name", step.name
        if step.compensation_id is not None:
            yield f"{path}.compensation_name", step.compensation_id
    yield "result_task_id", result_task_id


# -- decisions at run time ----------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    run: bool
    reason: str


def failed_steps(plan: SagaPlan, states: Mapping[str, str | None]) -> tuple[str, ...]:
    """Steps that failed for good, in declared order."""
    return tuple(name for name in plan.step_ids if states.get(name) == FAILED)


def completed_steps(plan: SagaPlan, states: Mapping[str, str | None]) -> tuple[str, ...]:
    return tuple(name for name in plan.step_ids if states.get(name) == COMPLETED)


def should_compensate(plan: SagaPlan, step_name: str, states: Mapping[str, str | None]) -> Decision:
    """Whether the compensation of ``step_name`` runs, given the step task instances' states.

    It runs when the step completed and some step failed for good; never for a step that did not
    complete (never ran, was skipped, or failed itself).
    """
    step = plan.step(step_name)
    if step.compensation is None:
        return Decision(False, f"step {step_name} has no compensation")
    failed = failed_steps(plan, states)
    if not failed:
        return Decision(False, "no step failed: nothing to compensate")
    state = states.get(step_name)
    if state != COMPLETED:
        return Decision(False, f"step {step_name} did not complete (state {state}): nothing to undo")
    return Decision(True, f"step {step_name} completed and {', '.join(failed)} failed")


@dataclass(frozen=True)
class SagaOutcome:
    """How a saga run ended, for the result task and the alert."""

    succeeded: bool
    failed_steps: tuple[str, ...]
    completed_steps: tuple[str, ...]
    compensations_run: tuple[str, ...]
    compensations_failed: tuple[str, ...]
    not_finished: tuple[str, ...]

    @property
    def failed_step(self) -> str | None:
        return self.failed_steps[0] if self.failed_steps else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": "succeeded" if self.succeeded else "failed",
            "failed_step": self.failed_step,
            "failed_steps": list(self.failed_steps),
            "completed_steps": list(self.completed_steps),
            "compensations_run": list(self.compensations_run),
            "compensations_failed": list(self.compensations_failed),
        }

    def message(self) -> str:
        if self.succeeded:
            return f"saga succeeded: {', '.join(self.completed_steps)}"
        text = f"saga failed at {', '.join(self.failed_steps) or '?'}"
        text += "; compensated: " + (", ".join(self.compensations_run) or "nothing")
        if self.compensations_failed:
            text += "; COMPENSATIONS FAILED: " + ", ".join(self.compensations_failed)
        if self.not_finished:
            text += "; not finished: " + ", ".join(self.not_finished)
        return text


def saga_outcome(plan: SagaPlan, states: Mapping[str, str | None]) -> SagaOutcome:
    """The outcome from the states of every step and compensation task instance of a run.

    A saga succeeded when no step failed, no compensation failed and every step is finished (a run
    where a step was skipped on purpose still succeeds).
    """
    failed = failed_steps(plan, states)
    finished = {COMPLETED, FAILED, "skipped", "upstream_failed", "removed"}
    not_finished = tuple(name for name in plan.step_ids if states.get(name) not in finished)
    ran = tuple(cid for cid in plan.compensation_ids if states.get(cid) in RAN)
    comp_failed = tuple(
        cid for cid in plan.compensation_ids if states.get(cid) in {FAILED, "upstream_failed"}
    )
    return SagaOutcome(
        succeeded=not failed and not comp_failed and not not_finished,
        failed_steps=failed,
        completed_steps=completed_steps(plan, states),
        compensations_run=ran,
        compensations_failed=comp_failed,
        not_finished=not_finished,
    )
