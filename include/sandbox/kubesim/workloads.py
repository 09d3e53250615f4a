"""Shared workload helpers: template hashing and comparison, pod fates, int-or-percent values."""

from __future__ import annotations

import copy
import hashlib
import json
import math
from typing import Any

Obj = dict[str, Any]

REVISION = "deployment.kubernetes.io/revision"
CHANGE_CAUSE = "kubernetes.io/change-cause"
HASH_LABEL = "pod-template-hash"
READY_DELAY = "sandbox.podium.dev/ready-delay"
_SAFE = "bcdfghjklmnpqrstvwxz2456789"


def prune(value: Any) -> Any:
    """Drop empty values, as Go's omitempty does, so templates compare as the API server sees them."""
    if isinstance(value, dict):
        pruned = {k: prune(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v not in (None, {}, [], "")}
    if isinstance(value, list):
        return [prune(v) for v in value]
    return value


def normalized_template(template: Obj) -> Obj:
    """A pod template without the fields controllers add (pod-template-hash) or clients echo back."""
    template = copy.deepcopy(template or {})
    meta = template.get("metadata") or {}
    meta.pop("creationTimestamp", None)
    labels = dict(meta.get("labels") or {})
    labels.pop(HASH_LABEL, None)
    labels.pop("controller-revision-hash", None)
    meta["labels"] = labels
    template["metadata"] = meta
    return prune(template)


def template_hash(template: Obj) -> str:
    digest = hashlib.sha256(json.dumps(normalized_template(template), sort_keys=True).encode()).digest()
    number = int.from_bytes(digest[:8], "big")
    chars = []
    for _ in range(10):
        number, index = divmod(number, len(_SAFE))
        chars.append(_SAFE[index])
    return "".join(chars)


def int_or_percent(value: Any, total: int, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        share = total * float(value[:-1]) / 100
        return math.ceil(share) if round_up else math.floor(share)
    return int(value or 0)


def image_fate(image: str, marked: dict[str, str]) -> str:
    """What happens to a container of this image: ok, crash, nopull or fail (for Job pods)."""
    if image in marked:
        return marked[image]
    tag = image.rsplit("/", 1)[-1].split("@", 1)[0]
    tag = tag.split(":", 1)[1] if ":" in tag else ""
    for fate in ("crash", "nopull", "fail"):
        if tag.endswith(f"-{fate}"):
            return fate
    return "ok"


def revision_of(obj: Obj) -> int:
    try:
        return int((obj["metadata"].get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def owner_reference(owner: Obj, api_version: str, kind: str) -> Obj:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def pod_is_ready(pod: Obj) -> bool:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return condition.get("status") == "True"
    return False


def pod_is_active(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
