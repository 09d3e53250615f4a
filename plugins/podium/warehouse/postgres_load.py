"""One load into PostgreSQL: every table's interval replaced in one transaction.

A table ``PARTITION BY LIST (<partition column>)`` gets partition exchange (:mod:`.exchange`, its
stage filled over several connections by :func:`.copying.fill_stage`); any other table gets DELETE
and COPY in the swap's transaction (:func:`.copying.delete_and_copy`). Table DDL runs first, each in
its own short transaction under an advisory lock; loads of the same table and interval are
serialized by a session advisory lock.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

from podium.etl.loads import TableLoad
from podium.exceptions import TransientError
from podium.warehouse.copy_formats import target_types
from podium.warehouse.copying import delete_and_copy, fill_stage
from podium.warehouse.exchange import Stage, create_stage, drop_quietly, exchange, exchange_target

log = logging.getLogger(__name__)


def load_postgres(
    connect: Callable[[], Any],
    loads: Sequence[TableLoad],
    partition_column: str,
    partition_value: Any,
    duck: Any,
    *,
    copy_parallelism: int,
    binary_copy: bool,
) -> dict[str, dict[str, int]]:
    """Replace each table's interval by its Parquet's rows; ``{table: {"deleted": n, "loaded": m}}``.

    ``connect``: opens a new psycopg (v3) connection to the warehouse; ``loads`` carry their columns.
    """
    import psycopg

    conn = connect()
    staged: dict[str, Stage] = {}
    results: dict[str, dict[str, int]] = {}
    committed = False
    try:
        _run_ddl(conn, loads)
        _lock_interval(conn, loads, partition_value)
        for load in loads:
            target = exchange_target(conn, load.table, partition_column)
            conn.commit()
            if target is not None:
                stage = staged[load.table] = create_stage(conn, target, partition_column, partition_value)
                types = target_types(conn, target.qualified)
                conn.commit()
                fill_stage(
                    connect, load, stage, types, partition_column, partition_value, duck,
                    copy_parallelism=copy_parallelism, binary_copy=binary_copy,
                )  # fmt: skip
        # the swap: every table's interval in one transaction
        for load in loads:
            if load.table in staged:
                results[load.table] = exchange(conn, staged[load.table], partition_column, partition_value)
            else:
                results[load.table] = delete_and_copy(
                    conn, load, partition_column, partition_value, duck, binary_copy=binary_copy
                )
        conn.commit()
        committed = True
    except psycopg.OperationalError as error:
        _rollback(conn)
        raise TransientError(f"warehouse load failed and was rolled back: {error}") from error
    except BaseException:
        _rollback(conn)
        raise
    finally:
        if not committed:
            for stage in staged.values():
                drop_quietly(conn, stage.qualified)
        conn.close()
    _log_results(results, staged, partition_column, partition_value)
    return results


def _run_ddl(conn: Any, loads: Sequence[TableLoad]) -> None:
    """Each table's DDL in its own short transaction, serialized by an advisory lock per table."""
    for load in loads:
        if ddl := load.ddl_for("postgres"):
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (load.table,))
                cur.execute(ddl)
            conn.commit()


def _lock_interval(conn: Any, loads: Sequence[TableLoad], partition_value: Any) -> None:
    """One load at a time per table and interval (a session lock: held until the connection closes)."""
    for table in sorted(load.table for load in loads):
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (f"podium:{table}:{partition_value}",))
    conn.commit()


def _rollback(conn: Any) -> None:
    with contextlib.suppress(Exception):
        conn.rollback()


def _log_results(
    results: dict[str, dict[str, int]], staged: dict[str, Stage], partition_column: str, partition_value: Any
) -> None:
    for table, counts in results.items():
        log.info(
            "%s: replaced %d rows by %d for %s=%s (%s)",
            table,
            counts["deleted"],
            counts["loaded"],
            partition_column,
            partition_value,
            "partition exchange" if table in staged else "delete and copy",
        )
