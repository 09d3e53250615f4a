"""Turn declared saga steps into Airflow tasks, inside the current ``with DAG(...)`` block.

The graph reads left to right: the steps in order (a parallel group as parallel tasks), then one
compensation per compensable step chained in reverse order (each ``all_done``, so it runs after
failures and decides at run time whether there is anything to undo), then the result task, the only
leaf, that fails the run when the saga failed and fires the alert notifiers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from podium.exceptions import TransientError
from podium.saga.plan import Parallel, SagaPlan, Step, plan_saga


@dataclass(frozen=True)
class RetrySettings:
    """Retries of steps and compensations: exponential backoff with jitter, capped.

    Airflow 3.3 computes the delay of try ``n`` as a value between ``d`` and ``2d`` (a deterministic
    per-try jitter) with ``d = retry_delay * backoff ** (n - 1)``, capped at ``max_retry_delay``.
    Errors a step raises are classified by a retry policy: :class:`~podium.exceptions.TransientError`,
    ``ConnectionError`` and ``TimeoutError`` are retried; ``PermanentError`` (an
    ``AirflowFailException``) fails at once and goes straight to compensation; anything else gets the
    standard retries (``unclassified="retry"``) or fails at once (``"fail"``).
    """

    step_retries: int = 3
    compensation_retries: int = 10
    retry_delay: timedelta = timedelta(seconds=2)
    backoff: float = 2.0
    max_retry_delay: timedelta = timedelta(seconds=60)
    unclassified: str = "retry"

    def policy(self) -> Any:
        from airflow.sdk import ExceptionRetryPolicy, RetryAction, RetryRule

        return ExceptionRetryPolicy(
            rules=[
                RetryRule(
                    exception=[TransientError, ConnectionError, TimeoutError],
                    action=RetryAction.RETRY,
                    reason="transient error: retried with exponential backoff",
                )
            ],
            default=RetryAction.DEFAULT if self.unclassified == "retry" else RetryAction.FAIL,
        )

    def task_kwargs(self, retries: int) -> dict[str, Any]:
        return {
            "retries": retries,
            "retry_delay": self.retry_delay,
            "retry_exponential_backoff": self.backoff,
            "max_retry_delay": self.max_retry_delay,
            "retry_policy": self.policy(),
        }


@dataclass
class SagaTasks:
    """The tasks a saga was built into, by task id."""

    plan: SagaPlan
    steps: dict[str, Any] = field(default_factory=dict)
    compensations: dict[str, Any] = field(default_factory=dict)
    result: Any = None


def build_saga(
    declared: Sequence[Step | Parallel],
    *,
    retry: RetrySettings | None = None,
    on_failure: Sequence[Any] = (),
    on_success: Sequence[Any] = (),
    result_task_id: str = "saga_result",
    source: str = "<saga>",
) -> SagaTasks:
    """Build the saga's tasks in the DAG being defined.

    :param declared: steps in order; a :class:`~podium.saga.plan.Parallel` group runs side by side.
    :param retry: retry settings (default :class:`RetrySettings`).
    :param on_failure: notifiers (or callables) called when the saga failed, with its summary in
        ``context["exception"].summary``.
    :param on_success: notifiers called when the saga succeeded.
    :param result_task_id: task id of the last task.
    :param source: names the saga in errors (e.g. the DAG file).
    :raises SpecError: invalid declarations (shows as the DAG file's import error).
    """
    from airflow.sdk import TriggerRule, chain

    from podium.operators.saga import SagaCompensationOperator, SagaResultOperator, SagaStepOperator

    retry = retry or RetrySettings()
    plan = plan_saga(declared, result_task_id=result_task_id, source=source)
    tasks = SagaTasks(plan=plan)

    previous: list[Any] = []
    for stage in plan.stages:
        current = []
        for step in stage:
            task = SagaStepOperator(
                task_id=step.name,
                action=step.action,
                earlier_steps=plan.earlier_steps(step.name),
                doc_md=_doc(step.action, f"Saga step `{step.name}`."),
                **retry.task_kwargs(retry.step_retries if step.retries is None else step.retries),
            )
            for upstream in previous:
                upstream >> task
            current.append(task)
            tasks.steps[step.name] = task
        previous = current

    for step in plan.compensation_order:
        assert step.compensation is not None
        assert step.compensation_id is not None
        tasks.compensations[step.compensation_id] = SagaCompensationOperator(
            task_id=step.compensation_id,
            compensation=step.compensation,
            step_name=step.name,
            plan=plan,
            trigger_rule=TriggerRule.ALL_DONE,
            doc_md=_doc(step.compensation, f"Compensates `{step.name}` when a later step failed for good."),
            **retry.task_kwargs(retry.compensation_retries),
        )
    compensations = list(tasks.compensations.values())
    if compensations:
        list(tasks.steps.values()) >> compensations[0]
        chain(*compensations)

    tasks.result = SagaResultOperator(
        task_id=result_task_id,
        plan=plan,
        trigger_rule=TriggerRule.ALL_DONE,
        on_failure_callback=list(on_failure),
        on_success_callback=list(on_success),
        doc_md="Fails the run (and alerts) when the saga failed; succeeds when every step completed.",
        retries=1,  # a PermanentError is never retried; an infrastructure error may be
        retry_delay=retry.retry_delay,
    )
    if compensations:
        compensations[-1] >> tasks.result
    else:
        list(tasks.steps.values()) >> tasks.result
    return tasks


def _doc(func: Any, fallback: str) -> str:
    doc = (getattr(func, "__doc__", None) or "").strip()
    return f"{fallback}\n\n{doc}" if doc else fallback
