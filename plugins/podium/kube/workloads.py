"""Workload references: ``deployment/web`` -> kind and name, the API version of each kind, the kind
that holds its history, the label selector of its pods, and podium's bookkeeping annotations."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

WORKLOAD_API = {"Deployment": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1"}
HISTORY_KIND = {
    "Deployment": "ReplicaSet",
    "StatefulSet": "ControllerRevision",
    "DaemonSet": "ControllerRevision",
}
# podium's annotations on a workload it rolls out: which run rolls it, the revision number and the
# version (JSON, podium.kube.known_good) a failure of that run returns to, and the version last
# verified fully rolled out and healthy (JSON). All on metadata: writing them starts no rollout.
ROLLOUT_ID = "podium.dev/rollout-id"
PREVIOUS_REVISION = "podium.dev/previous-revision"
ROLLBACK_TARGET = "podium.dev/rollback-target"
LAST_KNOWN_GOOD = "podium.dev/last-known-good"

_ALIASES = {
    "deployment": "Deployment",
    "deployments": "Deployment",
    "deploy": "Deployment",
    "statefulset": "StatefulSet",
    "statefulsets": "StatefulSet",
    "sts": "StatefulSet",
    "daemonset": "DaemonSet",
    "daemonsets": "DaemonSet",
    "ds": "DaemonSet",
}


def parse_workload(workload: str) -> tuple[str, str]:
    """``deployment/web`` (or ``deploy/web``, ``sts/db``, ``ds/agent``) -> (kind, name)."""
    kind, _, name = workload.partition("/")
    if kind.lower() not in _ALIASES or not name:
        raise ValueError(
            f"workload must look like deployment/NAME, statefulset/NAME or daemonset/NAME, got {workload!r}"
        )
    return _ALIASES[kind.lower()], name


def workload_text(kind: str, name: str, namespace: str | None = None) -> str:
    """``deployment/web in namespace shop``: how messages name a workload."""
    return f"{kind.lower()}/{name}" + (f" in namespace {namespace}" if namespace else "")


def match_selector(workload: Mapping[str, Any]) -> str | None:
    """The label selector text of a workload's ``spec.selector.matchLabels`` (None when it has none)."""
    match = ((workload.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(match.items())) or None
