"""Pure rules of a release's Jobs and HTTP checks: which Job to run under what name, whether it is done,
and what a failure says (pods, containers, reasons, exit codes).

The wait loops live in :mod:`podium.triggers.kubernetes_job` and :mod:`podium.triggers.http_check`;
the operators in :mod:`podium.operators.release_checks` resume from their events.
"""

from __future__ import annotations

import copy
import hashlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]


@dataclass(frozen=True)
class JobStatus:
    """A Job's state from its conditions: ``complete``, ``failed`` (with the condition's reason and
    message) or ``running`` (anything else: pods still starting, running, or failing within the
    backoff limit)."""

    state: str
    reason: str = ""
    message: str = ""

    @property
    def done(self) -> bool:
        return self.state != "running"


def job_status(job: Mapping[str, Any]) -> JobStatus:
    """The state of ``job`` (a batch/v1 Job as the API returns it), as `kubectl wait` reads it: the
    ``Complete`` or ``Failed`` condition with status True. ``FailureTarget`` and ``SuccessCriteriaMet``
    (Kubernetes 1.31+) come before their final condition while pods terminate: still running."""
    conditions = {
        c.get("type"): c
        for c in (job.get("status") or {}).get("conditions") or []
        if c.get("status") == "True"
    }
    if "Complete" in conditions:
        return JobStatus("complete")
    failed = conditions.get("Failed")
    if failed is not None:
        return JobStatus("failed", str(failed.get("reason") or ""), str(failed.get("message") or ""))
    return JobStatus("running")


def describe_job_pods(pods: Sequence[Mapping[str, Any]]) -> str:
    """Why a Job's pods failed, in words: pod, phase, container, reason and exit code."""
    parts = []
    for pod in pods:
        status = pod.get("status") or {}
        reasons = []
        for container in status.get("containerStatuses") or []:
            state = container.get("state") or {}
            for key in ("terminated", "waiting"):
                if state.get(key):
                    detail = state[key]
                    code = f" exit code {detail['exitCode']}" if "exitCode" in detail else ""
                    reasons.append(f"{container.get('name')} {detail.get('reason') or key}{code}")
        parts.append(f"pod {pod['metadata']['name']} {status.get('phase', '?')}: {', '.join(reasons) or '-'}")
    return "; ".join(parts) or "no pods"


def job_failure_message(
    name: str,
    namespace: str,
    status: JobStatus,
    pods: Sequence[Mapping[str, Any]],
    *,
    deadline: float | None = None,
) -> str:
    """What a Job that failed (or that was still running at ``deadline``, epoch seconds) says."""
    if status.state == "failed":
        why = f"failed ({status.reason}: {status.message})"
    elif deadline is not None:
        why = f"did not complete by the timeout ({time.strftime('%H:%M:%S', time.gmtime(deadline))} UTC)"
    else:
        why = "did not complete"
    return f"job/{name} in {namespace} {why}; {describe_job_pods(pods)}"


def job_name(base: str, dag_id: str, run_id: str, task_id: str) -> str:
    """One Job per (run, task): retries of a run find their Job, another run starts a new one.

    The manifest's name (at most 54 characters) plus 8 hex digits of a hash: a valid name of at most
    63 characters, the limit of the ``job-name`` label the Job controller sets on its pods.
    """
    digest = hashlib.sha1(f"{dag_id}/{run_id}/{task_id}".encode()).hexdigest()[:8]
    return f"{base[:54].rstrip('-')}-{digest}"


def job_manifest(documents: Sequence[Obj], image_overrides: Mapping[str, str], origin: str) -> Obj:
    """The one Job of ``documents`` (a copy), its containers named in ``image_overrides`` running those
    images. Raises ValueError unless there is exactly one Job."""
    jobs = [d for d in documents if d.get("kind") == "Job"]
    if len(jobs) != 1:
        raise ValueError(f"{origin} must hold exactly one Job (found {len(jobs)})")
    job = copy.deepcopy(jobs[0])
    template = ((job.get("spec") or {}).get("template") or {}).get("spec") or {}
    for container in template.get("containers") or []:
        if container.get("name") in image_overrides:
            container["image"] = image_overrides[container["name"]]
    return job


def check_target(url: str | None, service: str | None, port: int | str | None, path: str) -> str:
    """What an HTTP check calls its target in messages: the URL, or ``service/NAME[:PORT]PATH``."""
    if url is not None:
        return url
    return f"service/{service}{':' + str(port) if port else ''}{path}"


def check_failure_message(
    target: str, status: int, expected: int, attempts: int, waited: float, body: str
) -> str:
    """What a check that never answered ``expected`` says: the last answer (0: none) and its body."""
    tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
    return (
        f"{target} answered {status or 'nothing'} (expected {expected}) for {waited:.1f}s, {tries}; "
        f"last answer: {body.strip()[:300]}"
    )
