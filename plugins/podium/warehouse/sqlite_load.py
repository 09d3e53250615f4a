"""One load into SQLite: DELETE the interval's rows and INSERT the new ones in batches, one transaction.

The embedded default of ``make run``, which has no database server.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from podium.etl.loads import TableLoad, split_table
from podium.etl.progress import Progress
from podium.warehouse.parquet_reads import parquet_source

log = logging.getLogger(__name__)


def load_sqlite(
    conn: Any, loads: Sequence[TableLoad], partition_column: str, partition_value: Any, duck: Any
) -> dict[str, dict[str, int]]:
    """Replace each table's interval by its Parquet's rows; ``{table: {"deleted": n, "loaded": m}}``.

    ``conn``: a ``sqlite3`` connection in autocommit mode (``isolation_level=None``); the caller
    closes it. ``loads`` carry their columns.
    """
    results: dict[str, dict[str, int]] = {}
    try:
        for load in loads:
            if ddl := load.ddl_for("sqlite"):
                conn.executescript(ddl)
        conn.execute("BEGIN IMMEDIATE")
        for load in loads:
            results[load.table] = _replace_rows(conn, load, partition_column, partition_value, duck)
        conn.execute("COMMIT")
        return results
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _replace_rows(
    conn: Any, load: TableLoad, partition_column: str, partition_value: Any, duck: Any
) -> dict[str, int]:
    assert load.columns is not None
    quoted = ".".join(f'"{p}"' for p in split_table(load.table))
    cols = ", ".join(f'"{c}"' for c in load.columns)
    marks = ", ".join("?" for _ in load.columns)
    deleted = conn.execute(
        f'DELETE FROM {quoted} WHERE "{partition_column}" = ?', (str(partition_value),)
    ).rowcount
    progress = Progress(log, f"INSERT into {load.table}")
    result = duck.execute(
        f"SELECT {cols} FROM read_parquet(?, hive_partitioning = false)",
        [parquet_source(load.parquet)],
    )
    while batch := result.fetchmany(10_000):
        rows = [tuple(sqlite_value(v) for v in row) for row in batch]
        conn.executemany(f"INSERT INTO {quoted} ({cols}) VALUES ({marks})", rows)
        progress.add(rows=len(rows))
    progress.done()
    return {"deleted": deleted, "loaded": progress.rows}


def sqlite_value(value: Any) -> Any:
    """A value as SQLite stores it: decimals as text, dates and times in ISO 8601."""
    from datetime import date, datetime
    from decimal import Decimal

    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
