"""Simulated controllers: kubelet (pod fates), ReplicaSet and Deployment, and the event recorder.

StatefulSet, DaemonSet and Job controllers are in stateful.py. All run in the server's event loop,
one pass per tick, on the simulated clock.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import uuid
from typing import Any

from kubesim.clock import Clock, parse_time
from kubesim.store import Store
from kubesim.workloads import (
    CHANGE_CAUSE,
    HASH_LABEL,
    READY_DELAY,
    REVISION,
    image_fate,
    int_or_percent,
    normalized_template,
    owner_reference,
    pod_is_active,
    pod_is_ready,
    revision_of,
    template_hash,
)

Obj = dict[str, Any]
CRASH_AFTER = 1.0  # seconds a crashing container runs before it exits
BACKOFF = 10.0  # seconds between restarts of a crashing container
PULL_BACKOFF_AFTER = 3.0  # seconds from ErrImagePull to ImagePullBackOff


class Controllers:
    def __init__(self, store: Store, clock: Clock, *, ready_delay: float = 2.0, nodes: int = 3) -> None:
        self.store = store
        self.clock = clock
        self.ready_delay = ready_delay
        self.marked_images: dict[str, str] = {}
        self.node_names = [f"sandbox-node-{n}" for n in range(1, nodes + 1)]
        self._next_node = 0
        self._event_keys: dict[tuple[str, str, str], tuple[str, str]] = {}
        self._started: set[str] = set()  # pod uids whose start events were recorded
        # Stored objects are replaced on every write, never mutated, so (uid, resourceVersion) names an
        # immutable snapshot: normalised templates and settled pods can be remembered by it.
        self._templates: dict[tuple[str, str], str] = {}
        self._settled: set[tuple[str, str]] = set()

    def template_key(self, obj: Obj) -> str:
        """The normalised pod template of a workload or ReplicaSet, as comparable text (memoised)."""
        meta = obj["metadata"]
        key = (meta["uid"], meta["resourceVersion"])
        if key not in self._templates:
            if len(self._templates) > 100_000:
                self._templates.clear()
            self._templates[key] = json.dumps(
                normalized_template(obj["spec"].get("template") or {}), sort_keys=True
            )
        return self._templates[key]

    # -- helpers ---------------------------------------------------------------------------------

    def write_status(self, resource: str, obj: Obj, status: Obj) -> Obj:
        if obj.get("status") == status:
            return obj
        new = copy.deepcopy(obj)
        new["status"] = status
        new["metadata"].pop("resourceVersion", None)
        return self.store.update(resource, obj["metadata"].get("namespace", ""), new, subresource="status")

    def write(self, resource: str, obj: Obj) -> Obj:
        new = copy.deepcopy(obj)
        new["metadata"].pop("resourceVersion", None)
        return self.store.update(resource, obj["metadata"].get("namespace", ""), new)

    def record(self, obj: Obj, kind: str, type_: str, reason: str, message: str, component: str) -> None:
        """Record an Event, aggregating repeats as the API server's event recorder does."""
        meta = obj["metadata"]
        namespace = meta.get("namespace") or "default"
        key = (meta["uid"], reason, message)
        now = self.clock.iso()
        known = self._event_keys.get(key)
        if known:
            event = self.store.find("/events", *known)
            if event is not None:
                event = copy.deepcopy(event)
                event["count"] = event.get("count", 1) + 1
                event["lastTimestamp"] = now
                self.write("/events", event)
                return
        name = f"{meta['name']}.{uuid.uuid4().hex[:16]}"
        self.store.create(
            "/events",
            namespace,
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": name, "namespace": namespace},
                "involvedObject": {
                    "apiVersion": obj.get("apiVersion", "v1"),
                    "kind": kind,
                    "name": meta["name"],
                    "namespace": namespace,
                    "uid": meta["uid"],
                },
                "reason": reason,
                "message": message,
                "type": type_,
                "count": 1,
                "firstTimestamp": now,
                "lastTimestamp": now,
                "source": {"component": component},
                "reportingComponent": component,
            },
        )
        self._event_keys[key] = (namespace, name)

    def new_pod(
        self, owner: Obj, owner_kind: str, template: Obj, name: str, extra_labels: dict[str, str]
    ) -> Obj:
        namespace = owner["metadata"]["namespace"]
        meta = copy.deepcopy(template.get("metadata") or {})
        meta.pop("creationTimestamp", None)
        meta["name"] = name
        meta["labels"] = {**(meta.get("labels") or {}), **extra_labels}
        api_version = "batch/v1" if owner_kind == "Job" else "apps/v1"
        meta["ownerReferences"] = [owner_reference(owner, api_version, owner_kind)]
        spec = copy.deepcopy(template.get("spec") or {})
        spec.setdefault("restartPolicy", "Always")
        spec["nodeName"] = spec.get("nodeName") or self._pick_node()
        containers = spec.get("containers") or []
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": meta,
            "spec": spec,
            "status": {
                "phase": "Pending",
                "conditions": [
                    {"type": "PodScheduled", "status": "True", "lastTransitionTime": self.clock.iso()}
                ],
                "containerStatuses": [
                    {
                        "name": c.get("name", ""),
                        "image": c.get("image", ""),
                        "imageID": "",
                        "ready": False,
                        "restartCount": 0,
                        "started": False,
                        "state": {"waiting": {"reason": "ContainerCreating"}},
                    }
                    for c in containers
                ],
                "hostIP": "10.0.0.1",
                "qosClass": "BestEffort",
                "startTime": self.clock.iso(),
            },
        }
        created = self.store.create("/pods", namespace, pod)
        self.record(
            created,
            "Pod",
            "Normal",
            "Scheduled",
            f"Successfully assigned {namespace}/{name} to {spec['nodeName']}",
            "default-scheduler",
        )
        return created

    def _pick_node(self) -> str:
        node = self.node_names[self._next_node % len(self.node_names)]
        self._next_node += 1
        return node

    # -- kubelet: pod fates ------------------------------------------------------------------------

    def sync_pod(self, pod: Obj) -> None:
        status = pod.get("status") or {}
        if status.get("phase") in ("Succeeded", "Failed"):
            return
        snapshot = (pod["metadata"]["uid"], pod["metadata"]["resourceVersion"])
        if snapshot in self._settled:  # Ready with healthy containers and unchanged since: nothing to do
            return
        meta = pod["metadata"]
        age = (self.clock.now() - parse_time(meta["creationTimestamp"])).total_seconds()
        delay = float((meta.get("annotations") or {}).get(READY_DELAY, self.ready_delay))
        runs_to_completion = pod["spec"].get("restartPolicy") in ("Never", "OnFailure")
        now = self.clock.iso()
        statuses = []
        fates = []
        for container in pod["spec"].get("containers") or []:
            name, image = container.get("name", ""), container.get("image", "")
            fate = image_fate(image, self.marked_images)
            fates.append(fate)
            previous: Obj = next(
                (s for s in status.get("containerStatuses") or [] if s.get("name") == name), {}
            )
            statuses.append(
                self._container_status(pod, name, image, fate, age, delay, runs_to_completion, previous)
            )
        phase, ready = self._phase(fates, age, delay, runs_to_completion)
        conditions = [{"type": "PodScheduled", "status": "True"}]
        if phase != "Pending" or any("running" in s["state"] for s in statuses):
            conditions.append({"type": "Initialized", "status": "True"})
        conditions += [
            {"type": "ContainersReady", "status": "True" if ready else "False"},
            {"type": "Ready", "status": "True" if ready else "False"},
        ]
        previous_conditions = {c["type"]: c for c in status.get("conditions") or []}
        for condition in conditions:
            old = previous_conditions.get(condition["type"])
            if old is not None and old.get("status") == condition["status"]:
                condition["lastTransitionTime"] = old.get("lastTransitionTime", now)
            else:
                condition["lastTransitionTime"] = now
        new_status = {
            **status,
            "phase": phase,
            "conditions": conditions,
            "containerStatuses": statuses,
            "podIP": status.get("podIP") or f"10.244.0.{int(meta['uid'][:2], 16)}",
        }
        updated = self.write_status("/pods", pod, new_status)
        self._pod_events(updated, statuses)
        if ready and set(fates) == {"ok"} and updated is pod:
            if len(self._settled) > 100_000:
                self._settled.clear()
            self._settled.add(snapshot)

    def _phase(
        self, fates: list[str], age: float, delay: float, runs_to_completion: bool
    ) -> tuple[str, bool]:
        if "nopull" in fates:
            return "Pending", False
        if runs_to_completion:
            if age < delay:
                return "Running", False
            return ("Failed" if any(f in ("crash", "fail") for f in fates) else "Succeeded"), False
        if "crash" in fates:
            return "Running", False
        return (
            ("Running", True) if age >= delay else ("Pending" if age < min(delay, 0.5) else "Running", False)
        )

    def _container_status(
        self,
        pod: Obj,
        name: str,
        image: str,
        fate: str,
        age: float,
        delay: float,
        runs_to_completion: bool,
        previous: Obj,
    ) -> Obj:
        base = {
            "name": name,
            "image": image,
            "imageID": "",
            "ready": False,
            "started": False,
            "restartCount": 0,
            "containerID": f"containerd://{pod['metadata']['uid'][:12]}{name}",
        }
        if fate == "nopull":
            base.pop("containerID")
            reason = "ErrImagePull" if age < PULL_BACKOFF_AFTER else "ImagePullBackOff"
            message = (
                f'failed to pull and unpack image "{image}": not found'
                if reason == "ErrImagePull"
                else f'Back-off pulling image "{image}"'
            )
            return {**base, "state": {"waiting": {"reason": reason, "message": message}}}
        if age < min(delay, 0.5) and not (fate == "crash" and age >= CRASH_AFTER):
            return {**base, "state": {"waiting": {"reason": "ContainerCreating"}}}
        started_at = self.clock.iso()
        previous_running = (previous.get("state") or {}).get("running") or {}
        if runs_to_completion:
            if age < delay:
                return {
                    **base,
                    "started": True,
                    "state": {"running": {"startedAt": previous_running.get("startedAt", started_at)}},
                }
            failed = fate in ("crash", "fail")
            return {
                **base,
                "state": {
                    "terminated": {
                        "exitCode": 1 if failed else 0,
                        "reason": "Error" if failed else "Completed",
                        "finishedAt": started_at,
                    }
                },
            }
        if fate == "crash":
            if age < CRASH_AFTER:
                return {**base, "started": True, "state": {"running": {"startedAt": started_at}}}
            restarts = 1 + int((age - CRASH_AFTER) // BACKOFF)
            return {
                **base,
                "restartCount": restarts,
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": started_at}},
                "state": {
                    "waiting": {
                        "reason": "CrashLoopBackOff",
                        "message": f"back-off 10s restarting failed container={name} "
                        f"pod={pod['metadata']['name']}",
                    }
                },
            }
        ready = age >= delay
        return {
            **base,
            "ready": ready,
            "started": True,
            "state": {"running": {"startedAt": previous_running.get("startedAt", started_at)}},
        }

    def _pod_events(self, pod: Obj, statuses: list[Obj]) -> None:
        uid = pod["metadata"]["uid"]
        for status in statuses:
            waiting = (status.get("state") or {}).get("waiting") or {}
            name, image = status["name"], status["image"]
            if waiting.get("reason") in ("ErrImagePull", "ImagePullBackOff"):
                self.record(
                    pod, "Pod", "Warning", "Failed", f'Failed to pull image "{image}": not found', "kubelet"
                )
                self.record(pod, "Pod", "Warning", "Failed", f"Error: {waiting['reason']}", "kubelet")
            elif waiting.get("reason") == "CrashLoopBackOff":
                self.record(
                    pod,
                    "Pod",
                    "Warning",
                    "BackOff",
                    f"Back-off restarting failed container {name} in pod {pod['metadata']['name']}",
                    "kubelet",
                )
            elif ("running" in status.get("state", {}) or "terminated" in status.get("state", {})) and (
                f"{uid}/{name}" not in self._started
            ):
                self._started.add(f"{uid}/{name}")
                self.record(
                    pod,
                    "Pod",
                    "Normal",
                    "Pulled",
                    f'Container image "{image}" already present on machine',
                    "kubelet",
                )
                self.record(pod, "Pod", "Normal", "Created", f"Created container {name}", "kubelet")
                self.record(pod, "Pod", "Normal", "Started", f"Started container {name}", "kubelet")

    # -- ReplicaSet --------------------------------------------------------------------------------

    def sync_replicaset(self, rs: Obj) -> None:
        spec = rs["spec"]
        want = int(spec.get("replicas", 1))
        pods = [p for p in self.store.owned_by(rs, "/pods") if pod_is_active(p)]
        if len(pods) < want:
            for _ in range(want - len(pods)):
                name = f"{rs['metadata']['name']}-{uuid.uuid4().hex[:5]}"
                labels = {HASH_LABEL: rs["metadata"].get("labels", {}).get(HASH_LABEL, "")}
                self.new_pod(
                    rs, "ReplicaSet", spec.get("template") or {}, name, labels if labels[HASH_LABEL] else {}
                )
                self.record(
                    rs,
                    "ReplicaSet",
                    "Normal",
                    "SuccessfulCreate",
                    f"Created pod: {name}",
                    "replicaset-controller",
                )
        elif len(pods) > want:
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
                    "replicaset-controller",
                )
        pods = [p for p in self.store.owned_by(rs, "/pods") if pod_is_active(p)]
        ready = sum(1 for p in pods if pod_is_ready(p))
        self.write_status(
            "apps/replicasets",
            rs,
            {
                "replicas": len(pods),
                "fullyLabeledReplicas": len(pods),
                "readyReplicas": ready,
                "availableReplicas": ready,
                "observedGeneration": rs["metadata"].get("generation", 1),
            },
        )

    # -- Deployment --------------------------------------------------------------------------------

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
        rs_name = new_rs["metadata"]["name"] if new_rs else ""
        complete = (
            new_rs is not None
            and status.get("updatedReplicas", 0) == replicas
            and status["replicas"] == replicas
            and status.get("availableReplicas", 0) == replicas
        )
        progressing = conditions.get("Progressing")
        if spec.get("paused"):
            conditions["Progressing"] = _condition(
                progressing, "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", now
            )
        elif complete:
            if not (progressing and progressing.get("reason") == "NewReplicaSetAvailable"):
                conditions["Progressing"] = _condition(
                    progressing,
                    "Progressing",
                    True,
                    "NewReplicaSetAvailable",
                    f'ReplicaSet "{rs_name}" has successfully progressed.',
                    now,
                    True,
                )
        elif (
            note
            or _made_progress(previous, status)
            or (progressing and progressing.get("reason") == "DeploymentPaused")
        ):
            reason, message = note or ("ReplicaSetUpdated", f'ReplicaSet "{rs_name}" is progressing.')
            conditions["Progressing"] = _condition(
                progressing, "Progressing", True, reason, message, now, True
            )
        elif progressing is None:
            conditions["Progressing"] = _condition(
                None,
                "Progressing",
                True,
                "ReplicaSetUpdated",
                f'ReplicaSet "{rs_name}" is progressing.',
                now,
                True,
            )
        elif progressing.get("status") == "True":
            deadline = float(spec.get("progressDeadlineSeconds", 600))
            since = parse_time(progressing["lastUpdateTime"])
            if self.clock.now() - since > dt.timedelta(seconds=deadline):
                conditions["Progressing"] = _condition(
                    progressing,
                    "Progressing",
                    False,
                    "ProgressDeadlineExceeded",
                    f'ReplicaSet "{rs_name}" has timed out progressing.',
                    now,
                    True,
                )
        status["conditions"] = [conditions[t] for t in ("Available", "Progressing") if t in conditions]
        self.write_status("apps/deployments", deploy, status)


def _annotations(obj: Obj) -> dict[str, str]:
    return obj["metadata"].get("annotations") or {}


def _neg_time(pod: Obj) -> float:
    return -parse_time(pod["metadata"]["creationTimestamp"]).timestamp()


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
