"""Kubernetes API errors: the one model every path uses (sync calls, async calls, watches).

An answer the API server gave (or a connection that gave none) becomes a :class:`KubeApiError`;
:func:`decide` says once whether it is retried, after what delay, and what the failure says; the
:class:`Decision` maps it once to podium's :class:`~podium.exceptions.TransientError` (Airflow may
retry the task) or :class:`~podium.exceptions.PermanentError` (it fails at once). The sync hook, the
async hook and the rollout wait's watch loop all call :func:`decide` with the same
:class:`RetryPolicy`. A watch's 410 Gone is not an error: the watch re-lists (client-go's reflector
does the same).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

from podium.exceptions import PermanentError, PodiumError, TransientError

# 0 stands for "no answer": a dropped connection, a reset, a timeout.
RETRYABLE_STATUS = frozenset({0, 429, 500, 502, 503, 504})
GONE = 410  # a watch's resourceVersion is too old: re-list, then watch again
RETRYABLE_ON_WATCH = RETRYABLE_STATUS | {GONE}


class KubeApiError(Exception):
    """An answer the API server gave (or a connection that gave none: status 0)."""

    def __init__(
        self, status: int, message: str, *, reason: str = "", retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.reason, self.retry_after = status, message, reason, retry_after

    @classmethod
    def from_response(
        cls, status: int, body: str | bytes | None, retry_after: str | None = None
    ) -> KubeApiError:
        message, reason = "", ""
        try:
            data = json.loads(body or b"{}")
            message, reason = str(data.get("message", "")), str(data.get("reason", ""))
        except (ValueError, AttributeError):
            message = (body.decode(errors="replace") if isinstance(body, bytes) else str(body or ""))[:500]
        try:
            delay = float(retry_after) if retry_after else None
        except ValueError:
            delay = None
        return cls(status, message or f"HTTP {status}", reason=reason, retry_after=delay)

    @classmethod
    def no_answer(cls, error: BaseException) -> KubeApiError:
        """A connection that gave no answer (reset, refused, timed out, closed mid-stream)."""
        return cls(0, f"{type(error).__name__}: {error}")

    @property
    def retryable(self) -> bool:
        return self.status in RETRYABLE_STATUS


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long podium retries a passing fault, on every path.

    ``max_attempts`` counts the first try. Delays grow exponentially from ``base`` with equal jitter,
    at most ``cap``; a server's Retry-After is honoured up to ``cap``.
    """

    max_attempts: int = 6
    base: float = 0.5
    cap: float = 10.0


DEFAULT_POLICY = RetryPolicy()


@dataclass(frozen=True)
class Decision:
    """What to do about one failed attempt: retry after ``delay``, or fail with ``message``.

    ``transient`` tells how the failure is raised once retries are spent or not allowed: as a
    TransientError (Airflow's task retries may still help) or a PermanentError (they cannot).
    """

    retry: bool
    delay: float = 0.0
    message: str = ""
    transient: bool = False

    def error(self) -> PodiumError:
        return TransientError(self.message) if self.transient else PermanentError(self.message)


def backoff(attempt: int, base: float, cap: float, retry_after: float | None = None) -> float:
    """Exponential backoff with equal jitter, at most ``cap``; a server's Retry-After is honoured."""
    delay = min(cap, base * 2**attempt)
    delay = delay / 2 + random.uniform(0, delay / 2)
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap))
    return delay


def decide(
    error: KubeApiError,
    *,
    attempt: int,
    verb: str,
    resource: str,
    namespace: str | None,
    policy: RetryPolicy = DEFAULT_POLICY,
    watch: bool = False,
) -> Decision:
    """Retry passing faults (no answer, 429, 500/502/503/504) up to the policy; fail fast otherwise.

    ``attempt`` counts from 0 (the first try failed). On a ``watch``, 410 Gone is retried too (the
    caller re-lists first), as client-go's reflector does.
    """
    if error.retryable or (watch and error.status == GONE):
        if attempt + 1 < policy.max_attempts:
            return Decision(True, backoff(attempt, policy.base, policy.cap, error.retry_after))
        message = failure_message(error, verb, resource, namespace, attempt + 1, watch=watch)
        return Decision(False, message=message, transient=True)
    return Decision(False, message=failure_message(error, verb, resource, namespace, attempt + 1))


def failure_message(
    error: KubeApiError,
    verb: str,
    resource: str,
    namespace: str | None,
    attempts: int,
    *,
    watch: bool = False,
) -> str:
    """What a failed API call says: what podium tried, what the server answered, what to do."""
    where = f" in namespace {namespace}" if namespace else ""
    if error.retryable or (watch and error.status == GONE):
        what = "no answer" if error.status == 0 else f"HTTP {error.status}"
        return (
            f"Kubernetes API kept failing to {verb} {resource}{where} "
            f"({what} after {attempts} attempt{'s' if attempts != 1 else ''}): {error.message}"
        )
    if error.status == 401:
        return (
            f"unauthorized: the API server did not accept podium's credentials to {verb} {resource}{where} "
            f"(check the Kubernetes connection's token, certificate or kubeconfig): {error.message}"
        )
    if error.status == 403:
        return (
            f"forbidden: podium's Kubernetes identity may not {verb} {resource}{where} "
            f"(grant it in the Role; see include/rbac/podium-deployer.yaml): {error.message}"
        )
    if error.status == 404:
        return f"not found: {error.message}"
    if error.status in (400, 422):
        return f"the API server refused to {verb} {resource}{where}: {error.message}"
    return f"cannot {verb} {resource}{where}: HTTP {error.status}: {error.message}"
