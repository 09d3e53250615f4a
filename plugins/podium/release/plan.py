"""Pure release logic used at run time: desired documents, snapshots, what changed, the report table."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from podium.kube.known_good import RollbackTarget, rollback_target
from podium.kube.revisions import history, history_name, images_of, revision_of
from podium.kube.revisions import revision_named as revision_named
from podium.kube.revisions import version_of as version_of

Obj = dict[str, Any]
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")


def set_images(doc: Obj, images: Mapping[str, str]) -> Obj:
    """A copy of workload ``doc`` whose containers (and init containers) named in ``images`` run them.

    Raises KeyError naming containers the workload does not have.
    """
    result = copy.deepcopy(doc)
    spec = ((result.setdefault("spec", {}).setdefault("template", {})).setdefault("spec", {})) or {}
    seen: set[str] = set()
    for field in ("containers", "initContainers"):
        for container in spec.get(field) or []:
            if container.get("name") in images:
                container["image"] = images[container["name"]]
                seen.add(container["name"])
    missing = sorted(set(images) - seen)
    if missing:
        names = sorted(c.get("name", "") for c in spec.get("containers") or [])
        raise KeyError(
            f"{doc.get('kind', '').lower()}/{(doc.get('metadata') or {}).get('name')} has no container "
            f"named {', '.join(missing)} (containers: {', '.join(names)})"
        )
    return result


def target_workload(documents: Sequence[Obj], origin: str) -> Obj:
    """The one Deployment/StatefulSet/DaemonSet of a service's manifests."""
    found = [d for d in documents if d.get("kind") in WORKLOAD_KINDS]
    if len(found) != 1:
        listed = ", ".join(f"{d['kind'].lower()}/{d['metadata']['name']}" for d in found) or "none"
        raise ValueError(
            f"{origin} must hold exactly one Deployment, StatefulSet or DaemonSet (found: {listed})"
        )
    return found[0]


def desired_documents(
    documents: Sequence[Obj], images: Mapping[str, str], replicas: int | None, origin: str
) -> list[Obj]:
    """The service's manifests with the release's images (and replicas) set on its workload."""
    target = target_workload(documents, origin)
    result = []
    for doc in documents:
        if doc is target:
            doc = set_images(doc, images)
            if replicas is not None:
                doc["spec"]["replicas"] = replicas
        result.append(doc)
    return result


def snapshot(
    workload: Mapping[str, Any] | None, history_objects: Iterable[Mapping[str, Any]], *, now: str
) -> Obj:
    """What a service runs before the release, enough to know later whether the release changed it,
    and its rollback target (:func:`podium.kube.known_good.rollback_target`, as a dict): what the
    release's rollback returns it to."""
    if workload is None:
        target = RollbackTarget(None, exists=False)
        return {"exists": False, "images": {}, "history": None, "revision": None, "target": target.as_dict()}
    objects = list(history_objects)
    return {
        "exists": True,
        "images": images_of(workload),
        "history": history_name(workload, objects),
        "revision": revision_of(workload)
        if workload.get("kind") == "Deployment"
        else max(history(workload, objects), default=None),
        "target": rollback_target(workload, objects, now=now).as_dict(),
    }


def report_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """A fixed-width table: service, from, to, result, duration."""
    header = ("service", "from", "to", "result", "duration")
    body = [
        (
            str(r["service"]),
            str(r["from"]),
            str(r["to"]),
            str(r["result"]),
            "-" if r.get("duration") is None else f"{float(r['duration']):.1f}s",
        )
        for r in rows
    ]
    widths = [max(len(h), *(len(row[i]) for row in body)) if body else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in body]
    return "\n".join(lines)
