"""Where each run's data lives: partitions keyed by the data interval, never by the run id.

A rerun of the same interval (a retry, a cleared task, a backfill with --reprocess-behavior) computes
the same paths, so it overwrites its own staging and replaces its own partition.
"""

from __future__ import annotations

import re
from datetime import date, datetime

_SEGMENT = re.compile(r"^[A-Za-z0-9_.-]+$")


def partition_date(data_interval_start: datetime | date | str) -> date:
    """The date that names the interval's partition: the day its data interval starts."""
    if isinstance(data_interval_start, str):
        return date.fromisoformat(data_interval_start[:10])
    if isinstance(data_interval_start, datetime):
        return data_interval_start.date()
    return data_interval_start


def partition_path(zone: str, table: str, day: date | str) -> str:
    """``zone/table/date=YYYY-MM-DD`` relative to the lake root (Hive-style partition)."""
    for what, value in (("zone", zone), ("table", table)):
        if not _SEGMENT.match(value):
            raise ValueError(f"{what} must be a plain path segment, got {value!r}")
    return f"{zone}/{table}/date={partition_date(day).isoformat()}"


def staging_path(dag_id: str, day: date | str) -> str:
    """The run's staging folder relative to the lake root: ``_staging/<dag_id>/date=YYYY-MM-DD``."""
    return partition_path("_staging", dag_id, day)
