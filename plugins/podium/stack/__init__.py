"""Terraform stacks, as pure logic: the stack spec (``podium.stack.spec``: every problem of a file at
once, each with its path and line:column), and what podium reads out of Terraform's ``-json`` output
(``podium.stack.plan``: the plan summary, the plan hash rule, drift, outputs split by sensitivity).

:mod:`podium.hooks.terraform` runs Terraform; :mod:`podium.operators.terraform` are the tasks;
:func:`stack_dags` (DAG files call it) hands the spec to :mod:`podium.dagbuilders.stack`, which builds
one DAG per environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def stack_dags(spec: str | Path, namespace: dict[str, Any]) -> list[Any]:
    """The public entry point of DAG files (``stack_dags("storefront-infra.yaml", globals())``, like
    ``release_dags``): builds ``stack__<name>__<env>`` and ``drift__<name>__<env>`` for every
    environment of the spec. The one import from this pure package up into the DAG builders, declared
    in pyproject.toml's layer contracts; nothing else here imports Airflow."""
    from podium.dagbuilders.stack import stack_dags as build

    return build(spec, namespace)
