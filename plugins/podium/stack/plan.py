"""What podium reads out of Terraform's machine-readable output (pure: plain data in, plain data out).

* :func:`summarize_plan`: ``terraform show -json PLAN`` -> to add/change/destroy counts as Terraform
  prints them (a replacement counts once to add and once to destroy), each changed resource's address
  and action, replacements marked with the attributes that force them.
* :func:`plan_digest`, :func:`check_digest`: the plan hash rule. A plan is the SHA-256 of its file's
  bytes; apply runs a plan file only when its digest equals the one the plan task returned (and the
  approval showed). Anything else is refused before Terraform sees the file.
* :func:`summarize_drift`: a refresh-only plan's ``resource_drift`` -> the drifted resources and the
  names of their changed attributes (never the values: they may be secret).
* :func:`split_outputs`: ``terraform output -json`` -> the non-sensitive values and the names of the
  sensitive ones (their values are dropped here, so they cannot reach XCom or a log).
* :func:`plan_was_applied`: whether a state (``terraform show -json``) already holds what a plan
  planned, so a retried apply after a crash recognises its own work instead of failing as stale.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from podium.exceptions import PermanentError

# Terraform's plan actions (``change.actions``) -> one word per resource, as the plan's UI says it.
_ACTIONS: dict[tuple[str, ...], str] = {
    ("create",): "create",
    ("update",): "update",
    ("delete",): "delete",
    ("delete", "create"): "replace",
    ("create", "delete"): "replace",
    ("read",): "read",
    ("no-op",): "no-op",
    ("forget",): "forget",
}
_SYMBOLS = {"create": "+", "update": "~", "delete": "-", "replace": "-/+", "read": "<=", "forget": "."}
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class ResourceChange:
    """One resource the plan changes."""

    address: str
    action: str  # create, update, delete, replace, read, forget
    replaced_by: tuple[str, ...] = ()  # attributes that force the replacement
    reason: str | None = None  # Terraform's action_reason, e.g. replace_because_cannot_update

    def line(self) -> str:
        text = f"{_SYMBOLS.get(self.action, '?'):>3} {self.address} ({self.action})"
        if self.replaced_by:
            text += f" forced by {', '.join(self.replaced_by)}"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "action": self.action,
            "replaced_by": list(self.replaced_by),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class PlanSummary:
    """A plan in numbers and addresses, fit for a log, XCom and an approval's body."""

    add: int = 0
    change: int = 0
    destroy: int = 0
    resources: tuple[ResourceChange, ...] = ()
    outputs_changed: tuple[str, ...] = ()

    @property
    def has_changes(self) -> bool:
        return bool(self.add or self.change or self.destroy or self.outputs_changed)

    @property
    def replacements(self) -> tuple[str, ...]:
        return tuple(r.address for r in self.resources if r.action == "replace")

    def headline(self) -> str:
        """Terraform's own wording: ``Plan: 1 to add, 0 to change, 0 to destroy.``"""
        if not self.has_changes:
            return "No changes. Your infrastructure matches the configuration."
        if not (self.add or self.change or self.destroy):
            return f"Changes to Outputs: {', '.join(self.outputs_changed)}."
        return f"Plan: {self.add} to add, {self.change} to change, {self.destroy} to destroy."

    def text(self) -> str:
        """The headline, then one line per changed resource."""
        return "\n".join([self.headline(), *(r.line() for r in self.resources)])

    def as_dict(self) -> dict[str, Any]:
        return {
            "add": self.add,
            "change": self.change,
            "destroy": self.destroy,
            "has_changes": self.has_changes,
            "headline": self.headline(),
            "resources": [r.as_dict() for r in self.resources],
            "replacements": list(self.replacements),
            "outputs_changed": list(self.outputs_changed),
        }


def _action(actions: Sequence[str]) -> str:
    try:
        return _ACTIONS[tuple(actions)]
    except KeyError:
        raise ValueError(f"unknown Terraform plan actions {list(actions)!r}") from None


def _path_text(path: Any) -> str:
    """A replace path (``["tags", "Name"]``, ``["input", 0]``) as ``tags.Name``, ``input[0]``."""
    text = ""
    for part in path if isinstance(path, list) else [path]:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def summarize_plan(plan: Mapping[str, Any]) -> PlanSummary:
    """The summary of ``terraform show -json PLAN``'s document ``plan``."""
    add = change = destroy = 0
    resources: list[ResourceChange] = []
    for item in plan.get("resource_changes") or ():
        change_doc = item.get("change") or {}
        action = _action(change_doc.get("actions") or ["no-op"])
        if action in ("no-op", "read"):
            continue
        add += action in ("create", "replace")
        change += action == "update"
        destroy += action in ("delete", "replace")
        replaced_by = tuple(_path_text(p) for p in change_doc.get("replace_paths") or ())
        resources.append(
            ResourceChange(
                address=str(item.get("address")),
                action=action,
                replaced_by=replaced_by if action == "replace" else (),
                reason=item.get("action_reason"),
            )
        )
    outputs = tuple(
        sorted(
            name
            for name, output in (plan.get("output_changes") or {}).items()
            if _action((output or {}).get("actions") or ["no-op"]) != "no-op"
        )
    )
    return PlanSummary(add, change, destroy, tuple(resources), outputs)


# -- the plan hash rule -----------------------------------------------------------------------------------


def plan_digest(data: bytes) -> str:
    """The identity of a saved plan: the SHA-256 of its file, in lower-case hex."""
    return hashlib.sha256(data).hexdigest()


