"""Kubernetes actions shared by the operators: read a workload's history, roll it back
(`kubectl rollout undo`), load manifests given as objects, YAML text or files under include/."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from podium.exceptions import PermanentError
from podium.kube.workloads import HISTORY_KIND, WORKLOAD_API, match_selector

if TYPE_CHECKING:
    from podium.hooks.kubernetes import PodiumKubernetesHook


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
        return target
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
        _delete_unready_pods(hook, workload, log)
    return target


def _delete_unready_pods(hook: PodiumKubernetesHook, statefulset: dict[str, Any], log: Any) -> None:
    """A StatefulSet never replaces a pod that is not Ready; Kubernetes' documented fix for a broken
    update is to delete those pods once the template is reverted (a "forced rollback")."""
    meta = statefulset["metadata"]
    bad = (statefulset.get("status") or {}).get("updateRevision")
    for pod in hook.list("v1", "Pod", meta["namespace"], f"controller-revision-hash={bad}") if bad else []:
        ready = any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in (pod.get("status") or {}).get("conditions") or []
        )
        if not ready:
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
