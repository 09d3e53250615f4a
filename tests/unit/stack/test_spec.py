"""Stack spec validation: a corpus of broken specs, each with the problems it must be reported with."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from podium.exceptions import SpecError
from podium.stack.spec import json_schema, load_stack, parse_stack

REPO = Path(__file__).resolve().parents[3]
BROKEN = sorted((Path(__file__).parent / "broken_specs").glob("*.yaml"))
SCHEMA = REPO / "include" / "schemas" / "stack.schema.json"
EXPECT = "# expect: "


def expected(path: Path) -> list[str]:
    return [line[len(EXPECT) :] for line in path.read_text().splitlines() if line.startswith(EXPECT)]


def test_the_corpus_is_big_enough() -> None:
    assert len(BROKEN) >= 15
    assert all(expected(path) for path in BROKEN), "each broken spec says what it must be reported with"


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.stem)
def test_broken_spec_reports_every_problem_with_path_and_position(path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        load_stack(path)
    error = caught.value
    assert error.file == str(path)
    lines = str(error).splitlines()
    assert lines[0] == f"{path}: {len(error.problems)} problem{'s' if len(error.problems) > 1 else ''}"
    assert [line.removeprefix("  - ") for line in lines[1:]] == expected(path)


def test_storefront_infra_example_is_valid() -> None:
    stack = load_stack(REPO / "include" / "stacks" / "storefront-infra.yaml")
    assert stack.name == "storefront-infra"
    assert stack.engine == "terraform"
    assert [(e.name, e.approval) for e in stack.environments] == [
        ("dev", False),
        ("staging", True),
        ("production", True),
    ]
    assert all(e.drift_schedule for e in stack.environments)
    assert stack.environment("dev").backend.type == "local"


def test_an_unreadable_spec_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"missing\.yaml: 1 problem\n  - <document>: cannot read the file"):
        load_stack(tmp_path / "missing.yaml")


def test_one_document_only(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="expected one YAML document, found 2"):
        parse_stack("a: 1\n---\nb: 2\n", "two.yaml", tmp_path)


def test_the_json_schema_is_fresh() -> None:
    """include/schemas/stack.schema.json is what `python -m podium.stack.schema` writes."""
    assert json.loads(SCHEMA.read_text()) == json_schema(), (
        "stale schema: run PYTHONPATH=plugins python -m podium.stack.schema"
    )
