"""Build the DAGs of a Terraform stack spec: per environment, one to change it and one to watch it.

``stack__<name>__<environment>`` (manual, or the environment's ``schedule``)::

    plan -> approve -> apply -> outputs

``plan`` stores the plan file and returns its summary and SHA-256; with no changes it skips the rest.
``approve`` (the standard provider's HITL ``ApprovalOperator``) shows the summary and the digest; a
rejection skips everything after it. It asks on every run of environments with ``approval: true``,
elsewhere only when the trigger form's ``destroy`` is set (the plan skips it otherwise). ``apply``
applies exactly the approved plan file (its SHA-256 checked), ``outputs`` puts the non-sensitive
outputs into XCom and into an event of the Asset ``x-podium-stack://<name>/<environment>``.

``drift__<name>__<environment>`` (the environment's ``drift_schedule``): ``drift`` runs a refresh-only
plan and fails, naming every drifted resource and attribute, when the infrastructure changed outside
Terraform.

Both DAGs of an environment share its state (``state_name`` ``<stack>__<environment>``); each DAG runs
one run at a time (max_active_runs=1), and the backend's lock keeps the two from writing at once.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import DAG, Asset, Param

from podium.operators.terraform import (
    TerraformApplyOperator,
    TerraformDriftOperator,
    TerraformOutputOperator,
    TerraformPlanOperator,
)
from podium.settings import include_dir

if TYPE_CHECKING:
    from podium.stack.spec import Environment, Stack

START = datetime(2026, 1, 1)

APPROVAL_BODY = """{% set plan = ti.xcom_pull(task_ids='plan') %}
Run {{ run_id }} applies this plan to environment @ENV@ of stack @STACK@:

**{{ plan['summary']['headline'] }}**
{% for r in plan['summary']['resources'] %}
- {{ r['action'] }} `{{ r['address'] }}`{% if r['replaced_by'] %} (replacement forced by {{ r['replaced_by'] | join(', ') }}){% endif %}
{%- endfor %}

Plan SHA-256: `{{ plan['sha256'] }}`. Exactly this plan file is applied: a file with another digest is refused.
"""  # noqa: E501


def dag_id(stack: str, environment: str) -> str:
    return f"stack__{stack}__{environment}"


def drift_dag_id(stack: str, environment: str) -> str:
    return f"drift__{stack}__{environment}"


def stack_asset(stack: str, environment: str) -> Asset:
    """The Asset an apply updates: its events' extra holds the non-sensitive outputs.

    The ``x-`` scheme: Airflow looks up no provider normalizer for it (see the release ledger).
    """
    return Asset(
        name=f"podium-stack/{stack}/{environment}",
        uri=f"x-podium-stack://{stack}/{environment}",
        group="podium-stack",
    )


def spec_path(spec: str | Path) -> Path:
    path = Path(spec)
    return path if path.is_absolute() else include_dir() / "stacks" / path


def _module(spec: Path, module: str) -> str:
    """The module folder as operators resolve it: relative to include/ when it is inside it."""
    path = os.path.normpath(os.path.join(spec.parent.absolute(), module))
    include = os.path.normpath(include_dir().absolute()) + os.sep
    return path[len(include) :] if path.startswith(include) else path


def _common(stack: Stack, env: Environment, spec: Path) -> dict[str, Any]:
    return {
        "module": _module(spec, stack.module),
        "environment": env.name,
        "backend": env.backend.type,
        "backend_config": dict(env.backend.config),
        "state_name": f"{stack.name}__{env.name}",
        "terraform_conn_id": env.terraform_conn_id or stack.terraform_conn_id,
        "lock_timeout": env.lock_timeout,
    }


def _dag_args(stack: Stack, env: Environment, kind: str) -> dict[str, Any]:
    return {
        "start_date": START,
        "catchup": False,
        "max_active_runs": 1,
        "tags": sorted({"podium", "stack", kind, stack.name, env.name, *stack.tags}),
        "default_args": {
            "owner": stack.owner,
            "retries": stack.defaults.retries,
            "retry_delay": timedelta(seconds=stack.defaults.retry_delay),
        },
    }


def _doc(stack: Stack, env: Environment, spec: Path) -> str:
    approval = (
        "a human approves the plan (its summary and SHA-256) first; "
        if env.approval
        else "`approve` runs only for a destroy; "
    )
    return f"""### Stack `{stack.name}`, environment `{env.name}`
{stack.description}

