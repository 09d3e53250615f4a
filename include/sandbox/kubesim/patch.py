"""Patch semantics of the Kubernetes API: JSON merge, JSON patch, strategic merge, and apply."""

from __future__ import annotations

import copy
from typing import Any

# patchMergeKey of the list fields podium's workloads use (from the Kubernetes API types).
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "conditions": "type",
    "ownerReferences": "uid",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
}


class PatchError(ValueError):
    """A patch that cannot be applied (answered 422 or 400)."""


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_patch(target: Any, operations: list[dict[str, Any]]) -> Any:
    """RFC 6902 JSON patch."""
    if not isinstance(operations, list):
        raise PatchError("a JSON patch must be a list of operations")
    doc = copy.deepcopy(target)
    for op in operations:
        kind, path = op.get("op"), op.get("path", "")
        if kind == "test":
            if _get(doc, path) != op.get("value"):
                raise PatchError(f"test operation failed at {path}")
        elif kind == "remove":
            doc = _remove(doc, path)
        elif kind == "add":
            doc = _add(doc, path, copy.deepcopy(op.get("value")))
        elif kind == "replace":
            _get(doc, path)  # must exist
            doc = _remove(doc, path)
            doc = _add(doc, path, copy.deepcopy(op.get("value")))
        elif kind in ("move", "copy"):
            value = copy.deepcopy(_get(doc, op["from"]))
            if kind == "move":
                doc = _remove(doc, op["from"])
            doc = _add(doc, path, value)
        else:
            raise PatchError(f"unknown JSON patch operation {kind!r}")
    return doc


def _tokens(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}")
    return [t.replace("~1", "/").replace("~0", "~") for t in path[1:].split("/")]


def _get(doc: Any, path: str) -> Any:
    for token in _tokens(path):
        try:
            doc = doc[int(token)] if isinstance(doc, list) else doc[token]
        except (KeyError, IndexError, ValueError, TypeError) as error:
            raise PatchError(f"path {path} does not exist") from error
    return doc


def _parent(doc: Any, path: str) -> tuple[Any, str]:
    tokens = _tokens(path)
    if not tokens:
        raise PatchError("cannot address the document root here")
    return _get(doc, "".join("/" + t.replace("~", "~0").replace("/", "~1") for t in tokens[:-1])), tokens[-1]


def _add(doc: Any, path: str, value: Any) -> Any:
    if path == "":
        return value
    parent, key = _parent(doc, path)
    if isinstance(parent, list):
        index = len(parent) if key == "-" else int(key)
        if not 0 <= index <= len(parent):
            raise PatchError(f"index out of range at {path}")
        parent.insert(index, value)
    elif isinstance(parent, dict):
        parent[key] = value
    else:
        raise PatchError(f"cannot add at {path}")
    return doc


def _remove(doc: Any, path: str) -> Any:
    parent, key = _parent(doc, path)
    try:
        if isinstance(parent, list):
            del parent[int(key)]
        else:
            del parent[key]
    except (KeyError, IndexError, ValueError, TypeError) as error:
        raise PatchError(f"path {path} does not exist") from error
    return doc


def _merge_key(field: str, items: list[Any]) -> str | None:
    if field == "ports":
        sample = next((i for i in items if isinstance(i, dict)), {})
        return "containerPort" if "containerPort" in sample else "port"
    return MERGE_KEYS.get(field)


def strategic_merge(target: Any, patch: Any, field: str = "") -> Any:
    """Strategic merge patch: maps merge, lists with a merge key merge item by item, others replace.

    Honours the directives kubectl writes: ``$patch: replace|delete|merge``, ``$retainKeys``,
    ``$setElementOrder/<field>`` and ``$deleteFromPrimitiveList/<field>``.
    """
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return None
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys") or key.startswith("$setElementOrder/"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            result[name] = [v for v in result.get(name, []) if v not in value]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list):
            merged = _merge_list(result.get(key), value, key)
            order = patch.get(f"$setElementOrder/{key}")
            result[key] = _reorder(merged, order, _merge_key(key, value + (result.get(key) or [])))
        elif isinstance(value, dict):
            merged_value = strategic_merge(result.get(key), value, key)
            if merged_value is None:
                result.pop(key, None)
            else:
                result[key] = merged_value
        else:
            result[key] = copy.deepcopy(value)
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_list(current: Any, patch: list[Any], field: str) -> list[Any]:
    current = current if isinstance(current, list) else []
    key = _merge_key(field, patch + current)
    if key is None or not all(isinstance(item, dict) for item in patch):
        if any(isinstance(i, dict) and i.get("$patch") == "replace" for i in patch):
            return [copy.deepcopy(i) for i in patch if not (isinstance(i, dict) and "$patch" in i)]
        return copy.deepcopy(patch)
    if any(item.get("$patch") == "replace" for item in patch):
        return [copy.deepcopy(i) for i in patch if "$patch" not in i]
    merged = [copy.deepcopy(item) for item in current]
    for item in patch:
        index = next((i for i, old in enumerate(merged) if old.get(key) == item.get(key)), None)
        if item.get("$patch") == "delete":
            if index is not None:
                del merged[index]
        elif index is None:
            merged.append(strategic_merge({}, item))
        else:
            merged[index] = strategic_merge(merged[index], item, field)
    return merged


def _reorder(items: list[Any], order: Any, key: str | None) -> list[Any]:
    if not isinstance(order, list) or key is None:
        return items
    rank = {entry.get(key): n for n, entry in enumerate(order) if isinstance(entry, dict)}
    return sorted(items, key=lambda item: rank.get(item.get(key), len(rank)) if isinstance(item, dict) else 0)


def apply(
    live: dict[str, Any] | None, last_applied: dict[str, Any] | None, applied: dict[str, Any]
) -> dict[str, Any]:
    """Server-side apply, approximated as a three-way strategic merge for one field manager.

    Fields the manager applied last time but no longer applies are removed; the rest of the live
    object (other managers' fields, status) is kept; then the applied configuration is merged in.
    """
    base = copy.deepcopy(live) if live else {}
    if last_applied:
        base = _remove_dropped(base, last_applied, applied, "")
    return strategic_merge(base, applied)


def _remove_dropped(live: Any, previous: Any, current: Any, field: str) -> Any:
    if isinstance(previous, dict) and isinstance(live, dict):
        current = current if isinstance(current, dict) else {}
        result = dict(live)
        for key, old in previous.items():
            if key not in current:
                result.pop(key, None)
            elif key in result:
                result[key] = _remove_dropped(result[key], old, current[key], key)
        return result
    if isinstance(previous, list) and isinstance(live, list):
        key = _merge_key(field, previous + live)
        if key is None or not isinstance(current, list):
            return live
        kept_keys = {item.get(key) for item in current if isinstance(item, dict)}
        kept: list[Any] = []
        for item in live:
            old = next((p for p in previous if isinstance(p, dict) and p.get(key) == item.get(key)), None)
            if old is not None and item.get(key) not in kept_keys:
                continue
            new = next((c for c in current if isinstance(c, dict) and c.get(key) == item.get(key)), None)
            kept.append(_remove_dropped(item, old, new, field) if old is not None else item)
        return kept
    return live
