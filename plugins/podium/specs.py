"""YAML specs validated against pydantic models, every problem at once with its path and line:column.

Generic over the root model: :func:`parse_spec` composes the YAML (recording where each path starts),
validates it with the model, adds the cross checks a caller passes (what no single field can know),
and raises one :class:`~podium.exceptions.SpecError` listing every problem, sorted by position, with a
"did you mean" for unknown keys. The release spec (``podium.release.spec``) and the stack spec
(``podium.stack.spec``) both parse through it.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from podium.exceptions import SpecError, SpecProblem

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError

Loc = tuple[str | int, ...]
M = TypeVar("M", bound="BaseModel")
CrossChecks = Callable[[Mapping[str, Any]], Iterable[tuple[Loc, str]]]


class Positions:
    """line:column (1-based) of each node, by path; keys point at the key, items at the item."""

    def __init__(self) -> None:
        self.marks: dict[Loc, tuple[int, int]] = {}

    def at(self, loc: Loc) -> tuple[int | None, int | None]:
        while loc not in self.marks and loc:
            loc = loc[:-1]
        return self.marks.get(loc, (None, None))


def construct(node: Any, positions: Positions, problems: list[tuple[Loc, str]]) -> Any:
    """Plain data from a YAML node tree, recording where each path starts; duplicate keys are problems."""
    import yaml

    scalars = yaml.constructor.SafeConstructor()
    marks = positions.marks

    def build(node: Any, loc: Loc) -> Any:
        if isinstance(node, yaml.MappingNode):
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = scalars.construct_object(key_node)
                child = (*loc, key)
                marks[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                if key in result:
                    problems.append((child, f"duplicate key {key!r}"))
                result[key] = build(value_node, child)
            return result
        if isinstance(node, yaml.SequenceNode):
            items = []
            for i, item in enumerate(node.value):
                marks[(*loc, i)] = (item.start_mark.line + 1, item.start_mark.column + 1)
                items.append(build(item, (*loc, i)))
            return items
        return scalars.construct_object(node)

    marks.setdefault((), (node.start_mark.line + 1, node.start_mark.column + 1))
    return build(node, ())


def path_text(loc: Loc) -> str:
    """``('environments', 2, 'backend', 'type')`` -> ``environments[2].backend.type``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _model_at(root: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The model whose keys live at ``loc`` (list indices and mapping keys of models skipped)."""
    model: type[BaseModel] | None = root
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        fields = model.model_fields
        field = fields.get(str(part)) or next((f for f in fields.values() if f.alias == part), None)
        if field is None:
            return None
        model = _inner_model(field.annotation)
    return model


def keys_of(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]


def pydantic_problems(root: type[BaseModel], error: ValidationError) -> Iterator[tuple[Loc, str]]:
    for item in error.errors(include_url=False):
        loc: Loc = tuple(item["loc"])
        if loc and loc[-1] == "[key]":  # a mapping's key is wrong: point at the key
            loc = loc[:-1]
        kind = item["type"]
        if kind == "extra_forbidden":
            parent, key = loc[:-1], str(loc[-1])
            model = _model_at(root, parent)
            keys = keys_of(model) if model else []
            allowed = f"; allowed: {', '.join(keys)}" if keys else ""
            yield loc, f"unknown key {key!r}{did_you_mean(key, keys)}{allowed}"
        elif kind == "missing":
            yield loc[:-1], f"missing required key {loc[-1]!r}"
        elif kind == "string_pattern_mismatch":
            yield loc, f"{item.get('input')!r} does not match {item['ctx']['pattern']}"
        elif kind == "literal_error":
            value = item.get("input")
            expected = str(item["ctx"]["expected"])
            choices = [c.strip(" '") for c in expected.replace(" or ", ",").split(",")]
            hint = did_you_mean(value, choices) if isinstance(value, str) and len(choices) > 1 else ""
            yield loc, f"must be {expected} (got {value!r}){hint}"
        else:
            message = str(item["msg"]).removeprefix("Value error, ")
            value = item.get("input")
            if isinstance(value, (str, int, float, bool)) and not kind.startswith("value_error"):
                message += f" (got {value!r})"
            yield loc, message


def _document(text: str, file: str, positions: Positions, problems: list[tuple[Loc, str]]) -> Any:
    import yaml

    from podium.yaml_errors import describe_yaml_error

    try:
        nodes = list(yaml.compose_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
    except yaml.YAMLError as error:
        syntax = describe_yaml_error(error)
        problem = SpecProblem("", f"not valid YAML: {syntax.message}", syntax.line, syntax.column)
        raise SpecError(file, [problem]) from None
    nodes = [n for n in nodes if n is not None]
    if len(nodes) != 1:
        raise SpecError(file, [SpecProblem("", f"expected one YAML document, found {len(nodes)}")])
    data = construct(nodes[0], positions, problems)
    if not isinstance(data, Mapping):
        line, column = positions.at(())
        raise SpecError(file, [SpecProblem("", "the document must be a mapping", line, column)])
    return data


def parse_spec(text: str, file: str, model: type[M], cross_checks: CrossChecks | None = None) -> M:
    """Validate YAML ``text`` (from ``file``) as ``model``; raise SpecError listing every problem."""
    positions = Positions()
    problems: list[tuple[Loc, str]] = []
    data = _document(text, file, positions, problems)
    from pydantic import ValidationError

    spec: M | None = None
    try:
        spec = model.model_validate(data)
    except ValidationError as error:
        problems.extend(pydantic_problems(model, error))
    if cross_checks is not None:
        problems.extend(cross_checks(data))
    if problems:
        found = [SpecProblem(path_text(loc), message, *positions.at(loc)) for loc, message in problems]
        found.sort(key=lambda p: (p.line or 0, p.column or 0))
        raise SpecError(file, found)
    assert spec is not None
    return spec


# -- JSON Schemas of specs (include/schemas/*.schema.json, what editors validate against) -----------


def schema_document(model: type[BaseModel], file_name: str, title: str, description: str) -> dict[str, Any]:
    """The JSON Schema of ``model`` as a spec's schema file holds it."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://podium.dev/schemas/{file_name}",
        **model.model_json_schema(by_alias=True),
        "title": title,
        "description": description,
    }


def render_schema(schema: Mapping[str, Any]) -> str:
    import json

    return json.dumps(schema, indent=2, sort_keys=False) + "\n"


def write_schema(schema: Mapping[str, Any], file_name: str, argv: list[str]) -> int:
    """``python -m podium.<spec>.schema [path]``: write the schema (default include/schemas/<file_name>)."""
    from pathlib import Path

    target = (
        Path(argv[0]) if argv else Path(__file__).resolve().parents[2] / "include" / "schemas" / file_name
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_schema(schema))
    print(f"wrote {target}")
    return 0
