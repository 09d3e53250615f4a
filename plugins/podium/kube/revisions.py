"""Rollout revisions: which ReplicaSet or ControllerRevision is which revision (by number and by its
stable name), what undo sends, and the short version text of a set of images."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

Obj = dict[str, Any]
REVISION = "deployment.kubernetes.io/revision"
HASH_LABEL = "pod-template-hash"


def revision_of(obj: Mapping[str, Any]) -> int:
    """The revision of a Deployment or ReplicaSet (annotation) or a ControllerRevision (field)."""
    if obj.get("kind") == "ControllerRevision" or "revision" in obj:
        return int(obj.get("revision") or 0)
    try:
        return int(((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION, 0))
    except (TypeError, ValueError):
        return 0


def owned_by(owner: Mapping[str, Any], objects: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    uid = owner["metadata"].get("uid")
    return [
        o
        for o in objects
        if any(ref.get("uid") == uid for ref in (o.get("metadata") or {}).get("ownerReferences") or [])
    ]


def history(
    owner: Mapping[str, Any], candidates: Iterable[Mapping[str, Any]]
) -> dict[int, Mapping[str, Any]]:
    """Revision number -> ReplicaSet/ControllerRevision, for the history objects of ``owner``."""
    return {revision_of(o): o for o in owned_by(owner, candidates) if revision_of(o) > 0}


def undo_target(revisions: Iterable[int], current: int, to_revision: int = 0) -> int:
    """`kubectl rollout undo` semantics: ``to_revision`` 0 means the newest revision before ``current``."""
    known = sorted(set(revisions))
    if to_revision:
        if to_revision not in known:
            raise LookupError(f"unable to find specified revision {to_revision} in history")
        return to_revision
    earlier = [r for r in known if r < current] or [r for r in known if r != current]
    if not earlier:
        raise LookupError("no rollout history found: nothing to roll back to")
    return max(earlier)


def template_of(history_object: Mapping[str, Any]) -> Obj:
    """The pod template a ReplicaSet or ControllerRevision records, as it goes back into the workload."""
    if history_object.get("kind") == "ControllerRevision" or "data" in history_object:
        template = copy.deepcopy(((history_object.get("data") or {}).get("spec") or {}).get("template") or {})
        template.pop("$patch", None)
        return template
    template = copy.deepcopy((history_object.get("spec") or {}).get("template") or {})
    labels = (template.get("metadata") or {}).get("labels") or {}
    labels.pop(HASH_LABEL, None)
    return template


def rollback_patch(template: Mapping[str, Any]) -> list[Obj]:
    """The JSON patch `kubectl rollout undo` sends: replace the pod template."""
    return [{"op": "replace", "path": "/spec/template", "value": copy.deepcopy(dict(template))}]


def images_of(workload: Mapping[str, Any]) -> dict[str, str]:
    spec = ((workload.get("spec") or {}).get("template") or {}).get("spec") or {}
    return {c.get("name", ""): c.get("image", "") for c in spec.get("containers") or []}


def images_patch(workload: Mapping[str, Any], images: Mapping[str, str]) -> Obj:
    """A strategic-merge patch that sets container images (as `kubectl set image` does)."""
    known = images_of(workload)
    init = {
        c.get("name")
        for c in (((workload.get("spec") or {}).get("template") or {}).get("spec") or {}).get(
            "initContainers"
        )
        or []
    }
    unknown = sorted(set(images) - set(known) - init)
    if unknown:
        raise KeyError(f"no container named {', '.join(unknown)} (containers: {', '.join(sorted(known))})")
    containers = [{"name": n, "image": i} for n, i in images.items() if n in known]
    init_containers = [{"name": n, "image": i} for n, i in images.items() if n in init]
    spec: Obj = {}
    if containers:
        spec["containers"] = containers
    if init_containers:
        spec["initContainers"] = init_containers
    return {"spec": {"template": {"spec": spec}}}


def new_replicaset(
    deployment: Mapping[str, Any], history_objects: Iterable[Mapping[str, Any]]
) -> Mapping[str, Any] | None:
    """The ReplicaSet of a Deployment's current revision (None until the controller made it)."""
    current = revision_of(deployment)
    return next((o for o in owned_by(deployment, history_objects) if revision_of(o) == current), None)


