"""Kubernetes actions shared by the operators: read a workload's history, roll it back
(`kubectl rollout undo`, to a revision number or to a version by name), record its last known good
version, load manifests given as objects, YAML text or files under include/."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from podium.exceptions import PermanentError
from podium.kube.workloads import (
    HISTORY_KIND,
    PREVIOUS_REVISION,
    ROLLBACK_TARGET,
    ROLLOUT_ID,
    WORKLOAD_API,
    match_selector,
)

if TYPE_CHECKING:
    from podium.hooks.kubernetes import PodiumKubernetesHook
    from podium.kube.known_good import RollbackTarget, Version


def workload_history(hook: PodiumKubernetesHook, workload: dict[str, Any]) -> list[dict[str, Any]]:
    """The ReplicaSets (Deployment) or ControllerRevisions (StatefulSet, DaemonSet) of ``workload``."""
    kind = HISTORY_KIND[workload["kind"]]
    items = hook.list("apps/v1", kind, workload["metadata"]["namespace"], match_selector(workload))
    for item in items:
        item.setdefault("kind", kind)
    return items


def rollback_workload(
    hook: PodiumKubernetesHook, workload: dict[str, Any], to_revision: int | None, log: Any
) -> int:
    """`kubectl rollout undo` for Deployments, StatefulSets and DaemonSets; returns the revision."""
    from podium.kube.revisions import (
        current_revision,
        history,
        rollback_patch,
        same_template,
        template_of,
        undo_target,
    )

    kind, meta = workload["kind"], workload["metadata"]
    objects = workload_history(hook, workload)
    revisions = history(workload, objects)
    current = current_revision(workload, objects) or 0
    try:
        target = undo_target(revisions, current, to_revision or 0)
    except LookupError as error:
        raise PermanentError(f"cannot roll back {kind.lower()}/{meta['name']}: {error}") from error
    template = template_of(revisions[target])
    if same_template(template, (workload.get("spec") or {}).get("template") or {}):
        log.info(
            "%s/%s already runs the template of revision %s: nothing to roll back",
            kind.lower(),
            meta["name"],
            target,
        )
    else:
        log.info("rolling %s/%s back to revision %s", kind.lower(), meta["name"], target)
        hook.patch(
            WORKLOAD_API[kind],
            kind,
            meta["name"],
            meta["namespace"],
            rollback_patch(template),
            content_type="application/json-patch+json",
        )
    if kind == "StatefulSet":
        _delete_unready_pods(hook, workload, revisions[target]["metadata"]["name"], log)
    return target


def rollback_to_version(
    hook: PodiumKubernetesHook, workload: dict[str, Any], version: Version, log: Any
) -> int:
    """Roll back to ``version`` (found by its ReplicaSet/ControllerRevision name, whatever its revision
    number is now); returns that number. A version no longer in the history is a PermanentError."""
    from podium.kube.revisions import revision_named

    number = revision_named(workload, workload_history(hook, workload), version.name)
    if number is None:
        raise PermanentError(
            f"cannot roll back {workload['kind'].lower()}/{workload['metadata']['name']}: "
            f"{version.text()} is no longer in its history"
        )
    return rollback_workload(hook, workload, number, log)


def run_rollback_target(
    hook: PodiumKubernetesHook, live: dict[str, Any] | None, rollout_id: str, what: str, log: Any
) -> tuple[RollbackTarget, dict[str, str]]:
    """The rollback target of the run ``rollout_id`` and the annotations that keep it for its retries:
    decided on the first try, before anything changes (a run that starts on an unfinished change
    says so first); read back from the workload on a retry."""
    import datetime as dt

    from podium.kube.known_good import encode, recorded_target, rollback_target, target_of_revision, timestamp

    annotations = ((live or {}).get("metadata") or {}).get("annotations") or {}
    if live is not None and annotations.get(ROLLOUT_ID) == rollout_id:
        previous = annotations.get(PREVIOUS_REVISION) or ""
        target = recorded_target(live) or target_of_revision(
            live, workload_history(hook, live), int(previous) if previous.isdigit() else None
        )
        log.info(
            "resuming rollout %s of %s; rollback target recorded on its first try: %s",
            rollout_id,
            what,
            target.describe(),
        )
        recorded = annotations.get(ROLLBACK_TARGET) or encode(target.as_dict())
        return target, {ROLLOUT_ID: rollout_id, PREVIOUS_REVISION: previous, ROLLBACK_TARGET: recorded}
    history = workload_history(hook, live) if live else []
    target = rollback_target(live, history, now=timestamp(dt.datetime.now(dt.UTC)))
    if target.unfinished:
        log.warning("%s: %s", what, target.unfinished_text())
    log.info("%s: rollback target: %s", what, target.describe())
    marks = {
        ROLLOUT_ID: rollout_id,
        PREVIOUS_REVISION: str(target.version.revision) if target.version else "",
        ROLLBACK_TARGET: encode(target.as_dict()),
    }
    return target, marks


def carried_target(hook: PodiumKubernetesHook, live: dict[str, Any], carry: dict[str, Any]) -> RollbackTarget:
    """The rollback target a rollout wait carried (a wait started before podium kept versions carries
    only the revision number)."""
    from podium.kube.known_good import RollbackTarget, target_of_revision

    if carry.get("rollback_target"):
        return RollbackTarget.from_dict(carry["rollback_target"])
    return target_of_revision(live, workload_history(hook, live), carry.get("previous_revision"))


def record_known_good(
    hook: PodiumKubernetesHook, workload: dict[str, Any], rollout: str | None, log: Any
) -> Version | None:
    """Record the workload's current version as its last known good (annotation
    ``podium.dev/last-known-good``), if it is fully rolled out; metadata only, so no rollout starts."""
    import datetime as dt

    from podium.kube.known_good import healthy_version, known_good_patch, timestamp

    kind, meta = workload["kind"], workload["metadata"]
    what = f"{kind.lower()}/{meta['name']}"
    now = timestamp(dt.datetime.now(dt.UTC))
    version = healthy_version(workload, workload_history(hook, workload), now=now, rollout=rollout)
    if version is None:
        log.warning("%s is not fully rolled out now: its last known good version is left as it was", what)
        return None
    hook.patch(
        WORKLOAD_API[kind],
        kind,
        meta["name"],
        meta["namespace"],
        known_good_patch(version),
        content_type="application/merge-patch+json",
    )
    log.info("%s: recorded %s as its last known good version (healthy at %s)", what, version.text(), now)
    return version


def _delete_unready_pods(
    hook: PodiumKubernetesHook, statefulset: dict[str, Any], keep: str, log: Any
) -> None:
    """A StatefulSet never replaces a pod that is not Ready; Kubernetes' documented fix for a broken
    update is to delete those pods once the template is reverted (a "forced rollback"). Every pod that
    is not Ready and not of the revision rolled back to (``keep``) goes: the failed revision's, and
    those of an unfinished change the failed one was started on."""
    from podium.kube.revisions import owned_by

    meta = statefulset["metadata"]
    pods = hook.list("v1", "Pod", meta["namespace"], match_selector(statefulset))
    for pod in owned_by(statefulset, pods):
        labels = pod["metadata"].get("labels") or {}
        ready = any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in (pod.get("status") or {}).get("conditions") or []
        )
        if not ready and labels.get("controller-revision-hash") != keep:
            log.info("deleting pod %s of the failed revision", pod["metadata"]["name"])
            hook.delete("v1", "Pod", pod["metadata"]["name"], meta["namespace"])


def load_manifest(manifest: Any, render: Callable[[str], str]) -> list[dict[str, Any]]:
    """Manifest documents from a dict, list, YAML text or a path relative to include/.

    A file's text goes through ``render`` first (an operator passes its Jinja rendering with the task
    context).
    """
    from podium.kube.manifests import ManifestError, parse_manifests
    from podium.settings import include_dir

    origin = "manifest"
    if isinstance(manifest, str) and "\n" not in manifest and manifest.endswith((".yaml", ".yml")):
        path = Path(manifest) if Path(manifest).is_absolute() else include_dir() / manifest
        if not path.is_file():
            raise PermanentError(f"manifest file {path} does not exist")
        origin = str(path)
        manifest = render(path.read_text())
    try:
        return parse_manifests(manifest, origin=origin)
    except ManifestError as error:
        raise PermanentError(str(error)) from error
