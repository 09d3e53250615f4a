"""The simulated ReplicaSet controller: pods up to spec.replicas, the surplus removed, status counts,
and the ReplicaFailure condition while pods cannot be created (a quota refuses them)."""

from __future__ import annotations

import uuid
from typing import Any

from kubesim.clock import parse_time
from kubesim.controllers import Controllers
from kubesim.workloads import HASH_LABEL, pod_is_active, pod_is_ready

Obj = dict[str, Any]
COMPONENT = "replicaset-controller"


class ReplicaSetController(Controllers):
    def sync_replicaset(self, rs: Obj) -> None:
        want = int(rs["spec"].get("replicas", 1))
        pods = [p for p in self.store.owned_by(rs, "/pods") if pod_is_active(p)]
        error = None
        if len(pods) < want:
            error = self._scale_up(rs, want - len(pods))
        else:
            self.pods_created(rs)
            if len(pods) > want:
                self._scale_down(rs, pods, want)
        pods = [p for p in self.store.owned_by(rs, "/pods") if pod_is_active(p)]
        ready = sum(1 for p in pods if pod_is_ready(p))
        status: Obj = {
            "replicas": len(pods),
            "fullyLabeledReplicas": len(pods),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "observedGeneration": rs["metadata"].get("generation", 1),
        }
        conditions = _failure_conditions(rs, error, self.clock.iso())
        if conditions:
            status["conditions"] = conditions
        self.write_status("apps/replicasets", rs, status)

    def _scale_up(self, rs: Obj, missing: int) -> str | None:
        """Create ``missing`` pods, stopping at the first refusal; the refusal (also while its retry is not
        yet due), or None when all were created."""
        waiting = self.backing_off(rs)
        if waiting is not None:
            return waiting
        template = rs["spec"].get("template") or {}
        pod_hash = rs["metadata"].get("labels", {}).get(HASH_LABEL, "")
        labels = {HASH_LABEL: pod_hash} if pod_hash else {}
        for _ in range(missing):
            name = f"{rs['metadata']['name']}-{uuid.uuid4().hex[:5]}"
            if self.create_pod(rs, "ReplicaSet", template, name, labels, COMPONENT) is None:
                return self.creation_failure(rs)
            self.record(rs, "ReplicaSet", "Normal", "SuccessfulCreate", f"Created pod: {name}", COMPONENT)
        self.pods_created(rs)
        return None

    def _scale_down(self, rs: Obj, pods: list[Obj], want: int) -> None:
        # not-ready pods go first, then the newest
        victims = sorted(pods, key=lambda p: (pod_is_ready(p), _neg_time(p)))
        for pod in victims[: len(pods) - want]:
            self.store.delete("/pods", pod["metadata"]["namespace"], pod["metadata"]["name"])
            self.record(
                rs,
                "ReplicaSet",
                "Normal",
                "SuccessfulDelete",
                f"Deleted pod: {pod['metadata']['name']}",
                COMPONENT,
            )


def _failure_conditions(rs: Obj, error: str | None, now: str) -> list[Obj]:
    """The ReplicaSet's conditions after a sync, as replica_set_utils.go's calculateStatus has them: a
    ReplicaFailure condition is added on the first failed sync (and keeps its first message), and
    removed by the first sync without one."""
    conditions = list((rs.get("status") or {}).get("conditions") or [])
    failure = next((c for c in conditions if c.get("type") == "ReplicaFailure"), None)
    if error is not None and failure is None:
        conditions.append(
            {
                "type": "ReplicaFailure",
                "status": "True",
                "lastTransitionTime": now,
                "reason": "FailedCreate",
                "message": error,
            }
        )
    elif error is None and failure is not None:
        conditions.remove(failure)
    return conditions


def _neg_time(pod: Obj) -> float:
    return -parse_time(pod["metadata"]["creationTimestamp"]).timestamp()
