"""Terraform's state lock error, read into who holds the lock (texts as Terraform 1.15 prints them)."""

from __future__ import annotations

import pytest

from podium.stack.lock import state_lock

LOCAL = """
Error: Error acquiring the state lock

Error message: resource temporarily unavailable
Lock Info:
  ID:        2f1c7a7e-9d6e-6f0e-1f55-8c1b0d0c2b11
  Path:      /srv/airflow/podium/terraform/state/shop__dev.tfstate
  Operation: OperationTypeApply
  Who:       airflow@worker-2
  Version:   1.15.5
  Created:   2026-12-02 14:55:36.540744298 +0000 UTC
  Info:


Terraform acquires a state lock to protect the state from being written
by multiple users at the same time. Please resolve the issue above and try
again. For most commands, you can disable locking with the "-lock=false"
flag, but this is not recommended.
"""
PG = """
Error: Error acquiring the state lock

Error message: Already locked for workspace creation: default
Lock Info:
  ID:        bab1bd83-d077-8fd3-52b7-106fee47efef
  Path:
  Operation: OperationTypePlan
  Who:       root@vm
  Version:   1.15.5
  Created:   2026-12-02 14:55:36.540744298 +0000 UTC
  Info:
"""


@pytest.mark.parametrize(
    ("text", "backend", "message", "holder"),
    [
        (
            LOCAL,
            "local",
            "resource temporarily unavailable",
            "airflow@worker-2 (apply since 2026-12-02 14:55:36 UTC, "
            "lock ID 2f1c7a7e-9d6e-6f0e-1f55-8c1b0d0c2b11)",
        ),
        (
            PG,
            "pg",
            "Already locked for workspace creation: default",
            "another Terraform run (the pg backend records no holder: see pg_locks)",
        ),
    ],
)
def test_the_lock_and_its_holder(text: str, backend: str, message: str, holder: str) -> None:
    lock = state_lock(text)
    assert lock is not None
    assert lock.message == message
    assert lock.holder(backend) == holder


def test_other_errors_are_not_locks() -> None:
    assert state_lock("Error: Reference to undeclared input variable") is None
    assert state_lock("") is None
