"""A release's Job and HTTP check rules as pure functions (podium.release.checks): tables of cases."""

from __future__ import annotations

import calendar
import re
from typing import Any

import pytest

from podium.release.checks import (
    JobStatus,
    check_failure_message,
    check_target,
    describe_job_pods,
    job_failure_message,
    job_manifest,
    job_name,
    job_status,
)


def condition(kind: str, status: str = "True", **extra: str) -> dict[str, str]:
    return {"type": kind, "status": status, **extra}


def job(*conditions: dict[str, str]) -> dict[str, Any]:
    return {"kind": "Job", "metadata": {"name": "migrate"}, "status": {"conditions": list(conditions)}}


FAILED = condition(
    "Failed", reason="BackoffLimitExceeded", message="Job has reached the specified backoff limit"
)


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        pytest.param({"kind": "Job"}, JobStatus("running"), id="no-status-yet"),
        pytest.param(job(), JobStatus("running"), id="no-conditions"),
        pytest.param(
            job(condition("SuccessCriteriaMet"), condition("Complete")), JobStatus("complete"), id="complete"
        ),
        pytest.param(job(condition("Complete", "False")), JobStatus("running"), id="complete-false"),
        pytest.param(
            job(condition("SuccessCriteriaMet")), JobStatus("running"), id="success-criteria-met-pods-ending"
        ),
        pytest.param(
            job(condition("FailureTarget", reason="BackoffLimitExceeded")),
            JobStatus("running"),
            id="failure-target-pods-ending",
        ),
        pytest.param(
            job(condition("FailureTarget", reason="BackoffLimitExceeded"), FAILED),
            JobStatus("failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit"),
            id="failed-backoff",
        ),
        pytest.param(
            job(condition("Failed", reason="DeadlineExceeded")),
            JobStatus("failed", "DeadlineExceeded", ""),
            id="failed-deadline-no-message",
        ),
        pytest.param(job(condition("Failed", "False")), JobStatus("running"), id="failed-false"),
        pytest.param(
            job(condition("Suspended", reason="JobSuspended")),
            JobStatus("running"),
            id="suspended-is-running",
        ),
    ],
)
def test_job_status_from_its_conditions(obj: dict[str, Any], expected: JobStatus) -> None:
    assert job_status(obj) == expected
    assert job_status(obj).done == (expected.state != "running")


def pod(name: str, phase: str, *containers: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": name}, "status": {"phase": phase, "containerStatuses": list(containers)}}


def container(name: str, **state: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "state": state}


@pytest.mark.parametrize(
    ("pods", "expected"),
    [
        pytest.param([], "no pods", id="none"),
        pytest.param(
            [pod("m-1", "Failed", container("app", terminated={"reason": "Error", "exitCode": 1}))],
            "pod m-1 Failed: app Error exit code 1",
            id="failed-exit-code",
        ),
        pytest.param(
            [
                pod("m-1", "Failed", container("app", terminated={"reason": "Error", "exitCode": 1})),
                pod("m-2", "Failed", container("app", terminated={"reason": "OOMKilled", "exitCode": 137})),
            ],
            "pod m-1 Failed: app Error exit code 1; pod m-2 Failed: app OOMKilled exit code 137",
            id="two-pods",
        ),
        pytest.param(
            [pod("m-1", "Pending", container("app", waiting={"reason": "ImagePullBackOff"}))],
            "pod m-1 Pending: app ImagePullBackOff",
            id="waiting-no-exit-code",
        ),
        pytest.param(
            [pod("m-1", "Failed", container("app", terminated={"exitCode": 2}))],
            "pod m-1 Failed: app terminated exit code 2",
            id="terminated-without-reason",
        ),
        pytest.param(
            [
                pod(
                    "m-1",
                    "Running",
                    container("app", running={"startedAt": "x"}),
                    container("sidecar", waiting={"reason": "CrashLoopBackOff"}),
                )
            ],
            "pod m-1 Running: sidecar CrashLoopBackOff",
            id="only-the-container-that-is-not-running",
        ),
        pytest.param([pod("m-1", "Pending")], "pod m-1 Pending: -", id="no-container-status-yet"),
        pytest.param([{"metadata": {"name": "m-1"}}], "pod m-1 ?: -", id="no-status"),
    ],
)
def test_describe_job_pods(pods: list[dict[str, Any]], expected: str) -> None:
    assert describe_job_pods(pods) == expected


DEADLINE = calendar.timegm((2026, 1, 1, 12, 30, 5, 0, 0, 0))
ONE_POD = [pod("m-1", "Failed", container("app", terminated={"reason": "Error", "exitCode": 1}))]


@pytest.mark.parametrize(
    ("status", "pods", "deadline", "expected"),
    [
        pytest.param(
            JobStatus("failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit"),
            ONE_POD,
            None,
            "job/m in ns failed (BackoffLimitExceeded: Job has reached the specified backoff limit); "
            "pod m-1 Failed: app Error exit code 1",
            id="failed",
        ),
        pytest.param(
            JobStatus("failed", "BackoffLimitExceeded", "limit"),
            ONE_POD,
            DEADLINE,
            "job/m in ns failed (BackoffLimitExceeded: limit); pod m-1 Failed: app Error exit code 1",
            id="failed-wins-over-the-deadline",
        ),
        pytest.param(
            JobStatus("running"),
            [pod("m-1", "Pending", container("app", waiting={"reason": "ErrImagePull"}))],
            DEADLINE,
            "job/m in ns did not complete by the timeout (12:30:05 UTC); pod m-1 Pending: app ErrImagePull",
            id="timeout",
        ),
        pytest.param(
            JobStatus("running"), [], None, "job/m in ns did not complete; no pods", id="no-deadline"
        ),
    ],
)
def test_job_failure_message(
    status: JobStatus, pods: list[Any], deadline: float | None, expected: str
) -> None:
    assert job_failure_message("m", "ns", status, pods, deadline=deadline) == expected


@pytest.mark.parametrize(
    ("base", "run_id", "task_id", "prefix"),
    [
        pytest.param("migrate", "manual__1", "catalog.pre_migrate", "migrate-", id="short"),
        pytest.param("a" * 70, "manual__1", "t", "a" * 54 + "-", id="long-cut-to-54"),
        pytest.param("x" * 53 + "-y", "manual__1", "t", "x" * 53 + "-", id="cut-trailing-dash"),
    ],
)
def test_job_name_is_stable_per_run_and_task_and_fits_a_label(
    base: str, run_id: str, task_id: str, prefix: str
) -> None:
    name = job_name(base, "dag", run_id, task_id)
    assert name.startswith(prefix)
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name)
    assert len(name) <= 63
    assert name == job_name(base, "dag", run_id, task_id)  # a retry finds its Job
    assert name != job_name(base, "dag", run_id + "x", task_id)  # another run starts a new one
    assert name != job_name(base, "dag", run_id, task_id + "x")
    assert name != job_name(base, "dag2", run_id, task_id)