Spec: `{spec.name}`; Terraform module `{stack.module}`; backend `{env.backend.type}`.
`plan` stores a saved plan and returns its summary and SHA-256 (no changes: the run ends there);
{approval}`apply` applies exactly that plan file; `outputs` puts the non-sensitive outputs in XCom
and in an event of the Asset `x-podium-stack://{stack.name}/{env.name}`. Trigger with `destroy` to
plan the destruction of everything (it always asks for approval).
"""


def _params() -> dict[str, Param]:
    return {
        "destroy": Param(
            False,
            type="boolean",
            title="Destroy",
            description="Plan the destruction of every resource of this environment. Always asks for "
            "approval, also where applies do not.",
        )
    }


def build_stack_dag(stack: Stack, env: Environment, spec: Path) -> DAG:
    """``stack__<name>__<env>``: plan -> approve -> apply -> outputs.

    Where the environment needs no approval, ``approve`` runs only for a destroy (the plan skips it
    otherwise, and ``apply`` runs when it was skipped: trigger rule none_failed).
    """
    from airflow.providers.standard.operators.hitl import ApprovalOperator

    common = _common(stack, env, spec)
    with DAG(
        dag_id=dag_id(stack.name, env.name),
        description=(stack.description or f"Terraform stack {stack.name}")[:200],
        doc_md=_doc(stack, env, spec),
        schedule=env.schedule,
        **_dag_args(stack, env, "apply"),
    ) as dag:
        plan = TerraformPlanOperator(
            task_id="plan",
            variables=dict(env.variables),
            plan_store=env.plan_store,
            plan_store_conn_id=env.plan_store_conn_id,
            destroy="{{ params.destroy }}",
            destroy_approval_task_id=None if env.approval else "approve",
            **common,
        )
        approve = ApprovalOperator(
            task_id="approve",
            subject=f"{{{{ 'DESTROY' if params.destroy else 'Apply' }}}} stack {stack.name} in {env.name}?",
            body=APPROVAL_BODY.replace("@ENV@", env.name).replace("@STACK@", stack.name),
            ignore_downstream_trigger_rules=True,
        )
        apply = TerraformApplyOperator(
            task_id="apply",
            plan_task_id="plan",
            plan_store_conn_id=env.plan_store_conn_id,
            trigger_rule="none_failed",
            **common,
        )
        outputs = TerraformOutputOperator(
            task_id="outputs", outlets=[stack_asset(stack.name, env.name)], **common
        )
        plan >> approve >> apply >> outputs
    dag.params.update(_params())
    return dag


def build_drift_dag(stack: Stack, env: Environment, spec: Path) -> DAG:
    """``drift__<name>__<env>``: one refresh-only plan that fails on drift."""
    with DAG(
        dag_id=drift_dag_id(stack.name, env.name),
        description=f"drift of Terraform stack {stack.name} in {env.name}"[:200],
        doc_md=f"""### Drift of stack `{stack.name}` in `{env.name}`
A refresh-only plan (`terraform plan -refresh-only -detailed-exitcode`) of spec `{spec.name}`. When the
infrastructure changed outside Terraform the `drift` task fails and names each drifted resource and
its changed attributes (never their values). Schedule: `{env.drift_schedule or "manual"}`.
""",
        schedule=env.drift_schedule,
        **_dag_args(stack, env, "drift"),
    ) as dag:
        # the same inputs as the stack DAG's plan: a required variable has no default
        TerraformDriftOperator(task_id="drift", variables=dict(env.variables), **_common(stack, env, spec))
    return dag


def build_stack_dags(spec: str | Path) -> list[DAG]:
    """Two DAGs per environment of the stack spec at ``spec`` (relative to include/stacks/)."""
    from podium.stack.spec import load_stack

    path = spec_path(spec)
    stack = load_stack(path)
    dags = []
    for env in stack.environments:
        dags += [build_stack_dag(stack, env, path), build_drift_dag(stack, env, path)]
    return dags


def stack_dags(spec: str | Path, namespace: dict[str, Any]) -> list[DAG]:
    """Build the DAGs of the stack spec ``spec`` (a path relative to include/stacks/, or absolute) and
    register them in ``namespace`` (a DAG file's ``globals()``) so Airflow finds them."""
    dags = build_stack_dags(spec)
    for dag in dags:
        namespace[dag.dag_id] = dag
    return dags
