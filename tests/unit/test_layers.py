"""The layer contracts in pyproject.toml (run by `make lint` as `lint-imports`) catch a violation."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(plugins: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(REPO / "pyproject.toml"), "--no-cache", "--no-logo"],
        env={**os.environ, "PYTHONPATH": str(plugins)},
        capture_output=True,
        text=True,
        cwd=plugins,
        check=False,
    )


@pytest.fixture
def package_copy(tmp_path: Path) -> Path:
    shutil.copytree(
        REPO / "plugins" / "podium", tmp_path / "podium", ignore=shutil.ignore_patterns("__pycache__")
    )
    return tmp_path


def test_the_package_keeps_its_layers(package_copy: Path) -> None:
    result = lint_imports(package_copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken." in result.stdout


@pytest.mark.parametrize(
    ("module", "source", "broken"),
    [
        # pure logic importing an operator: the layers contract
        (
            "kube/bad.py",
            "from podium.operators.kubernetes import KubernetesRolloutOperator\n",
            "podium.kube is not allowed to import podium.operators",
        ),
        # a hook importing a DAG builder
        (
            "hooks/bad.py",
            "def f():\n    from podium.dagbuilders.release import release_dags\n    return release_dags\n",
            "podium.hooks is not allowed to import podium.dagbuilders",
        ),
        # pure logic importing a client library: the purity contract
        ("release/bad.py", "import kubernetes\n", "podium.release is not allowed to import kubernetes"),
        (
            "saga/bad.py",
            "from airflow.sdk import BaseOperator\n",
            "podium.saga is not allowed to import airflow",
        ),
    ],
)
def test_a_violation_fails_lint(package_copy: Path, module: str, source: str, broken: str) -> None:
    (package_copy / "podium" / module).write_text(source)
    result = lint_imports(package_copy)
    assert result.returncode == 1, result.stdout + result.stderr
    assert broken in " ".join(result.stdout.split()), result.stdout