def new_revision_selector(
    workload: Mapping[str, Any], history_objects: Iterable[Mapping[str, Any]]
) -> str | None:
    """The label selector of the pods of the workload's newest revision (None until it exists).

    Deployment: its ReplicaSet of the current revision (pod-template-hash); StatefulSet: the
    updateRevision; DaemonSet: its newest ControllerRevision. Built from spec.selector.matchLabels.
    """
    kind = workload.get("kind")
    match = dict(((workload.get("spec") or {}).get("selector") or {}).get("matchLabels") or {})
    if kind == "Deployment":
        new = new_replicaset(workload, history_objects)
        pod_hash = ((new or {}).get("metadata") or {}).get("labels", {}).get(HASH_LABEL) if new else None
        if not pod_hash:
            return None
        match[HASH_LABEL] = pod_hash
    elif kind == "StatefulSet":
        update = (workload.get("status") or {}).get("updateRevision")
        if not update:
            return None
        match["controller-revision-hash"] = update
    elif kind == "DaemonSet":
        revisions = history(workload, history_objects)
        if not revisions:
            return None
        match["controller-revision-hash"] = revisions[max(revisions)]["metadata"]["name"].rsplit("-", 1)[-1]
    else:
        return None
    return ",".join(f"{key}={value}" for key, value in sorted(match.items()))


def _prune(value: Any) -> Any:
    if isinstance(value, dict):
        pruned = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v not in (None, {}, [], "")}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def same_template(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two pod templates are the same once empty fields and controller labels are ignored."""

    def normal(given: Mapping[str, Any]) -> Any:
        template = copy.deepcopy(dict(given or {}))
        meta = dict(template.get("metadata") or {})
        meta.pop("creationTimestamp", None)
        labels = {
            k: v
            for k, v in (meta.get("labels") or {}).items()
            if k not in (HASH_LABEL, "controller-revision-hash")
        }
        meta["labels"] = labels
        template["metadata"] = meta
        return _prune(template)

    return bool(normal(a) == normal(b))


def current_revision(workload: Mapping[str, Any], history_objects: Iterable[Mapping[str, Any]]) -> int | None:
    """The revision the workload is rolling to (or at): None when it has no history yet."""
    kind = workload.get("kind")
    if kind == "Deployment":
        return revision_of(workload) or None
    revisions = history(workload, history_objects)
    if kind == "StatefulSet":
        update = (workload.get("status") or {}).get("updateRevision")
        named = [number for number, obj in revisions.items() if obj["metadata"]["name"] == update]
        if named:
            return named[0]
    return max(revisions) if revisions else None


def history_name(workload: Mapping[str, Any], history_objects: Iterable[Mapping[str, Any]]) -> str | None:
    """The name of the ReplicaSet/ControllerRevision that holds the workload's current template.

    Unlike revision numbers (a rollback renumbers the revision it returns to), these names are stable,
    so they identify "the template that was live before the release" across rollbacks.
    """
    revisions = history(workload, history_objects)
    if not revisions:
        return None
    kind = workload.get("kind")
    if kind == "Deployment":
        current = revision_of(workload)
        obj = revisions.get(current)
        return obj["metadata"]["name"] if obj else None
    if kind == "StatefulSet":
        update = (workload.get("status") or {}).get("updateRevision")
        if update:
            return str(update)
    return str(revisions[max(revisions)]["metadata"]["name"])


def revision_named(
    workload: Mapping[str, Any], history_objects: Iterable[Mapping[str, Any]], name: str
) -> int | None:
    """The current revision number of the history object called ``name`` (None if it is gone)."""
    for number, obj in history(workload, history_objects).items():
        if obj["metadata"]["name"] == name:
            return number
    return None


def version_of(images: Mapping[str, str]) -> str:
    """A short version text for a service: the tag(s) its containers run ("-" when none)."""
    tags = sorted(
        {
            image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else "latest"
            for image in images.values()
        }
    )
    return ",".join(tags) or "-"
