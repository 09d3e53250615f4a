"""Run only by tests/test_service_gates.py (its name keeps it out of normal collection)."""

from __future__ import annotations

import os

import pytest


def test_needs_postgres(postgres) -> None:
    assert postgres.port > 0


def test_needs_redis(redis_url) -> None:
    import redis

    assert redis.Redis.from_url(redis_url, socket_timeout=3).ping()


def test_sometimes_skipped() -> None:
    if os.environ.get("PODIUM_PROBE_SKIP"):
        pytest.skip("asked to skip")
