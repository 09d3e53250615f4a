"""The simulated kubelet: pod fates by image (ready, crash-looping, unpullable, failing), pod status
and the kubelet's events."""

from __future__ import annotations

from typing import Any

from kubesim.clock import parse_time
from kubesim.controllers import Controllers
from kubesim.workloads import READY_DELAY, image_fate

Obj = dict[str, Any]
CRASH_AFTER = 1.0  # seconds a crashing container runs before it exits
BACKOFF = 10.0  # seconds between restarts of a crashing container
PULL_BACKOFF_AFTER = 3.0  # seconds from ErrImagePull to ImagePullBackOff


class Kubelet(Controllers):
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
            message = pull_error(image) if reason == "ErrImagePull" else f'Back-off pulling image "{image}"'
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
                        "message": f"back-off 10s restarting failed container={name} pod={pod_ref(pod)}",
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
        """The kubelet's events for each container, about the container (fieldPath spec.containers{c})."""
        for status in statuses:
            state = status.get("state") or {}
            reason = (state.get("waiting") or {}).get("reason")
            if reason == "ErrImagePull":
                self._container_event(pod, status, "Normal", "Pulling", f'Pulling image "{status["image"]}"')
                message = f'Failed to pull image "{status["image"]}": {pull_error(status["image"])}'
                self._container_event(pod, status, "Warning", "Failed", message)
                self._container_event(pod, status, "Warning", "Failed", "Error: ErrImagePull")
            elif reason == "ImagePullBackOff":
                message = f'Back-off pulling image "{status["image"]}"'
                self._container_event(pod, status, "Normal", "BackOff", message)
                self._container_event(pod, status, "Warning", "Failed", "Error: ImagePullBackOff")
            elif reason == "CrashLoopBackOff":
                message = f"Back-off restarting failed container {status['name']} in pod {pod_ref(pod)}"
                self._container_event(pod, status, "Warning", "BackOff", message)
            elif "running" in state or "terminated" in state:
                self._started_events(pod, status)

    def _started_events(self, pod: Obj, status: Obj) -> None:
        started = f"{pod['metadata']['uid']}/{status['name']}"
        if started in self._started:
            return
        self._started.add(started)
        message = f'Container image "{status["image"]}" already present on machine'
        self._container_event(pod, status, "Normal", "Pulled", message)
        self._container_event(pod, status, "Normal", "Created", f"Created container {status['name']}")
        self._container_event(pod, status, "Normal", "Started", f"Started container {status['name']}")

    def _container_event(self, pod: Obj, status: Obj, type_: str, reason: str, message: str) -> None:
        field_path = f"spec.containers{{{status['name']}}}"
        host = pod["spec"].get("nodeName", "")
        self.record(pod, "Pod", type_, reason, message, "kubelet", field_path=field_path, host=host)


def pod_ref(pod: Obj) -> str:
    """How the kubelet names a pod in its messages (format.Pod): ``name_namespace(uid)``."""
    meta = pod["metadata"]
    return f"{meta['name']}_{meta.get('namespace', '')}({meta['uid']})"


def image_reference(image: str) -> str:
    """An image as containerd resolves it: ``shop:2.0`` -> ``docker.io/library/shop:2.0``."""
    first, _, rest = image.partition("/")
    if not rest or not ("." in first or ":" in first or first == "localhost"):
        image = f"docker.io/{image if rest else 'library/' + image}"
    last = image.rsplit("/", 1)[-1]
    return image if ":" in last or "@" in last else f"{image}:latest"


def pull_error(image: str) -> str:
    """What containerd answers the kubelet for an image that is not in its registry."""
    ref = image_reference(image)
    return (
        f'rpc error: code = NotFound desc = failed to pull and unpack image "{ref}": '
        f'failed to resolve reference "{ref}": {ref}: not found'
    )
