"""A generic saga with a parallel group, for test_builder.py (loaded from this file by a DagBag).

Steps and compensations write to the JSON-lines journal at $PODIUM_TEST_SAGA_JOURNAL; the conf
says which step fails (``fail``), which compensation times out once (``flaky_undo``) and which one
is broken for good (``broken_undo``).
"""

from __future__ import annotations

import json
import os
from datetime import timedelta

from airflow.sdk import DAG

from podium.dagbuilders.saga import RetrySettings, build_saga
from podium.exceptions import PermanentError, TransientError
from podium.saga.plan import Parallel, Step, StepContext

FAST = RetrySettings(
    step_retries=1,
    compensation_retries=2,
    retry_delay=timedelta(seconds=1),
    max_retry_delay=timedelta(seconds=2),
)


def record(ctx: StepContext, what: str) -> None:
    with open(os.environ["PODIUM_TEST_SAGA_JOURNAL"], "a") as out:
        out.write(json.dumps({"run": ctx.run_id, "what": what, "try": ctx.try_number}) + "\n")


def do(ctx: StepContext) -> str:
    if ctx.params.get("fail") == ctx.step:
        raise PermanentError(f"{ctx.step} failed")
    record(ctx, ctx.step)
    return f"{ctx.step}-done"


def undo(ctx: StepContext) -> None:
    # the compensation sees the result of the step it undoes
    assert ctx.results[ctx.step] == f"{ctx.step}-done"
    if ctx.params.get("flaky_undo") == ctx.step and ctx.try_number == 1:
        record(ctx, f"undo {ctx.step} timed out")
        raise TransientError("compensation timed out")
    if ctx.params.get("broken_undo") == ctx.step:
        raise RuntimeError("compensation broken")
    record(ctx, f"undo {ctx.step}")


with DAG(
    dag_id="podium_test_forked_saga",
    schedule=None,
    default_args={"owner": "test", "retries": 1, "retry_delay": timedelta(seconds=1)},
    params={"fail": None, "flaky_undo": None, "broken_undo": None},
) as dag:
    dag.saga_tasks = build_saga(  # type: ignore[attr-defined]
        [Step("a", do, undo), Parallel(Step("b", do, undo), Step("c", do, undo)), Step("d", do)],
        retry=FAST,
    )
