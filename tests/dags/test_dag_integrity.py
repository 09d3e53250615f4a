"""Every DAG file loads cleanly, and every DAG carries what operators of a shared Airflow expect."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag

REPO = Path(__file__).resolve().parents[2]
# DAG files: every .py under dags/ but private ones and packages of example helpers (checkout_shop/)
DAG_FILES = sorted(
    p
    for p in (REPO / "dags").rglob("*.py")
    if not p.name.startswith("_") and not (p.parent / "__init__.py").exists()
)


@pytest.fixture(scope="module")
def dagbag(airflow_db: Path) -> DagBag:
    return DagBag(dag_folder=str(REPO / "dags"))


def test_there_are_dag_files() -> None:
    assert DAG_FILES, "dags/ has no DAG files"


def test_no_import_errors_and_no_warnings(dagbag: DagBag) -> None:
    assert dagbag.import_errors == {}
    assert dagbag.captured_warnings == {}
    assert {Path(dag.fileloc) for dag in dagbag.dags.values()} == set(DAG_FILES)


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_each_file_loads_on_its_own(path: Path, airflow_db: Path) -> None:
    bag = DagBag(dag_folder=str(path))
    assert bag.import_errors == {}
    assert bag.captured_warnings == {}
    assert bag.dags, f"{path.name} defines no DAG"


def test_dag_ids_are_unique_across_files(dagbag: DagBag) -> None:
    ids: dict[str, list[str]] = {}
    for path in DAG_FILES:
        for dag_id in DagBag(dag_folder=str(path)).dags:
            ids.setdefault(dag_id, []).append(path.name)
    duplicated = {dag_id: files for dag_id, files in ids.items() if len(files) > 1}
    assert duplicated == {}
    assert set(ids) == set(dagbag.dag_ids)


def test_every_dag_is_documented_owned_tagged_and_retried(dagbag: DagBag) -> None:
    problems = []
    for dag_id, dag in sorted(dagbag.dags.items()):
        if not dag.tags:
            problems.append(f"{dag_id}: no tags")
        if not (dag.doc_md or "").strip():
            problems.append(f"{dag_id}: no doc_md")
        if dag.owner in ("", "airflow"):
            problems.append(f"{dag_id}: owner is {dag.owner!r}; set default_args['owner']")
        for task in dag.tasks:
            if task.retries < 1:
                problems.append(f"{dag_id}.{task.task_id}: retries={task.retries}")
            if not isinstance(task.retry_delay, timedelta) or task.retry_delay <= timedelta(0):
                problems.append(f"{dag_id}.{task.task_id}: retry_delay={task.retry_delay!r}")
    assert problems == []
