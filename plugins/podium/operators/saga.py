"""Operators of a saga: a step, a compensation, and the result task that ends the run.

Built by :func:`podium.dagbuilders.saga.build_saga`; the decisions are :mod:`podium.saga.plan`'s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from podium.exceptions import PermanentError
from podium.saga.plan import SagaPlan, StepCallable, StepContext, saga_outcome, should_compensate

if TYPE_CHECKING:
    from airflow.sdk import Context


ERROR_KEY = "saga_step_error"


class SagaFailed(PermanentError):
    """The saga failed; ``summary`` says where, and which compensations ran (for alerts)."""

    def __init__(self, message: str, summary: Mapping[str, Any]) -> None:
        super().__init__(message)
        self.summary = dict(summary)


def task_states(context: Context, task_ids: Sequence[str]) -> dict[str, str | None]:
    """The states of ``task_ids`` in this DAG run, as the execution API reports them."""
    ti = context["ti"]
    run_id = context["run_id"]
    states = ti.get_task_states(dag_id=ti.dag_id, task_ids=list(task_ids), run_ids=[run_id])
    found = states.get(run_id, {})
    return {task_id: (str(found[task_id]) if found.get(task_id) else None) for task_id in task_ids}


def _results(context: Context, step_names: Sequence[str]) -> dict[str, Any]:
    ti = context["ti"]
    return {name: ti.xcom_pull(task_ids=name) for name in step_names}


def _step_context(context: Context, step: str, results: Mapping[str, Any]) -> StepContext:
    return StepContext(
        params=dict(context["params"]),
        results=results,
        step=step,
        run_id=context["run_id"],
        try_number=int(context["ti"].try_number or 1),
    )


class SagaStepOperator(BaseOperator):
    """Run one saga step's callable with the run's params and the earlier steps' results.

    :param action: the step's callable (takes a :class:`~podium.saga.plan.StepContext`).
    :param earlier_steps: names of the steps whose results the action may read.
    :return: the action's return value (kept in XCom for later steps and the compensation).
    """

    ui_color = "#d9f2d9"

    def __init__(self, *, action: StepCallable, earlier_steps: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.action = action
        self.earlier_steps = tuple(earlier_steps)

    def execute(self, context: Context) -> Any:
        step_context = _step_context(context, self.task_id, _results(context, self.earlier_steps))
        try:
            return self.action(step_context)
        except Exception as error:
            # kept for the result task's alert; a later successful try clears it (XComs reset per try)
            context["ti"].xcom_push(key=ERROR_KEY, value=f"{type(error).__name__}: {error}"[:2000])
            raise


class SagaCompensationOperator(BaseOperator):
    """Undo one step, only when that step completed and a step of the saga failed for good.

    Otherwise the task is skipped, saying why. It runs after every step has finished (trigger rule
    ``all_done``), retried generously: compensations must be idempotent.

    :param compensation: the callable that undoes the step.
    :param step_name: the step it undoes.
    :param plan: the saga's plan (to read the steps' states).
    """

    ui_color = "#fde2c8"

    def __init__(self, *, compensation: StepCallable, step_name: str, plan: SagaPlan, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.compensation = compensation
        self.step_name = step_name
        self.plan = plan

    def execute(self, context: Context) -> Any:
        from airflow.sdk.exceptions import AirflowSkipException

        decision = should_compensate(self.plan, self.step_name, task_states(context, self.plan.step_ids))
        if not decision.run:
            raise AirflowSkipException(decision.reason)
        self.log.info("compensating: %s", decision.reason)
        names = (*self.plan.earlier_steps(self.step_name), self.step_name)
        return self.compensation(_step_context(context, self.step_name, _results(context, names)))


class SagaResultOperator(BaseOperator):
    """The saga's last task: succeeds when the saga did, fails (without retry) when it did not.

    A DAG run's state follows its leaf tasks; this is the only leaf, so a compensated run ends
    ``failed`` and a completed one ``success``. Its failure carries the summary alert notifiers send.

    :param plan: the saga's plan.
    :return: the summary (status, failed step, compensations that ran).
    """

    ui_color = "#e0e0f0"

    def __init__(self, *, plan: SagaPlan, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.plan = plan

    def execute(self, context: Context) -> dict[str, Any]:
        outcome = saga_outcome(
            self.plan, task_states(context, (*self.plan.step_ids, *self.plan.compensation_ids))
        )
        summary = {"dag_id": context["ti"].dag_id, "run_id": context["run_id"], **outcome.as_dict()}
        if outcome.succeeded:
            self.log.info(outcome.message())
            return summary
        message = outcome.message()
        if outcome.failed_step:
            error = context["ti"].xcom_pull(task_ids=outcome.failed_step, key=ERROR_KEY)
            summary["step_error"] = error
            message += f"\n{outcome.failed_step}: {error}" if error else ""
        context["ti"].xcom_push(key="saga", value=summary)
        raise SagaFailed(message, summary)
