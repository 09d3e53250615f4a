"""Label and field selectors, parsed as the API server parses them, into predicates."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from kubesim.resources import Resource
from kubesim.store import ApiError

Obj = dict[str, Any]
Requirement = tuple[str, str, frozenset[str]]  # (key, operator, values)

_SET_EXPR = re.compile(r"^\s*(!?)([A-Za-z0-9_./-]+)\s*(?:(in|notin)\s*\(([^)]*)\))?\s*$")


def _split_terms(text: str) -> Iterable[str]:
    depth, start = 0, 0
    for index, char in enumerate(text):
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            yield text[start:index]
            start = index + 1
    yield text[start:]


# -- labelSelector --------------------------------------------------------------------------------


def _requirement(term: str) -> Requirement:
    if "!=" in term:
        key, value = (p.strip() for p in term.split("!=", 1))
        return key, "!=", frozenset([value])
    if "==" in term or ("=" in term and " in " not in term):
        key, value = (p.strip() for p in re.split(r"==?", term, maxsplit=1))
        return key, "in", frozenset([value])
    match = _SET_EXPR.match(term)
    if not match:
        raise ApiError(400, "BadRequest", f"unable to parse requirement: {term!r}")
    negate, key, operator, values = match.groups()
    if operator:
        return key, operator, frozenset(v.strip() for v in values.split(",") if v.strip())
    return key, "!exists" if negate else "exists", frozenset()


def _satisfied(labels: dict[str, str], requirement: Requirement) -> bool:
    key, operator, values = requirement
    present = key in labels
    if operator == "in":
        return present and labels[key] in values
    if operator in ("notin", "!="):
        return not (present and labels[key] in values)
    if operator == "exists":
        return present
    return not present  # !exists


def parse_label_selector(text: str | None) -> Callable[[dict[str, str]], bool]:
    """labelSelector as the API server accepts it: =, ==, !=, in, notin, exists, !exists."""
    requirements = [_requirement(term) for term in _split_terms(text or "") if term.strip()]

    def matches(labels: dict[str, str]) -> bool:
        return all(_satisfied(labels, requirement) for requirement in requirements)

    return matches


# -- fieldSelector --------------------------------------------------------------------------------


def _at(path: str) -> Callable[[Obj], Any]:
    parts = path.split(".")

    def get(obj: Obj) -> Any:
        current: Any = obj
        for part in parts:
            current = current.get(part) if isinstance(current, dict) else None
        return current

    return get


def _paths(*paths: str) -> dict[str, Callable[[Obj], Any]]:
    return {path: _at(path) for path in paths}


# The fields each kind can be selected by (the field label conversion functions the API server
# registers, e.g. pkg/apis/core/v1/conversion.go); every kind has metadata.name and metadata.namespace.
SELECTABLE: dict[str, dict[str, Callable[[Obj], Any]]] = {
    "Pod": _paths(
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    ),
    "Event": {
        **_paths(
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "type",
        ),
        "source": _at("source.component"),
    },
    "Namespace": _paths("status.phase"),
    "Node": _paths("spec.unschedulable"),
    "Secret": _paths("type"),
    "Service": _paths("spec.clusterIP", "spec.type"),
    "ReplicaSet": _paths("status.replicas"),
    "Job": {"status.successful": _at("status.succeeded")},
}
META_FIELDS = _paths("metadata.name", "metadata.namespace")


def _text(value: Any) -> str:
    """A field's value as the API server's field set holds it (Go's string forms)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _field_term(
    term: str, fields: dict[str, Callable[[Obj], Any]] | None
) -> tuple[Callable[[Obj], Any], str, bool]:
    match = re.match(r"^\s*([^!=\s]+)\s*(!=|==|=)(.*)$", term)
    if not match:
        raise ApiError(400, "BadRequest", f"invalid selector: '{term}'; can't understand '{term}'")
    label, operator, value = match.group(1), match.group(2), match.group(3).strip()
    if fields is None:
        return _at(label), value, operator == "!="
    if label not in fields:
        raise ApiError(400, "BadRequest", f"field label not supported: {label}")
    return fields[label], value, operator == "!="


def parse_field_selector(text: str | None, resource: Resource | None = None) -> Callable[[Obj], bool]:
    """fieldSelector (=, ==, !=) on the fields ``resource`` can be selected by (400 for another field),
    e.g. involvedObject.name, involvedObject.uid, reason and type for Events. Without a resource, any
    path in the object."""
    if not text:
        return lambda obj: True
    fields = {**META_FIELDS, **SELECTABLE.get(resource.kind, {})} if resource is not None else None
    tests = [_field_term(term, fields) for term in _split_terms(text) if term.strip()]

    def match(obj: Obj) -> bool:
        return all((_text(get(obj)) == value) != negate for get, value, negate in tests)

    return match
