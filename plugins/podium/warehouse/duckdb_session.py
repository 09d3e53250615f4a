"""DuckDB in-process for the ETL steps: connections with bounded memory, and progress in the task log.

DuckDB runs with core features only (Parquet, CSV and JSON readers and writers are core; no extension
is ever installed or loaded) and a memory limit, spilling to local disk beyond it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def duckdb_connect(memory_limit: str, temp_dir: Path) -> Any:
    """An in-memory DuckDB connection with bounded memory that spills to ``temp_dir``."""
    import duckdb

    return duckdb.connect(
        config={
            "memory_limit": memory_limit,
            "temp_directory": str(temp_dir),
            "preserve_insertion_order": "false",
            "autoinstall_known_extensions": "false",
            "autoload_known_extensions": "false",
        }
    )


@contextlib.contextmanager
def reuse_or_connect(duck: Any = None, memory_limit: str = "512MB") -> Iterator[Any]:
    """``duck`` itself (the caller's DuckDB connection), or a new connection closed on exit.

    A load opens one for all its reads: a DuckDB connection takes about 15 ms to open.
    """
    if duck is not None:
        yield duck
        return
    import duckdb  # already imported by the steps before a load; pyarrow.parquet would cost 0.15 s more

    with duckdb.connect(config={"memory_limit": memory_limit}) as con:
        yield con


@contextlib.contextmanager
def duckdb_progress(duck: Any, step: str, every: float = 5.0) -> Iterator[None]:
    """Log DuckDB's progress through the running statement (percent, elapsed) every ``every`` seconds."""
    import threading
    import time

    duck.execute("SET enable_progress_bar = true")
    duck.execute("SET enable_progress_bar_print = false")
    done = threading.Event()
    started = time.monotonic()

    def report() -> None:
        while not done.wait(every):
            percent = duck.query_progress()
            if percent >= 0:
                log.info("%s: %.0f%% after %.0f s", step, percent, time.monotonic() - started)

    thread = threading.Thread(target=report, name=f"progress {step}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def count_rows(duck: Any, relation: str) -> int:
    """The rows of ``relation`` (a table function or a quoted view name)."""
    row = duck.execute(f"SELECT count(*) FROM {relation}").fetchone()
    return int(row[0]) if row else 0
