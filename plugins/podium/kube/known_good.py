"""Last known good: the version of a workload last verified fully rolled out and healthy, and the
rollback target a run decides from it before it changes anything.

A version is named by its ReplicaSet (Deployment) or ControllerRevision (StatefulSet, DaemonSet):
rollbacks renumber revisions, names stay. Every successful rollout or rollback records the version it
made healthy in the workload's annotation ``podium.dev/last-known-good`` (JSON, see
:meth:`Version.as_dict`); that is metadata only, so writing it starts no rollout.

The rollback target of a run (:func:`rollback_target`): the version running when it starts if that
is fully rolled out and healthy; otherwise the last known good version; none when nothing was ever
healthy (a first rollout). Plain data in, plain data out.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from podium.kube.revisions import (
    history,
    history_name,
    images_of,
    revision_named,
    template_of,
    version_of,
)
from podium.kube.status import workload_verdict
from podium.kube.workloads import HISTORY_KIND, LAST_KNOWN_GOOD, ROLLBACK_TARGET

Obj = dict[str, Any]


def timestamp(moment: dt.datetime) -> str:
    """``2026-12-02T06:40:12Z``: how podium writes the time a version was verified healthy."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def encode(data: Mapping[str, Any]) -> str:
    """Compact, key-sorted JSON: the same record always gives the same annotation text."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class Version:
    """One version of a workload: the ReplicaSet or ControllerRevision holding its pod template, its
    revision number when it was seen, its images, and when (and by which run) it was verified healthy."""

    kind: str
    name: str
    revision: int
    images: Mapping[str, str]
    healthy_at: str | None = None
    rollout: str | None = None

    @property
    def tag(self) -> str:
        """The short version text (the image tags), e.g. ``1.0``."""
        return version_of(self.images)

    def text(self) -> str:
        """``1.0 (replicaset web-7d9c, revision 1)``."""
        return f"{self.tag} ({self.kind.lower()} {self.name}, revision {self.revision})"

    def as_dict(self) -> Obj:
        data: Obj = {
            "kind": self.kind,
            "name": self.name,
            "revision": self.revision,
            "images": dict(self.images),
        }
        if self.healthy_at:
            data["healthy_at"] = self.healthy_at
        if self.rollout:
            data["rollout"] = self.rollout
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Version:
        return cls(
            kind=str(data["kind"]),
            name=str(data["name"]),
            revision=int(data.get("revision") or 0),
            images={str(k): str(v) for k, v in (data.get("images") or {}).items()},
            healthy_at=data.get("healthy_at") or None,
            rollout=data.get("rollout") or None,
        )


@dataclass(frozen=True)
class RollbackTarget:
    """Where a failure of a run returns the workload to, decided before the run changes anything.

    ``version``: the target (None: nothing to return to); ``current``: what ran when the run started
    (None: no workload, or no history yet); ``unfinished``: the current version was not fully rolled
    out and healthy then, ``status`` saying where its rollout stood (kubectl's words); ``exists``:
    whether the workload existed; ``gone``: the last known good version whose history object was
    pruned since (so it cannot be returned to).
    """

    version: Version | None
    current: Version | None = None
    unfinished: bool = False
    status: str = ""
    exists: bool = True
    gone: Version | None = None

    @property
    def first_rollout(self) -> bool:
        return not self.exists

    def reason(self) -> str:
        """Why the target is what it is, e.g. ``1.1 was not fully rolled out when this run started``."""
        if not self.exists:
            return "first rollout"
        current = self.current.tag if self.current else "its newest version"
        if not self.unfinished:
            return f"{current} was fully rolled out when this run started"
        text = f"{current} was not fully rolled out when this run started"
        if self.gone is not None:
            return f"{text} and its last known good version {self.gone.text()} is gone from its history"
        if self.version is None:
            return f"{text} and no version of it was ever recorded healthy"
        if self.current is not None and self.version.name == self.current.name:
            return f"{text}, but it is the last version recorded healthy"
        return text

    def describe(self, revision: int | None = None) -> str:
        """``1.1 was not fully rolled out when this run started: returning to 1.0 (replicaset web-7d9c,
        revision 1), last healthy at 2026-12-02T06:40:12Z``; ``revision``: the target's number now."""
        if self.version is None:
            return f"{self.reason()}: nothing to roll back to"
        version = self.version if revision is None else replace(self.version, revision=revision)
        when = f", last healthy at {version.healthy_at}" if version.healthy_at else ""
        return f"{self.reason()}: returning to {version.text()}{when}"

    def nothing_to_roll_back_to(self) -> str:
        """The end of a failed rollout's message when there is no version to return to."""
        if self.first_rollout:
            return "Nothing to roll back to (first rollout)."
        return f"Nothing to roll back to: {self.reason()}."

    def unfinished_text(self) -> str:
        """What a run that starts on an unfinished change logs before it changes anything."""
        current = self.current.text() if self.current else "its newest version"
        return f"this run starts on an unfinished change: {current} is not fully rolled out ({self.status})"

    def as_dict(self) -> Obj:
        return {
            "version": self.version.as_dict() if self.version else None,
            "current": self.current.as_dict() if self.current else None,
            "unfinished": self.unfinished,
            "status": self.status,
            "exists": self.exists,
            "gone": self.gone.as_dict() if self.gone else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RollbackTarget:
        def version(key: str) -> Version | None:
            return Version.from_dict(data[key]) if data.get(key) else None

        return cls(
            version=version("version"),
            current=version("current"),
            unfinished=bool(data.get("unfinished")),
            status=str(data.get("status") or ""),
            exists=bool(data.get("exists", True)),
            gone=version("gone"),
        )


def _history_version(workload: Mapping[str, Any], number: int, obj: Mapping[str, Any]) -> Version:
    images = images_of({"spec": {"template": template_of(obj)}})
    return Version(HISTORY_KIND[str(workload.get("kind"))], obj["metadata"]["name"], number, images)


def current_version(
    workload: Mapping[str, Any], history_objects: Iterable[Mapping[str, Any]]
) -> Version | None:
    """The version the workload runs or rolls to: its ReplicaSet/ControllerRevision (None until the
    controller made it), with the images of that object's template."""
    objects = list(history_objects)
    name = history_name(workload, objects)
    for number, obj in history(workload, objects).items():
        if obj["metadata"]["name"] == name:
            return _history_version(workload, number, obj)
    return None


def known_good(workload: Mapping[str, Any]) -> Version | None:
    """The version recorded in the workload's ``podium.dev/last-known-good`` (None: none, or unreadable)."""
    text = ((workload.get("metadata") or {}).get("annotations") or {}).get(LAST_KNOWN_GOOD)
    try:
        return Version.from_dict(json.loads(text)) if text else None
    except (TypeError, ValueError, KeyError, AttributeError):
        return None


def healthy_version(
    workload: Mapping[str, Any],
    history_objects: Iterable[Mapping[str, Any]],
    *,
    now: str,
    rollout: str | None = None,
) -> Version | None:
    """The workload's current version stamped healthy at ``now``, if it is fully rolled out (kubectl's
    verdict: complete); None otherwise."""
    if workload_verdict(workload).state != "complete":
        return None
    current = current_version(workload, history_objects)
    return replace(current, healthy_at=now, rollout=rollout) if current else None


def rollback_target(
    workload: Mapping[str, Any] | None, history_objects: Iterable[Mapping[str, Any]], *, now: str
) -> RollbackTarget:
    """The version a failure of a run starting now returns to (see the module's docstring)."""
    if workload is None:
        return RollbackTarget(None, exists=False)
    objects = list(history_objects)
    current = current_version(workload, objects)
    verdict = workload_verdict(workload)
    if verdict.state == "complete" and current is not None:
        return RollbackTarget(replace(current, healthy_at=now), current, status=verdict.message)
    known = known_good(workload)
    number = revision_named(workload, objects, known.name) if known else None
    if known is not None and number is None:
        return RollbackTarget(None, current, unfinished=True, status=verdict.message, gone=known)
    target = replace(known, revision=number) if known is not None and number is not None else None
    return RollbackTarget(target, current, unfinished=True, status=verdict.message)


def recorded_target(workload: Mapping[str, Any]) -> RollbackTarget | None:
    """The rollback target a run recorded on its first try (``podium.dev/rollback-target``)."""
    text = ((workload.get("metadata") or {}).get("annotations") or {}).get(ROLLBACK_TARGET)
    try:
        return RollbackTarget.from_dict(json.loads(text)) if text else None
    except (TypeError, ValueError, KeyError, AttributeError):
        return None


def target_of_revision(
    workload: Mapping[str, Any], history_objects: Iterable[Mapping[str, Any]], revision: int | None
) -> RollbackTarget:
    """A rollback target from a bare revision number, as runs recorded it before podium kept versions
    (``podium.dev/previous-revision``)."""
    objects = history(workload, history_objects)
    if not revision or revision not in objects:
        return RollbackTarget(None, exists=False)
    return RollbackTarget(_history_version(workload, revision, objects[revision]))


def known_good_patch(version: Version) -> Obj:
    """The merge patch that records ``version`` as the workload's last known good (metadata only)."""
    return {"metadata": {"annotations": {LAST_KNOWN_GOOD: encode(version.as_dict())}}}
