"""podium's settings, read from Airflow's configuration (``[podium]`` section) and environment.

One home for every setting the layers above read, so no operator, sensor or builder reaches into
another's private helpers for them.
"""

from __future__ import annotations

import os
from pathlib import Path


def include_dir() -> Path:
    """Where manifests and specs given as paths live: $PODIUM_INCLUDE_DIR, else include/ beside the
    dags folder."""
    from airflow.configuration import conf

    configured = os.environ.get("PODIUM_INCLUDE_DIR")
    return (
        Path(configured) if configured else Path(conf.get("core", "dags_folder")).resolve().parent / "include"
    )


def default_deferrable() -> bool:
    """``[operators] default_deferrable``: what ``deferrable=None`` means for podium's waits."""
    from airflow.configuration import conf

    return conf.getboolean("operators", "default_deferrable", fallback=False)


def defer_settle_seconds() -> float:
    """``[podium] defer_settle_seconds`` (default 10): the least time a deferred wait takes.

    Airflow 3.3 fails a deferred task that resumes to RUNNING before the scheduler has drained the
    executor's success event from the worker that deferred it (apache/airflow#72716, open): the stale
    event looks like the resumed attempt's process ending. A wait that completes within seconds of
    the deferral hits that window on a busy scheduler. Holding the trigger's event until this long
    after the deferral keeps the resume out of it; a wait that takes longer is not delayed.
    """
    from airflow.configuration import conf

    return max(0.0, conf.getfloat("podium", "defer_settle_seconds", fallback=10.0))