def check_digest(expected: str | None, actual: str, *, where: str) -> None:
    """Refuse a plan file whose digest is not ``expected`` (the one planned and approved).

    Raises :class:`PermanentError` (no retry: a retry would read the same file) naming both digests.
    """
    if not expected or not _HEX64.match(expected):
        raise PermanentError(
            f"no valid SHA-256 to check the plan {where} against (got {expected!r}): the apply runs "
            "only a plan whose digest the plan task returned"
        )
    if actual != expected:
        raise PermanentError(
            f"the plan file {where} has SHA-256 {actual}, but the plan that was planned and approved "
            f"has {expected}: it was changed or replaced after approval; nothing was applied. "
            "Run the DAG again to plan and approve anew."
        )


def plan_key(dag_id: str, run_id: str, environment: str) -> str:
    """Where a run's plan file lives below the plan store: ``<dag_id>/<run_id>/<environment>.tfplan``.

    Characters a file system or an object store would trip on (``:``, ``+``) become ``_``.
    """
    parts = [re.sub(r"[^A-Za-z0-9._=-]", "_", part) for part in (dag_id, run_id, environment)]
    if any(not part.strip(".") for part in parts):
        raise ValueError(f"cannot build a plan key from {dag_id!r}, {run_id!r}, {environment!r}")
    return f"{parts[0]}/{parts[1]}/{parts[2]}.tfplan"


# -- drift --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DriftedResource:
    address: str
    action: str  # update (changed outside Terraform) or delete (gone)
    attributes: tuple[str, ...] = ()

    def line(self) -> str:
        if self.action == "delete":
            return f"{self.address}: deleted outside Terraform"
        return f"{self.address}: {', '.join(self.attributes) or 'changed'} changed outside Terraform"


@dataclass(frozen=True)
class DriftSummary:
    resources: tuple[DriftedResource, ...] = field(default_factory=tuple)

    @property
    def drifted(self) -> bool:
        return bool(self.resources)

    def text(self) -> str:
        if not self.resources:
            return "No drift: the infrastructure matches the state."
        count = len(self.resources)
        head = f"Drift: {count} resource{'s' if count > 1 else ''} changed outside Terraform"
        return "\n".join([head, *(f"  {r.line()}" for r in self.resources)])

    def as_dict(self) -> dict[str, Any]:
        return {
            "drifted": self.drifted,
            "resources": [
                {"address": r.address, "action": r.action, "attributes": list(r.attributes)}
                for r in self.resources
            ],
            "text": self.text(),
        }


def changed_attributes(before: Any, after: Any) -> tuple[str, ...]:
    """Top-level attribute names whose values differ (values are never returned)."""
    if not isinstance(before, Mapping) or not isinstance(after, Mapping):
        return () if before == after else ("(value)",)
    keys = sorted(set(before) | set(after))
    return tuple(key for key in keys if before.get(key) != after.get(key))


def summarize_drift(plan: Mapping[str, Any]) -> DriftSummary:
    """The drift a refresh-only plan (``show -json``) found: its ``resource_drift``."""
    found = []
    for item in plan.get("resource_drift") or ():
        change_doc = item.get("change") or {}
        action = _action(change_doc.get("actions") or ["no-op"])
        if action == "no-op":
            continue
        attributes = (
            ()
            if action == "delete"
            else changed_attributes(change_doc.get("before"), change_doc.get("after"))
        )
        found.append(DriftedResource(str(item.get("address")), action, attributes))
    return DriftSummary(tuple(sorted(found, key=lambda r: r.address)))


# -- outputs ------------------------------------------------------------------------------------------


def split_outputs(outputs: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """``terraform output -json`` -> (non-sensitive name -> value, sorted sensitive names)."""
    public: dict[str, Any] = {}
    sensitive: list[str] = []
    for name, output in outputs.items():
        if not isinstance(output, Mapping) or output.get("sensitive", True):
            sensitive.append(name)  # anything not plainly marked non-sensitive is withheld
        else:
            public[name] = output.get("value")
    return public, sorted(sensitive)


def sensitive_values(outputs: Mapping[str, Any]) -> list[str]:
    """The string forms of sensitive output values, to scrub from anything shown."""
    found: list[str] = []
    for output in outputs.values():
        if isinstance(output, Mapping) and output.get("sensitive", True):
            found.extend(_strings(output.get("value")))
    return found


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif value is not None and not isinstance(value, bool):
        yield str(value)


# -- a retried apply ------------------------------------------------------------------------------------


def _state_resources(state: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    found: dict[str, Mapping[str, Any]] = {}
    modules = [(state.get("values") or {}).get("root_module") or {}]
    while modules:
        module = modules.pop()
        for resource in module.get("resources") or ():
            found[str(resource.get("address"))] = resource.get("values") or {}
        modules.extend(module.get("child_modules") or ())
    return found


def plan_was_applied(plan: Mapping[str, Any], state: Mapping[str, Any]) -> bool:
    """Whether ``state`` (``show -json`` of the current state) already holds what ``plan`` planned.

    Every resource the plan creates, updates or replaces must be in the state with every attribute the
    plan knew (``after``; attributes known only after apply are not compared), and every resource it
    deletes must be gone. A plan without resource changes counts as applied.
    """
    current = _state_resources(state)
    for item in plan.get("resource_changes") or ():
        change_doc = item.get("change") or {}
        action = _action(change_doc.get("actions") or ["no-op"])
        address = str(item.get("address"))
        if action == "delete" and address in current:
            return False
        if action in ("create", "update", "replace") and not _known_match(
            change_doc.get("after"), current.get(address)
        ):
            return False
    return True


def _known_match(after: Any, values: Mapping[str, Any] | None) -> bool:
    if values is None:
        return False
    if not isinstance(after, Mapping):
        return True
    return all(values.get(key) == value for key, value in after.items() if value is not None)
