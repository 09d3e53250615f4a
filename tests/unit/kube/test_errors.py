"""Which Kubernetes API errors are retried (and how long podium waits), and what fail-fast says."""

from __future__ import annotations

import pytest

from podium.exceptions import PermanentError, TransientError
from podium.kube.errors import Decision, KubeApiError, RetryPolicy, backoff, decide

WHERE = {"verb": "patch", "resource": "deployment/web", "namespace": "shop"}
THREE = RetryPolicy(max_attempts=3)


@pytest.mark.parametrize("status", [0, 429, 500, 502, 503, 504])
def test_passing_faults_are_retried_then_reported(status: int) -> None:
    error = KubeApiError(status, "etcdserver: request timed out")
    assert decide(error, attempt=0, policy=THREE, **WHERE).retry
    assert decide(error, attempt=1, policy=THREE, **WHERE).retry
    final = decide(error, attempt=2, policy=THREE, **WHERE)
    assert not final.retry
    assert final.message.startswith("Kubernetes API kept failing to patch deployment/web in namespace shop (")
    assert final.message.endswith("after 3 attempts): etcdserver: request timed out")
    assert final.transient
    assert isinstance(final.error(), TransientError)


SERVER = 'deployments.apps "web" is forbidden'
GRANT = "(grant it in the Role; see include/rbac/podium-deployer.yaml)"


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (
            403,
            f"forbidden: podium's Kubernetes identity may not patch deployment/web in namespace shop "
            f"{GRANT}: {SERVER}",
        ),
        (404, f"not found: {SERVER}"),
        (422, f"the API server refused to patch deployment/web in namespace shop: {SERVER}"),
        (409, f"cannot patch deployment/web in namespace shop: HTTP 409: {SERVER}"),
    ],
)
def test_other_errors_fail_at_once_with_the_servers_message(status: int, message: str) -> None:
    error = KubeApiError(status, SERVER)
    decision = decide(error, attempt=0, policy=RetryPolicy(max_attempts=5), **WHERE)
    assert decision == Decision(False, 0.0, message, transient=False)
    assert isinstance(decision.error(), PermanentError)


def test_a_watch_retries_gone_but_a_call_does_not() -> None:
    gone = KubeApiError(410, "too old resource version: 5 (90)")
    assert decide(gone, attempt=0, policy=THREE, watch=True, **WHERE).retry
    assert not decide(gone, attempt=0, policy=THREE, **WHERE).retry
    last = decide(gone, attempt=2, policy=THREE, watch=True, **WHERE)
    assert (last.retry, last.transient) == (False, True)
    assert "(HTTP 410 after 3 attempts)" in last.message


def test_backoff_grows_is_capped_and_honours_retry_after() -> None:
    for attempt in range(8):
        delay = backoff(attempt, base=0.5, cap=4.0)
        full = min(4.0, 0.5 * 2**attempt)
        assert full / 2 <= delay <= full
    assert backoff(0, base=0.5, cap=4.0, retry_after=3) >= 3
    assert backoff(0, base=0.5, cap=4.0, retry_after=60) <= 4.0  # a server cannot stall us past the cap


def test_errors_read_the_status_body() -> None:
    body = b'{"kind":"Status","message":"the object has been modified","reason":"Conflict","code":409}'
    error = KubeApiError.from_response(409, body, None)
    assert (error.status, error.reason, error.message, error.retry_after) == (
        409,
        "Conflict",
        "the object has been modified",
        None,
    )
    assert KubeApiError.from_response(429, b"slow down", "2").retry_after == 2.0
    assert (
        KubeApiError.from_response(502, b"<html>bad gateway</html>", "soon").message
        == "<html>bad gateway</html>"
    )
