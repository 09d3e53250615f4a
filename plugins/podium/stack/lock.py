"""Terraform's "Error acquiring the state lock", read into who holds the lock (pure).

Terraform prints the lock's record on failure::

    Error: Error acquiring the state lock

    Error message: resource temporarily unavailable
    Lock Info:
      ID:        5d2c...
      Path:      /srv/state/shop__dev.tfstate
      Operation: OperationTypeApply
      Who:       airflow@worker-2
      Version:   1.15.5
      Created:   2026-12-02 14:55:36.540744298 +0000 UTC

The local and s3 backends print the holder's record. The pg backend keeps no record (a PostgreSQL
advisory lock): it prints the record of the lock that was *asked for*, so podium names no holder there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LOCK_ERROR = "Error acquiring the state lock"
_FIELD = re.compile(r"^\s+(ID|Path|Operation|Who|Version|Created|Info):[ \t]*(.*)$", re.MULTILINE)
_MESSAGE = re.compile(r"^Error message:\s*(.*)$", re.MULTILINE)


@dataclass(frozen=True)
class StateLock:
    """The lock Terraform could not take."""

    message: str = ""
    id: str = ""
    who: str = ""
    operation: str = ""
    created: str = ""
    path: str = ""

    def holder(self, backend: str) -> str:
        """Who holds it, in words (the pg backend does not know)."""
        if backend == "pg":
            return "another Terraform run (the pg backend records no holder: see pg_locks)"
        operation = self.operation.removeprefix("OperationType").lower() or "an operation"
        since = f" since {self.created.split('.')[0]} UTC" if self.created else ""
        return f"{self.who or 'someone'} ({operation}{since}, lock ID {self.id or '?'})"


def state_lock(output: str) -> StateLock | None:
    """The lock of a "could not acquire the state lock" failure in Terraform's ``output``, else None."""
    if LOCK_ERROR not in output:
        return None
    fields = {key.lower(): value.strip() for key, value in _FIELD.findall(output)}
    message = _MESSAGE.search(output)
    return StateLock(
        message=message.group(1).strip() if message else "",
        id=fields.get("id", ""),
        who=fields.get("who", ""),
        operation=fields.get("operation", ""),
        created=fields.get("created", ""),
        path=fields.get("path", ""),
    )
