"""Release spec validation: a corpus of broken specs, each with the problems it must be reported with."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from podium.exceptions import SpecError
from podium.release.spec import json_schema, load_release, parse_release

REPO = Path(__file__).resolve().parents[3]
BROKEN = sorted((Path(__file__).parent / "broken_specs").glob("*.yaml"))
SCHEMA = REPO / "include" / "schemas" / "release.schema.json"
EXPECT = "# expect: "


def expected(path: Path) -> list[str]:
    return [line[len(EXPECT) :] for line in path.read_text().splitlines() if line.startswith(EXPECT)]


def test_the_corpus_is_big_enough() -> None:
    assert len(BROKEN) >= 20
    assert all(expected(path) for path in BROKEN), "each broken spec says what it must be reported with"


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.stem)
def test_broken_spec_reports_every_problem_with_path_and_position(path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        load_release(path)
    error = caught.value
    assert error.file == str(path)
    lines = str(error).splitlines()
    assert lines[0] == f"{path}: {len(error.problems)} problem{'s' if len(error.problems) > 1 else ''}"
    assert [line.removeprefix("  - ") for line in lines[1:]] == expected(path)


def test_storefront_example_is_valid() -> None:
    release = load_release(REPO / "include" / "releases" / "storefront.yaml")
    assert [s.name for s in release.services] == [
        "catalog",
        "inventory",
        "payments",
        "cart",
        "storefront-web",
    ]
    assert [(e.name, e.approval) for e in release.environments] == [("staging", False), ("production", True)]


def test_an_unreadable_spec_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"missing\.yaml: 1 problem\n  - <document>: cannot read the file"):
        load_release(tmp_path / "missing.yaml")


def test_one_document_only(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="expected one YAML document, found 2"):
        parse_release("a: 1\n---\nb: 2\n", "two.yaml", tmp_path)


def test_json_schema_file_is_current() -> None:
    """include/schemas/release.schema.json is generated from the models: regenerate it with
    `python -m podium.release.schema` (see README) when this fails."""
    assert json.loads(SCHEMA.read_text()) == json_schema()


def test_json_schema_accepts_the_example_and_catches_what_editors_should() -> None:
    import jsonschema
    import yaml

    validator = jsonschema.Draft202012Validator(json_schema())
    example = yaml.safe_load((REPO / "include" / "releases" / "storefront.yaml").read_text())
    assert list(validator.iter_errors(example)) == []
    typo = yaml.safe_load((Path(__file__).parent / "broken_specs" / "unknown_key_typo.yaml").read_text())
    messages = [error.message for error in validator.iter_errors(typo)]
    assert any("dependson" in message for message in messages), messages


UNCLOSED_LIST = """\
apiVersion: podium/v1
kind: Release
name: bakery
environments:
  - name: staging
    namespace: bakery-staging
services:
  - name: oven
    workload: {manifests: manifests/app.yaml}
    images: {app: ghcr.io/x/oven}
    tag: "1.0"
  - name: web
    workload: {manifests: manifests/app.yaml}
    images: {app: ghcr.io/x/web}
    tag: "1.0"
    timeout: 300
    depends_on: [oven
"""


@pytest.mark.parametrize(
    ("text", "noticed", "opened", "what"),
    [
        # `[` opened on line 17 and never closed: noticed at the end of the file
        (UNCLOSED_LIST, "line 18:1", "line 17:17", "the flow sequence that opened at line 17:17 is not"),
        # a `{` never closed, noticed where the next key starts
        ("name: x\nservices: {oven: 1\ntag: v1\n", "line 3:4", "line 2:11", "the flow mapping"),
        # a quote never closed: noticed at the end of the file
        ('name: "bakery\nkind: Release\n', "line 3:1", "line 1:7", "the quoted scalar that opened"),
        # a key indented less than its siblings under a mapping
        ("services:\n  oven:\n    tag: v1\n   timeout: 3\n", "line 4:4", "line 2:3", "the block mapping"),
    ],
    ids=["unclosed-bracket", "unclosed-brace", "unclosed-quote", "bad-indent"],
)
def test_invalid_yaml_names_where_it_was_noticed_and_where_the_construct_opened(
    tmp_path: Path, text: str, noticed: str, opened: str, what: str
) -> None:
    with pytest.raises(SpecError) as caught:
        parse_release(text, "bakery.yaml", tmp_path)
    error = caught.value
    assert error.file == "bakery.yaml"
    (problem,) = error.problems
    assert f"line {problem.line}:{problem.column}" == noticed
    assert problem.message.startswith("not valid YAML: ")
    assert f"{what}" in problem.message
    assert opened in problem.message
    message = str(error)
    assert message.startswith("bakery.yaml: 1 problem\n")
    assert f"({noticed})" in message
    assert opened in message
