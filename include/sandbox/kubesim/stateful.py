"""Simulated StatefulSet, DaemonSet, Job, HPA and ResourceQuota controllers (with ControllerRevisions
for history), and ``WorkloadControllers``: all the controllers together, one pass over everything per
tick."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from kubesim import quota
from kubesim.deployments import DeploymentController
from kubesim.kubelet import Kubelet
from kubesim.replicasets import ReplicaSetController
from kubesim.workloads import int_or_percent, owner_reference, pod_is_active, pod_is_ready, template_hash

Obj = dict[str, Any]
REVISION_HASH = "controller-revision-hash"


def _revision_hash(pod: Obj) -> str:
    return (pod["metadata"].get("labels") or {}).get(REVISION_HASH, "")


class WorkloadControllers(Kubelet, ReplicaSetController, DeploymentController):
    """The kubelet and every controller: StatefulSet, DaemonSet, Job and HPA here, the others mixed in."""

    def ensure_revision(self, owner: Obj, kind: str, template: Obj) -> str:
        """The ControllerRevision for ``template``; created (or re-numbered, on a rollback) as needed."""
        name = f"{owner['metadata']['name']}-{template_hash(template)}"
        namespace = owner["metadata"]["namespace"]
        revisions = self.store.owned_by(owner, "apps/controllerrevisions")
        top = max((int(r.get("revision", 0)) for r in revisions), default=0)
        existing = next((r for r in revisions if r["metadata"]["name"] == name), None)
        if existing is None:
            self.store.create(
                "apps/controllerrevisions",
                namespace,
                {
                    "apiVersion": "apps/v1",
                    "kind": "ControllerRevision",
                    "metadata": {
                        "name": name,
                        "labels": dict((template.get("metadata") or {}).get("labels") or {}),
                        "ownerReferences": [owner_reference(owner, "apps/v1", kind)],
                    },
                    "data": {"spec": {"template": {**copy.deepcopy(template), "$patch": "replace"}}},
                    "revision": top + 1,
                },
            )
        elif int(existing.get("revision", 0)) < top:
            self.write("apps/controllerrevisions", {**existing, "revision": top + 1})
        limit = int(owner["spec"].get("revisionHistoryLimit", 10))
        old = sorted(
            (r for r in revisions if r["metadata"]["name"] != name), key=lambda r: int(r.get("revision", 0))
        )
        in_use = {_revision_hash(p) for p in self.store.owned_by(owner, "/pods")}
        removable = [
            r
            for r in old
            if r["metadata"]["name"] not in in_use
            and r["metadata"]["name"].rsplit("-", 1)[-1] not in in_use
            and r["metadata"]["name"] != (owner.get("status") or {}).get("currentRevision")
        ]
        for revision in removable[: max(len(old) - limit, 0)]:
            self.store.delete("apps/controllerrevisions", namespace, revision["metadata"]["name"])
        return name

    # -- StatefulSet -------------------------------------------------------------------------------

    def sync_statefulset(self, sts: Obj) -> None:
        spec, meta, status = sts["spec"], sts["metadata"], sts.get("status") or {}
        name, replicas = meta["name"], int(spec.get("replicas", 1))
        update_revision = self.ensure_revision(sts, "StatefulSet", spec.get("template") or {})
        current_revision = status.get("currentRevision") or update_revision
        strategy = spec.get("updateStrategy") or {}
        partition = int(((strategy.get("rollingUpdate") or {}).get("partition")) or 0)
        pods = {p["metadata"]["name"]: p for p in self.store.owned_by(sts, "/pods") if pod_is_active(p)}
        ordered = spec.get("podManagementPolicy", "OrderedReady") == "OrderedReady"

        def pod_name(i: int) -> str:
            return f"{name}-{i}"

        self._create_statefulset_pods(sts, pods, (current_revision, update_revision), partition, ordered)
        # scale down from the highest ordinal
        extra = sorted(
            (n for n in pods if int(n.rsplit("-", 1)[1]) >= replicas), key=lambda n: -int(n.rsplit("-", 1)[1])
        )
        for pod in extra[:1] if ordered else extra:
            self.store.delete("/pods", meta["namespace"], pod)
            pods.pop(pod)
        # rolling update: replace the highest out-of-date pod at or above the partition, one at a time
        all_ready = len(pods) == replicas and all(pod_is_ready(p) for p in pods.values())
        if strategy.get("type", "RollingUpdate") == "RollingUpdate" and all_ready:
            stale = [
                i
                for i in range(replicas - 1, partition - 1, -1)
                if _revision_hash(pods[pod_name(i)]) != update_revision
            ]
            if stale:
                self.store.delete("/pods", meta["namespace"], pod_name(stale[0]))
                pods.pop(pod_name(stale[0]))
        live = list(pods.values())
        updated = sum(1 for p in live if _revision_hash(p) == update_revision)
        current = sum(1 for p in live if _revision_hash(p) == current_revision)
        ready = sum(1 for p in live if pod_is_ready(p))
        if updated == replicas and ready == replicas:
            current_revision, current = update_revision, updated
        self.write_status(
            "apps/statefulsets",
            sts,
            {
                "observedGeneration": meta.get("generation", 1),
                "replicas": len(live),
                "readyReplicas": ready,
                "availableReplicas": ready,
                "currentReplicas": current,
                "updatedReplicas": updated,
                "currentRevision": current_revision,
                "updateRevision": update_revision,
                "collisionCount": 0,
            },
        )

    def _create_statefulset_pods(
        self, sts: Obj, pods: dict[str, Obj], revisions: tuple[str, str], partition: int, ordered: bool
    ) -> None:
        """Create missing pods in order (each waits for its predecessors to be Ready when OrderedReady);
        a refused pod stops the pass, and the next waits for the retry."""
        spec, name = sts["spec"], sts["metadata"]["name"]
        if self.backing_off(sts) is not None:
            return
        for i in range(int(spec.get("replicas", 1))):
            pod_name = f"{name}-{i}"
            if pod_name in pods:
                if ordered and not pod_is_ready(pods[pod_name]):
                    return
                continue
            revision = revisions[0] if i < partition else revisions[1]
            template = self._revision_template(sts, revision) or spec.get("template") or {}
            labels = {
                REVISION_HASH: revision,
                "statefulset.kubernetes.io/pod-name": pod_name,
                "apps.kubernetes.io/pod-index": str(i),
            }
            pod = self.create_pod(sts, "StatefulSet", template, pod_name, labels, "statefulset-controller")
            if pod is None:
                return
            pods[pod_name] = pod
            self.pods_created(sts)
            self.record(
                sts,
                "StatefulSet",
                "Normal",
                "SuccessfulCreate",
                f"create Pod {pod_name} in StatefulSet {name} successful",
                "statefulset-controller",
            )
            if ordered:
                return
        self.pods_created(sts)

    def _revision_template(self, owner: Obj, revision: str) -> Obj | None:
        found = self.store.find("apps/controllerrevisions", owner["metadata"]["namespace"], revision)
        if not found:
            return None
        template = copy.deepcopy(found["data"]["spec"]["template"])
        template.pop("$patch", None)
        return template

    # -- DaemonSet ---------------------------------------------------------------------------------

    def sync_daemonset(self, ds: Obj) -> None:
        spec, meta = ds["spec"], ds["metadata"]
        revision = self.ensure_revision(ds, "DaemonSet", spec.get("template") or {}).rsplit("-", 1)[1]
        pods = [p for p in self.store.owned_by(ds, "/pods") if pod_is_active(p)]
        by_node = {p["spec"].get("nodeName"): p for p in pods}
        self._create_daemon_pods(ds, by_node, revision)
        strategy = spec.get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") == "RollingUpdate":
            desired = len(self.node_names)
            budget = (
                int_or_percent(
                    ((strategy.get("rollingUpdate") or {}).get("maxUnavailable", 1)), desired, round_up=True
                )
                or 1
            )
            unavailable = sum(1 for p in by_node.values() if not pod_is_ready(p))
            stale = [p for p in by_node.values() if _revision_hash(p) != revision]
            # replace stale pods that are not ready first, then ready ones within the budget
            for pod in sorted(stale, key=pod_is_ready):
                if pod_is_ready(pod):
                    if unavailable >= budget:
                        break
                    unavailable += 1
                self.store.delete("/pods", meta["namespace"], pod["metadata"]["name"])
                by_node.pop(pod["spec"].get("nodeName"))
        live = list(by_node.values())
        ready = sum(1 for p in live if pod_is_ready(p))
        desired = len(self.node_names)
        self.write_status(
            "apps/daemonsets",
            ds,
            {
                "observedGeneration": meta.get("generation", 1),
                "desiredNumberScheduled": desired,
                "currentNumberScheduled": len(live),
                "numberMisscheduled": 0,
                "numberReady": ready,
                "numberAvailable": ready,
                "numberUnavailable": desired - ready,
                "updatedNumberScheduled": sum(1 for p in live if _revision_hash(p) == revision),
            },
        )

    def _create_daemon_pods(self, ds: Obj, by_node: dict[str, Obj], revision: str) -> None:
        """A pod on every node that has none; a refused pod stops the pass until the retry is due."""
        spec, meta = ds["spec"], ds["metadata"]
        if self.backing_off(ds) is not None:
            return
        for node in self.node_names:
            if node in by_node:
                continue
            template = copy.deepcopy(spec.get("template") or {})
            template.setdefault("spec", {})["nodeName"] = node
            pod_name = f"{meta['name']}-{uuid.uuid4().hex[:5]}"
            labels = {REVISION_HASH: revision}
            pod = self.create_pod(ds, "DaemonSet", template, pod_name, labels, "daemonset-controller")
            if pod is None:
                return
            by_node[node] = pod
            self.record(
                ds,
                "DaemonSet",
                "Normal",
                "SuccessfulCreate",
                f"Created pod: {pod_name}",
                "daemonset-controller",
            )
        self.pods_created(ds)

    # -- Job ---------------------------------------------------------------------------------------

    def _create_job_pods(self, job: Obj, count: int) -> list[Obj]:
        """Up to ``count`` new pods for ``job``; a refused pod stops the pass until the retry is due."""
        spec, meta = job["spec"], job["metadata"]
        created: list[Obj] = []
        if count <= 0 or self.backing_off(job) is not None:
            return created
        for _ in range(count):
            pod_name = f"{meta['name']}-{uuid.uuid4().hex[:5]}"
            labels = {
                "batch.kubernetes.io/job-name": meta["name"],
                "job-name": meta["name"],
                "batch.kubernetes.io/controller-uid": meta["uid"],
                "controller-uid": meta["uid"],
            }
            template = copy.deepcopy(spec.get("template") or {})
            template.setdefault("spec", {}).setdefault("restartPolicy", "Never")
            pod = self.create_pod(job, "Job", template, pod_name, labels, "job-controller")
            if pod is None:
                return created
            created.append(pod)
            self.record(
                job, "Job", "Normal", "SuccessfulCreate", f"Created pod: {pod_name}", "job-controller"
            )
        self.pods_created(job)
        return created

    def sync_job(self, job: Obj) -> None:
        spec, meta, status = job["spec"], job["metadata"], dict(job.get("status") or {})
        if any(
            c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
            for c in status.get("conditions") or []
        ):
            return
        pods = self.store.owned_by(job, "/pods")
        succeeded = sum(1 for p in pods if p["status"].get("phase") == "Succeeded")
        failed = sum(1 for p in pods if p["status"].get("phase") == "Failed")
        active = [p for p in pods if pod_is_active(p)]
        completions, now = int(spec.get("completions", 1)), self.clock.iso()
        status.setdefault("startTime", now)
        if succeeded >= completions:
            status["conditions"] = [
                {
                    "type": "SuccessCriteriaMet",
                    "status": "True",
                    "lastProbeTime": now,
                    "lastTransitionTime": now,
                },
                {"type": "Complete", "status": "True", "lastProbeTime": now, "lastTransitionTime": now},
            ]
            status["completionTime"] = now
            self.record(job, "Job", "Normal", "Completed", "Job completed", "job-controller")
        elif failed > int(spec.get("backoffLimit", 6)):
            for pod in active:
                self.store.delete("/pods", meta["namespace"], pod["metadata"]["name"])
            active = []
            message = "Job has reached the specified backoff limit"
            status["conditions"] = [
                {
                    "type": "FailureTarget",
                    "status": "True",
                    "reason": "BackoffLimitExceeded",
                    "message": message,
                    "lastProbeTime": now,
                    "lastTransitionTime": now,
                },
                {
                    "type": "Failed",
                    "status": "True",
                    "reason": "BackoffLimitExceeded",
                    "message": message,
                    "lastProbeTime": now,
                    "lastTransitionTime": now,
                },
            ]
            self.record(job, "Job", "Warning", "BackoffLimitExceeded", message, "job-controller")
        else:
            want = min(int(spec.get("parallelism", 1)), completions - succeeded)
            active += self._create_job_pods(job, want - len(active))
        status.update(
            {
                "succeeded": succeeded,
                "failed": failed,
                "active": len(active),
                "ready": sum(1 for p in active if pod_is_ready(p)),
            }
        )
        for key in ("succeeded", "failed", "active"):
            if not status[key]:
                status.pop(key)
        self.write_status("batch/jobs", job, status)

    # -- HorizontalPodAutoscaler: no metrics here, so only the bounds act -----------------------------

    def sync_hpa(self, hpa: Obj) -> None:
        spec, namespace = hpa["spec"], hpa["metadata"]["namespace"]
        target_ref = spec.get("scaleTargetRef") or {}
        resource = {
            "Deployment": "apps/deployments",
            "StatefulSet": "apps/statefulsets",
            "ReplicaSet": "apps/replicasets",
        }.get(target_ref.get("kind", ""))
        target = self.store.find(resource, namespace, target_ref.get("name", "")) if resource else None
        if resource is None or target is None:
            return
        current = int(target["spec"].get("replicas", 1))
        low, high = int(spec.get("minReplicas", 1)), int(spec.get("maxReplicas", current))
        desired = min(max(current, low), high)
        if desired != current:
            self.write(resource, {**target, "spec": {**target["spec"], "replicas": desired}})
            self.record(
                hpa,
                "HorizontalPodAutoscaler",
                "Normal",
                "SuccessfulRescale",
                f"New size: {desired}; reason: within bounds [{low}, {high}]",
                "horizontal-pod-autoscaler",
            )
        status = {**(hpa.get("status") or {}), "currentReplicas": current, "desiredReplicas": desired}
        self.write_status("autoscaling/horizontalpodautoscalers", hpa, status)

    # -- ResourceQuota: status.hard and status.used (admission itself is in quota.py) ---------------

    def sync_quota(self, resource_quota: Obj) -> None:
        self.write_status("/resourcequotas", resource_quota, quota.status_of(self.store, resource_quota))

    # -- one pass over everything ------------------------------------------------------------------

    def tick(self) -> None:
        for pod in self.store.select("/pods"):
            self.sync_pod(pod)
        for kind, sync in (
            ("apps/replicasets", self.sync_replicaset),
            ("apps/deployments", self.sync_deployment),
            ("apps/statefulsets", self.sync_statefulset),
            ("apps/daemonsets", self.sync_daemonset),
            ("batch/jobs", self.sync_job),
            ("autoscaling/horizontalpodautoscalers", self.sync_hpa),
            ("/resourcequotas", self.sync_quota),
        ):
            for obj in self.store.select(kind):
                current = self.store.find(kind, obj["metadata"]["namespace"], obj["metadata"]["name"])
                if current is not None:
                    sync(current)
