"""Kubernetes API errors: which to retry (with what delay) and which fail at once, with what message."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


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


@dataclass(frozen=True)
class Decision:
    retry: bool
    delay: float = 0.0
    message: str = ""


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
    max_attempts: int,
    verb: str,
    resource: str,
    namespace: str | None,
    base: float = 0.5,
    cap: float = 10.0,
) -> Decision:
    """Retry passing faults (5xx, 429, dropped connections) a bounded number of times; fail fast otherwise."""
    where = f" in namespace {namespace}" if namespace else ""
    if error.status == 0 or error.status in RETRYABLE_STATUS:
        if attempt + 1 < max_attempts:
            return Decision(True, backoff(attempt, base, cap, error.retry_after))
        what = "no answer" if error.status == 0 else f"HTTP {error.status}"
        return Decision(
            False,
            message=f"Kubernetes API kept failing to {verb} {resource}{where} "
            f"({what} after {max_attempts} attempts): {error.message}",
        )
    if error.status == 403:
        return Decision(
            False,
            message=f"forbidden: podium's Kubernetes identity may not {verb} {resource}{where} "
            f"(grant it in the Role; see include/rbac/podium-deployer.yaml): "
            f"{error.message}",
        )
    if error.status == 404:
        return Decision(False, message=f"not found: {error.message}")
    if error.status in (400, 422):
        return Decision(False, message=f"the API server refused to {verb} {resource}{where}: {error.message}")
    return Decision(False, message=f"cannot {verb} {resource}{where}: HTTP {error.status}: {error.message}")