JOB = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {"name": "migrate"},
    "spec": {
        "template": {
            "spec": {
                "containers": [{"name": "api", "image": "api:old"}, {"name": "proxy", "image": "proxy:1"}],
                "initContainers": [{"name": "api", "image": "api:init"}],
            }
        }
    },
}
CONFIG = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}


@pytest.mark.parametrize(
    ("documents", "overrides", "images"),
    [
        pytest.param([JOB], {}, ["api:old", "proxy:1"], id="no-overrides"),
        pytest.param([CONFIG, JOB], {"api": "api:2.0"}, ["api:2.0", "proxy:1"], id="named-container-only"),
        pytest.param([JOB], {"web": "web:2.0"}, ["api:old", "proxy:1"], id="unknown-container-ignored"),
    ],
)
def test_job_manifest_sets_the_service_images(
    documents: list[dict[str, Any]], overrides: dict[str, str], images: list[str]
) -> None:
    result = job_manifest(documents, overrides, "jobs/migrate.yaml")
    assert [c["image"] for c in result["spec"]["template"]["spec"]["containers"]] == images
    assert result["spec"]["template"]["spec"]["initContainers"] == [{"name": "api", "image": "api:init"}]
    assert JOB["spec"]["template"]["spec"]["containers"][0]["image"] == "api:old"  # a copy


@pytest.mark.parametrize(
    ("documents", "found"),
    [
        pytest.param([], 0, id="none"),
        pytest.param([CONFIG], 0, id="no-job"),
        pytest.param([JOB, JOB], 2, id="two"),
    ],
)
def test_job_manifest_needs_exactly_one_job(documents: list[dict[str, Any]], found: int) -> None:
    with pytest.raises(ValueError, match=rf"^jobs/migrate.yaml must hold exactly one Job \(found {found}\)$"):
        job_manifest(documents, {}, "jobs/migrate.yaml")


@pytest.mark.parametrize(
    ("url", "service", "port", "path", "expected"),
    [
        pytest.param("https://shop.example/ready", None, None, "/", "https://shop.example/ready", id="url"),
        pytest.param(None, "web", 80, "/healthz", "service/web:80/healthz", id="service-port"),
        pytest.param(None, "web", "http", "/", "service/web:http/", id="named-port"),
        pytest.param(None, "web", None, "/healthz", "service/web/healthz", id="no-port"),
    ],
)
def test_check_target(url: str | None, service: str | None, port: Any, path: str, expected: str) -> None:
    assert check_target(url, service, port, path) == expected


@pytest.mark.parametrize(
    ("status", "attempts", "waited", "body", "expected"),
    [
        pytest.param(
            503,
            3,
            1.04,
            '{"message": "no endpoints"}\n',
            "service/web:80/ answered 503 (expected 200) for 1.0s, 3 attempts; "
            'last answer: {"message": "no endpoints"}',
            id="503",
        ),
        pytest.param(
            0,
            1,
            10.0,
            "ClientConnectorError: refused",
            "service/web:80/ answered nothing (expected 200) for 10.0s, 1 attempt; "
            "last answer: ClientConnectorError: refused",
            id="no-answer",
        ),
        pytest.param(
            500,
            2,
            2.0,
            "x" * 1000,
            f"service/web:80/ answered 500 (expected 200) for 2.0s, 2 attempts; last answer: {'x' * 300}",
            id="long-body-cut",
        ),
    ],
)
def test_check_failure_message(status: int, attempts: int, waited: float, body: str, expected: str) -> None:
    assert check_failure_message("service/web:80/", status, 200, attempts, waited, body) == expected
