"""The controllers' common ground: the store, the clock, status writes, events and pod creation.

The kubelet (pod fates) is in kubelet.py, the ReplicaSet controller in replicasets.py, the Deployment
controller in deployments.py, and the StatefulSet, DaemonSet, Job, HPA and ResourceQuota controllers
in stateful.py, which also puts them all together (``WorkloadControllers``). The event recorder is in
events.py, quota admission in quota.py. All run in the server's event loop, one pass per tick, on the
simulated clock.
"""

from __future__ import annotations

import copy
import json
from typing import Any, NamedTuple

from kubesim import quota
from kubesim.clock import Clock
from kubesim.events import EventRecorder
from kubesim.store import ApiError, Store
from kubesim.workloads import normalized_template, owner_reference

Obj = dict[str, Any]
# A controller whose pod creation is refused (a quota) retries with exponential backoff, as its
# workqueue's rate limiter does (5 ms doubling; the real cap is 1000 s, the sandbox's 60 s so a freed
# quota shows within a minute of controller time). A change of the owner's spec retries at once.
RETRY_BASE = 0.005
RETRY_MAX = 60.0


class CreateFailure(NamedTuple):
    failures: int
    retry_at: float  # controller seconds
    generation: int
    message: str  # the API server's refusal


class Controllers:
    def __init__(self, store: Store, clock: Clock, *, ready_delay: float = 2.0, nodes: int = 3) -> None:
        self.store = store
        self.clock = clock
        self.ready_delay = ready_delay
        self.marked_images: dict[str, str] = {}
        self.node_names = [f"sandbox-node-{n}" for n in range(1, nodes + 1)]
        self._next_node = 0
        self.events = EventRecorder(store, clock)
        self._started: set[str] = set()  # pod uids whose start events were recorded
        # Stored objects are replaced on every write, never mutated, so (uid, resourceVersion) names an
        # immutable snapshot: normalised templates and settled pods can be remembered by it.
        self._templates: dict[tuple[str, str], str] = {}
        self._settled: set[tuple[str, str]] = set()
        self._create_failures: dict[str, CreateFailure] = {}  # owner uid -> its last refused pod creation

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

    def record(
        self,
        obj: Obj,
        kind: str,
        type_: str,
        reason: str,
        message: str,
        component: str,
        *,
        field_path: str = "",
        host: str = "",
    ) -> None:
        """Record an Event, correlated (repeats counted, similar ones combined) as client-go does."""
        self.events.record(obj, kind, type_, reason, message, component, field_path=field_path, host=host)

    # -- pod creation -------------------------------------------------------------------------------

    def create_pod(
        self, owner: Obj, owner_kind: str, template: Obj, name: str, labels: dict[str, str], component: str
    ) -> Obj | None:
        """``new_pod``, or None when the API server refuses the pod (a quota): then a FailedCreate
        Warning on the owner, worded as the controller's pod control words it, and a backoff."""
        try:
            return self.new_pod(owner, owner_kind, template, name, labels)
        except ApiError as error:
            if error.code != 403:
                raise
            message = f"Error creating: {error.message}"
            if owner_kind == "StatefulSet":  # stateful_pod_control.go words it its own way
                owner_name = owner["metadata"]["name"]
                message = f"create Pod {name} in StatefulSet {owner_name} failed error: {error.message}"
            self.record(owner, owner_kind, "Warning", "FailedCreate", message, component)
            self._note_failure(owner, error.message)
            return None

    def _note_failure(self, owner: Obj, message: str) -> None:
        meta = owner["metadata"]
        previous = self._create_failures.get(meta["uid"])
        failures = previous.failures + 1 if previous else 1
        delay = min(RETRY_BASE * 2 ** min(failures - 1, 32), RETRY_MAX)
        self._create_failures[meta["uid"]] = CreateFailure(
            failures, self.clock.seconds() + delay, int(meta.get("generation", 1)), message
        )

    def backing_off(self, owner: Obj) -> str | None:
        """The last refusal of a pod for ``owner`` while its retry is not yet due, else None."""
        failure = self._create_failures.get(owner["metadata"]["uid"])
        if failure is None or failure.generation != int(owner["metadata"].get("generation", 1)):
            return None
        return failure.message if self.clock.seconds() < failure.retry_at else None

    def creation_failure(self, owner: Obj) -> str | None:
        """The refusal of ``owner``'s last pod creation (until one succeeds or none is needed)."""
        failure = self._create_failures.get(owner["metadata"]["uid"])
        return failure.message if failure else None

    def pods_created(self, owner: Obj) -> None:
        """Every pod ``owner`` wanted exists: forget its failures (the rate limiter's Forget)."""
        self._create_failures.pop(owner["metadata"]["uid"], None)

    def new_pod(
        self, owner: Obj, owner_kind: str, template: Obj, name: str, extra_labels: dict[str, str]
    ) -> Obj:
        """Create a pod for ``owner`` (raises ApiError 403 when a quota forbids it)."""
        namespace = owner["metadata"]["namespace"]
        quota.admit(self.store, "/pods", namespace, name)
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
