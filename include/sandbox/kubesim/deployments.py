"""The simulated Deployment controller: ReplicaSets per template, rolling and Recreate updates,
revisions and history, and the status conditions `kubectl rollout status` reads."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from kubesim.clock import parse_time
from kubesim.controllers import Controllers
from kubesim.workloads import (
    CHANGE_CAUSE,
    HASH_LABEL,
    REVISION,
    int_or_percent,
    owner_reference,
    revision_of,
    template_hash,
)

Obj = dict[str, Any]
CONDITION_ORDER = ("Available", "Progressing", "ReplicaFailure")


class DeploymentController(Controllers):
    def sync_deployment(self, deploy: Obj) -> None:
        spec = deploy["spec"]
        meta = deploy["metadata"]
        replicas = int(spec.get("replicas", 1))
        template = spec.get("template") or {}
        rss = self.store.owned_by(deploy, "apps/replicasets")
        wanted = self.template_key(deploy)
        new_rs = next((rs for rs in rss if self.template_key(rs) == wanted), None)
        old_rss = sorted((rs for rs in rss if rs is not new_rs), key=revision_of)
        max_old = max((revision_of(rs) for rs in old_rss), default=0)
        progress_note: tuple[str, str] | None = None

        if spec.get("paused"):
            self._deployment_status(deploy, new_rs, old_rss, None)
            return
        if new_rs is None:
            new_rs = self._create_replicaset(deploy, template, max_old + 1, replicas, old_rss)
            progress_note = (
                "NewReplicaSetCreated",
                f'Created new replica set "{new_rs["metadata"]["name"]}"',
            )
        elif revision_of(new_rs) <= max_old or _annotations(new_rs).get(CHANGE_CAUSE) != _annotations(
            deploy
        ).get(CHANGE_CAUSE):
            annotations = {**_annotations(new_rs)}
            if revision_of(new_rs) <= max_old:
                annotations[REVISION] = str(max_old + 1)
                progress_note = (
                    "FoundNewReplicaSet",
                    f'Found new replica set "{new_rs["metadata"]["name"]}"',
                )
            if CHANGE_CAUSE in _annotations(deploy):
                annotations[CHANGE_CAUSE] = _annotations(deploy)[CHANGE_CAUSE]
            else:
                annotations.pop(CHANGE_CAUSE, None)
            new_rs = self.write(
                "apps/replicasets", {**new_rs, "metadata": {**new_rs["metadata"], "annotations": annotations}}
            )
        if _annotations(deploy).get(REVISION) != str(revision_of(new_rs)):
            annotations = {**_annotations(deploy), REVISION: str(revision_of(new_rs))}
            deploy = self.write(
                "apps/deployments", {**deploy, "metadata": {**meta, "annotations": annotations}}
            )

        strategy = (spec.get("strategy") or {}).get("type", "RollingUpdate")
        if strategy == "Recreate":
            self._recreate(deploy, new_rs, old_rss, replicas)
        else:
            self._rolling(deploy, new_rs, old_rss, replicas)
        self._clean_history(deploy, old_rss)
        self._deployment_status(deploy, new_rs, old_rss, progress_note)

    def _create_replicaset(
        self, deploy: Obj, template: Obj, revision: int, replicas: int, old: list[Obj]
    ) -> Obj:
        pod_hash = template_hash(template)
        name = f"{deploy['metadata']['name']}-{pod_hash}"
        rs_template = copy.deepcopy(template)
        rs_template.setdefault("metadata", {})
        rs_template["metadata"]["labels"] = {
            **(rs_template["metadata"].get("labels") or {}),
            HASH_LABEL: pod_hash,
        }
        selector = copy.deepcopy(deploy["spec"].get("selector") or {})
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}), HASH_LABEL: pod_hash}
        annotations = {REVISION: str(revision), "deployment.kubernetes.io/desired-replicas": str(replicas)}
        if CHANGE_CAUSE in _annotations(deploy):
            annotations[CHANGE_CAUSE] = _annotations(deploy)[CHANGE_CAUSE]
        initial = replicas if not old else 0
        rs = self.store.create(
            "apps/replicasets",
            deploy["metadata"]["namespace"],
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {
                    "name": name,
                    "labels": rs_template["metadata"]["labels"],
                    "annotations": annotations,
                    "ownerReferences": [owner_reference(deploy, "apps/v1", "Deployment")],
                },
                "spec": {
                    "replicas": initial,
                    "minReadySeconds": deploy["spec"].get("minReadySeconds", 0),
                    "selector": selector,
                    "template": rs_template,
                },
                "status": {"replicas": 0, "observedGeneration": 0},
            },
        )
        if initial:
            self.record(
                deploy,
                "Deployment",
                "Normal",
                "ScalingReplicaSet",
                f"Scaled up replica set {name} from 0 to {initial}",
                "deployment-controller",
            )
        return rs

    def _scale(self, deploy: Obj, rs: Obj, to: int) -> Obj:
        current = int(rs["spec"].get("replicas", 0))
        if current == to:
            return rs
        rs = self.write("apps/replicasets", {**rs, "spec": {**rs["spec"], "replicas": to}})
        direction = "up" if to > current else "down"
        self.record(
            deploy,
            "Deployment",
            "Normal",
            "ScalingReplicaSet",
            f"Scaled {direction} replica set {rs['metadata']['name']} from {current} to {to}",
            "deployment-controller",
        )
        return rs

    def _recreate(self, deploy: Obj, new_rs: Obj, old: list[Obj], replicas: int) -> None:
        running_old = [rs for rs in old if int(rs["spec"].get("replicas", 0)) > 0]
        for rs in running_old:
            self._scale(deploy, rs, 0)
        if not running_old and not any((rs.get("status") or {}).get("replicas", 0) for rs in old):
            self._scale(deploy, new_rs, replicas)

    def _rolling(self, deploy: Obj, new_rs: Obj, old: list[Obj], replicas: int) -> None:
        rolling = ((deploy["spec"].get("strategy") or {}).get("rollingUpdate")) or {}
        surge = int_or_percent(rolling.get("maxSurge", "25%"), replicas, round_up=True)
        unavailable = int_or_percent(rolling.get("maxUnavailable", "25%"), replicas, round_up=False)
        if surge == 0 and unavailable == 0:
            unavailable = 1
        everything = [*old, new_rs]
        new_spec = int(new_rs["spec"].get("replicas", 0))
        if new_spec > replicas:
            new_rs = self._scale(deploy, new_rs, replicas)
        elif new_spec < replicas:
            current_total = sum(int(rs["spec"].get("replicas", 0)) for rs in everything)
            scale_up = min(replicas + surge - current_total, replicas - new_spec)
            if scale_up > 0:
                new_rs = self._scale(deploy, new_rs, new_spec + scale_up)
        if not old:
            return
        min_available = replicas - unavailable
        all_pods = sum(int((rs.get("status") or {}).get("replicas", 0)) for rs in [*old, new_rs])
        new_unavailable = int(new_rs["spec"].get("replicas", 0)) - int(
            (new_rs.get("status") or {}).get("availableReplicas", 0)
        )
        budget = all_pods - min_available - max(new_unavailable, 0)
        # first the old replicas that are not available anyway
        for index, rs in enumerate(old):
            if budget <= 0:
                break
            spec_replicas = int(rs["spec"].get("replicas", 0))
            unhealthy = spec_replicas - int((rs.get("status") or {}).get("availableReplicas", 0))
            cut = min(budget, max(unhealthy, 0))
            if cut > 0:
                old[index] = self._scale(deploy, rs, spec_replicas - cut)
                budget -= cut
        # then healthy old replicas, as far as availability allows
        available = sum(int((rs.get("status") or {}).get("availableReplicas", 0)) for rs in [*old, new_rs])
        budget = available - min_available
        for index, rs in enumerate(old):
            if budget <= 0:
                break
            spec_replicas = int(rs["spec"].get("replicas", 0))
            cut = min(spec_replicas, budget)
            if cut > 0:
                old[index] = self._scale(deploy, rs, spec_replicas - cut)
                budget -= cut

    def _clean_history(self, deploy: Obj, old: list[Obj]) -> None:
        limit = int(deploy["spec"].get("revisionHistoryLimit", 10))
        idle = [
            rs
            for rs in old
            if int(rs["spec"].get("replicas", 0)) == 0
            and int((rs.get("status") or {}).get("replicas", 0)) == 0
        ]
        for rs in idle[: max(len(idle) - limit, 0)]:
            self.store.delete("apps/replicasets", rs["metadata"]["namespace"], rs["metadata"]["name"])

    def _deployment_status(
        self, deploy: Obj, new_rs: Obj | None, old: list[Obj], note: tuple[str, str] | None
    ) -> None:
        deploy = (
            self.store.find("apps/deployments", deploy["metadata"]["namespace"], deploy["metadata"]["name"])
            or deploy
        )
        spec, previous = deploy["spec"], deploy.get("status") or {}
        replicas = int(spec.get("replicas", 1))
        rss = [rs for rs in [*old, new_rs] if rs is not None]
        rss = [
            self.store.find("apps/replicasets", rs["metadata"]["namespace"], rs["metadata"]["name"]) or rs
            for rs in rss
        ]
        new_rs = rss[-1] if new_rs is not None else None
        status = _counts(deploy, rss, new_rs)
        rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
        max_unavailable = int_or_percent(rolling.get("maxUnavailable", "25%"), replicas, round_up=False)
        now = self.clock.iso()
        conditions = {c["type"]: c for c in previous.get("conditions") or []}
        available_ok = status.get("availableReplicas", 0) >= replicas - max_unavailable
        conditions["Available"] = _condition(
            conditions.get("Available"),
            "Available",
            available_ok,
            "MinimumReplicasAvailable" if available_ok else "MinimumReplicasUnavailable",
            "Deployment has minimum availability."
            if available_ok
            else "Deployment does not have minimum availability.",
            now,
        )
        progressing = self._progressing(deploy, status, new_rs, note, now)
        if progressing is not None:
            conditions["Progressing"] = progressing
        if not spec.get("paused"):  # a paused Deployment keeps the failures it had (sync.go)
            _replica_failure(conditions, new_rs, rss)
        status["conditions"] = [conditions[t] for t in CONDITION_ORDER if t in conditions]
        self.write_status("apps/deployments", deploy, status)

    def _progressing(
        self, deploy: Obj, status: Obj, new_rs: Obj | None, note: tuple[str, str] | None, now: str
    ) -> Obj | None:
        """The Progressing condition after this sync (progress.go's syncRolloutStatus); None: none yet."""
        spec, previous = deploy["spec"], deploy.get("status") or {}
        replicas = int(spec.get("replicas", 1))
        progressing = next((c for c in previous.get("conditions") or [] if c["type"] == "Progressing"), None)
        rs_name = new_rs["metadata"]["name"] if new_rs else ""
        complete = (
            new_rs is not None
            and status.get("updatedReplicas", 0) == replicas
            and status["replicas"] == replicas
            and status.get("availableReplicas", 0) == replicas
        )
        if spec.get("paused"):
            return _condition(
                progressing, "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", now
            )
        if complete:
            if progressing and progressing.get("reason") == "NewReplicaSetAvailable":
                return progressing
            message = f'ReplicaSet "{rs_name}" has successfully progressed.'
            return _condition(progressing, "Progressing", True, "NewReplicaSetAvailable", message, now, True)
        if (
            note
            or progressing is None
            or _made_progress(previous, status)
            or progressing.get("reason") == "DeploymentPaused"
        ):
            reason, message = note or ("ReplicaSetUpdated", f'ReplicaSet "{rs_name}" is progressing.')
            return _condition(progressing, "Progressing", True, reason, message, now, True)
        if progressing.get("status") == "True":
            deadline = float(spec.get("progressDeadlineSeconds", 600))
            since = parse_time(progressing["lastUpdateTime"])
            if self.clock.now() - since > dt.timedelta(seconds=deadline):
                message = f'ReplicaSet "{rs_name}" has timed out progressing.'
                return _condition(
                    progressing, "Progressing", False, "ProgressDeadlineExceeded", message, now, True
                )
        return progressing


def _counts(deploy: Obj, rss: list[Obj], new_rs: Obj | None) -> Obj:
    """The replica counts of a Deployment's status, summed over its ReplicaSets."""

    def total(field: str) -> int:
        return sum(int((rs.get("status") or {}).get(field, 0)) for rs in rss)

    status: Obj = {
        "observedGeneration": deploy["metadata"].get("generation", 1),
        "replicas": total("replicas"),
        "updatedReplicas": int((new_rs.get("status") or {}).get("replicas", 0)) if new_rs else 0,
        "readyReplicas": total("readyReplicas"),
        "availableReplicas": total("availableReplicas"),
    }
    status["unavailableReplicas"] = max(
        sum(int(rs["spec"].get("replicas", 0)) for rs in rss) - status["availableReplicas"], 0
    )
    for key in ("readyReplicas", "availableReplicas", "unavailableReplicas", "updatedReplicas"):
        if status[key] == 0:
            status.pop(key)  # Go omits zero counts
    return status


def _replica_failure(conditions: dict[str, Obj], new_rs: Obj | None, rss: list[Obj]) -> None:
    """Copy a ReplicaSet's ReplicaFailure condition to the Deployment, the new ReplicaSet's first, else
    an old one's (sync.go's getReplicaFailures); without one, the Deployment's goes too."""
    candidates = [new_rs] if new_rs is not None else []
    candidates += [rs for rs in rss if rs is not new_rs]
    for rs in candidates:
        failure = next(
            (
                c
                for c in (rs.get("status") or {}).get("conditions") or []
                if c.get("type") == "ReplicaFailure"
            ),
            None,
        )
        if failure is not None:
            break
    else:
        conditions.pop("ReplicaFailure", None)
        return
    old = conditions.get("ReplicaFailure")
    if old and old.get("status") == failure.get("status") and old.get("reason") == failure.get("reason"):
        return  # util.SetDeploymentCondition leaves a condition of the same status and reason alone
    conditions["ReplicaFailure"] = {
        "type": "ReplicaFailure",
        "status": failure.get("status", "True"),
        "lastUpdateTime": failure.get("lastTransitionTime"),
        "lastTransitionTime": failure.get("lastTransitionTime"),
        "reason": failure.get("reason"),
        "message": failure.get("message"),
    }


def _annotations(obj: Obj) -> dict[str, str]:
    return obj["metadata"].get("annotations") or {}


def _made_progress(old: Obj, new: Obj) -> bool:
    return (
        new.get("updatedReplicas", 0) > old.get("updatedReplicas", 0)
        or new.get("replicas", 0) < old.get("replicas", 0)
        or new.get("readyReplicas", 0) > old.get("readyReplicas", 0)
        or new.get("availableReplicas", 0) > old.get("availableReplicas", 0)
    )


def _condition(
    old: Obj | None, type_: str, status: bool | str, reason: str, message: str, now: str, touch: bool = False
) -> Obj:
    value = status if isinstance(status, str) else ("True" if status else "False")
    if old and old.get("status") == value and old.get("reason") == reason and old.get("message") == message:
        return {**old, "lastUpdateTime": now} if touch else old
    changed = not old or old.get("status") != value
    return {
        "type": type_,
        "status": value,
        "lastUpdateTime": now,
        "lastTransitionTime": now if changed else old.get("lastTransitionTime", now),  # type: ignore[union-attr]
        "reason": reason,
        "message": message,
    }
