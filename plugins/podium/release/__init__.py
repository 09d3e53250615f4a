"""Whole-application releases: a YAML release spec becomes one dependency-ordered rollout DAG per environment.

``podium.release.spec`` parses and validates ``kind: Release`` documents (every problem of a file at once,
each with its path and line:column); ``podium.release.graph`` orders services; ``podium.release.builder``
turns a validated release into Airflow DAGs. DAG files call :func:`release_dags`.
"""

from __future__ import annotations

from typing import Any


def release_dags(spec: str, namespace: dict[str, Any]) -> list[Any]:
    """Build the DAGs of the release spec ``spec`` (a path relative to include/releases/, or absolute)
    and register them in ``namespace`` (a DAG file's ``globals()``) so Airflow finds them."""
    from podium.release.builder import build_release_dags

    dags = build_release_dags(spec)
    for dag in dags:
        namespace[dag.dag_id] = dag
    return dags
