"""The warehouse: replace exactly one interval's rows of one or more tables, in one transaction.

Connection (default id ``warehouse``):

* conn_type ``postgres``: ``COPY ... FROM STDIN`` through psycopg (v3) from PostgresHook. In one
  transaction, for each table: ``DELETE`` the interval's rows, ``COPY`` the new ones streamed from
  Parquet (DuckDB writes them as CSV on local disk, then 1 MiB chunks go to the server), check the
  row count; then commit. A crash anywhere before the commit (the worker killed mid-COPY) rolls back
  to the previous rows; a rerun deletes and re-copies the same rows, so nothing is duplicated, and
  readers never see one table of the interval updated without the others.
* conn_type ``sqlite`` (host = the database file): the same transaction with batched INSERTs; the
  embedded default of ``make run``, which has no database server.

Table DDL (``CREATE TABLE IF NOT EXISTS ...``) runs first in its own short transaction, serialised by
an advisory lock on PostgreSQL so that parallel backfill runs don't race to create a table.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from airflow.sdk import BaseHook

from podium.etl.progress import Progress
from podium.exceptions import PermanentError, TransientError

log = logging.getLogger(__name__)
T = TypeVar("T")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class TableLoad:
    """One table's part of a load: its rows for the interval come from ``parquet``."""

    table: str
    parquet: Path
    ddl: str | None = None
    columns: tuple[str, ...] | None = None


def split_table(table: str) -> tuple[str, ...]:
    parts = tuple(table.split("."))
    if not 1 <= len(parts) <= 2 or not all(_IDENT.match(part) for part in parts):
        raise PermanentError(f"table must be [schema.]name of plain identifiers, got {table!r}")
    return parts


def _source(parquet: Path) -> str:
    return str(parquet / "*.parquet") if parquet.is_dir() else str(parquet)


def parquet_columns(parquet: Path) -> list[str]:
    import duckdb

    with duckdb.connect() as duck:
        rows = duck.execute(
            "DESCRIBE SELECT * FROM read_parquet(?, hive_partitioning = false)", [_source(parquet)]
        ).fetchall()
    return [row[0] for row in rows]


def prefetched(items: Iterator[T], *, depth: int) -> Iterator[T]:
    """``items``, produced by a background thread at most ``depth`` ahead of the consumer.

    The COPY sends one chunk while the next is read and encoded (DuckDB and Arrow release the GIL),
    and memory stays bounded. If the consumer stops early, the producer is stopped too.
    """
    import queue
    import threading

    slots: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        slots.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            slots.put(end)
        except BaseException as error:  # handed to the consumer, raised there
            slots.put(error)

    thread = threading.Thread(target=produce, name="podium-prefetch", daemon=True)
    thread.start()
    try:
        while (item := slots.get()) is not end:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            with contextlib.suppress(queue.Empty):
                slots.get(timeout=0.1)
        thread.join()


@contextlib.contextmanager
def csv_stream(
    parquet: Path, columns: Sequence[str], *, memory_limit: str = "512MB", batch_rows: int = 100_000
) -> Iterator[tuple[int, Iterator[tuple[int, memoryview]]]]:
    """``(rows, chunks)``: ``columns`` of ``parquet`` as headerless CSV, one chunk per record batch.

    DuckDB reads the Parquet in parallel under its memory limit and hands Arrow record batches over as
    they are pulled; Arrow's CSV writer (no GIL) encodes each. Memory stays at a few batches whatever
    the partition's size, and the server parses one chunk while the next is encoded.
    """
    import duckdb
    import pyarrow as pa
    import pyarrow.csv as pacsv

    source = _source(parquet).replace("'", "''")
    cols = ", ".join(f'"{c}"' for c in columns)
    options = pacsv.WriteOptions(include_header=False)
    with duckdb.connect(config={"memory_limit": memory_limit}) as duck:
        row = duck.execute(
            f"SELECT count(*) FROM read_parquet('{source}', hive_partitioning = false)"
        ).fetchall()
        reader = duck.sql(
            f"SELECT {cols} FROM read_parquet('{source}', hive_partitioning = false)"
        ).to_arrow_reader(batch_rows)

        def encode(batches: Iterator[Any]) -> Iterator[tuple[int, memoryview]]:
            for batch in batches:
                sink = pa.BufferOutputStream()
                pacsv.write_csv(batch, sink, write_options=options)
                yield batch.num_rows, memoryview(sink.getvalue())

        yield (int(row[0][0]) if row else 0), prefetched(encode(iter(reader)), depth=4)


class WarehouseHook(BaseHook):
    """Interval-replacing loads into PostgreSQL (COPY) or SQLite."""

    conn_name_attr = "warehouse_conn_id"
    default_conn_name = "warehouse"
    conn_type = "postgres"
    hook_name = "podium warehouse"

    def __init__(self, warehouse_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.warehouse_conn_id = warehouse_conn_id

    def replace_partition(
        self, *, loads: Sequence[TableLoad], partition_column: str, partition_value: Any
    ) -> dict[str, dict[str, int]]:
        """Make each table's rows where ``partition_column = partition_value`` exactly its Parquet's rows.

        Returns ``{table: {"deleted": n, "loaded": m}}``.
        """
        for load in loads:
            split_table(load.table)
        if not _IDENT.match(partition_column):
            raise PermanentError(f"partition_column must be a plain identifier, got {partition_column!r}")
        loads = [
            load
            if load.columns
            else TableLoad(load.table, load.parquet, load.ddl, tuple(parquet_columns(load.parquet)))
            for load in loads
        ]
        conn_type = self.get_connection(self.warehouse_conn_id).conn_type
        if conn_type == "postgres":
            return self._postgres(loads, partition_column, partition_value)
        if conn_type == "sqlite":
            return self._sqlite(loads, partition_column, partition_value)
        raise PermanentError(
            f"connection {self.warehouse_conn_id!r}: conn_type {conn_type!r} is not supported"
        )

    # -- PostgreSQL ---------------------------------------------------------------------------------

    def _postgres(
        self, loads: Sequence[TableLoad], partition_column: str, partition_value: Any
    ) -> dict[str, dict[str, int]]:
        import psycopg
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        conn = PostgresHook(postgres_conn_id=self.warehouse_conn_id).get_conn()
        if not isinstance(conn, psycopg.Connection):
            raise PermanentError("podium's warehouse load needs psycopg (v3) under PostgresHook")
        results: dict[str, dict[str, int]] = {}
        try:
            for load in loads:
                if load.ddl:
                    with conn.cursor() as cur:
                        cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (load.table,))
                        cur.execute(load.ddl)
                    conn.commit()
            for load in loads:
                results[load.table] = self._copy_one(conn, load, partition_column, partition_value)
            conn.commit()
        except psycopg.OperationalError as error:
            conn.rollback()
            raise TransientError(f"warehouse load failed and was rolled back: {error}") from error
        except BaseException:
            conn.rollback()
            raise
        finally:
            conn.close()
        for table, counts in results.items():
            log.info(
                "%s: replaced %d rows by %d for %s=%s",
                table,
                counts["deleted"],
                counts["loaded"],
                partition_column,
                partition_value,
            )
        return results

    @staticmethod
    def _copy_one(conn: Any, load: TableLoad, partition_column: str, partition_value: Any) -> dict[str, int]:
        from psycopg import sql

        assert load.columns is not None
        ident = sql.Identifier(*split_table(load.table))
        column = sql.Identifier(partition_column)
        copy_sql = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
            ident, sql.SQL(", ").join(sql.Identifier(c) for c in load.columns)
        )
        with csv_stream(load.parquet, load.columns) as (expected, chunks), conn.cursor() as cur:
            progress = Progress(log, f"COPY into {load.table}", total_rows=expected)
            cur.execute(sql.SQL("DELETE FROM {} WHERE {} = %s").format(ident, column), (partition_value,))
            deleted = cur.rowcount
            with cur.copy(copy_sql) as copy:
                for rows, chunk in chunks:
                    copy.write(chunk)
                    progress.add(rows=rows, nbytes=len(chunk))
            cur.execute(
                sql.SQL("SELECT count(*) FROM {} WHERE {} = %s").format(ident, column), (partition_value,)
            )
            row = cur.fetchone()
        loaded = int(row[0]) if row else -1
        if loaded != expected:
            raise PermanentError(
                f"{load.table}: {loaded} rows for {partition_column}={partition_value} after COPY, "
                f"expected {expected}; rolled back"
            )
        progress.done()
        return {"deleted": deleted, "loaded": loaded}

    # -- SQLite -------------------------------------------------------------------------------------

    def _sqlite(
        self, loads: Sequence[TableLoad], partition_column: str, partition_value: Any
    ) -> dict[str, dict[str, int]]:
        import sqlite3

        import duckdb

        database = self.get_connection(self.warehouse_conn_id).host
        if not database:
            raise PermanentError(f"connection {self.warehouse_conn_id!r}: host must be the SQLite file path")
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(database, timeout=60, isolation_level=None)
        results: dict[str, dict[str, int]] = {}
        try:
            for load in loads:
                if load.ddl:
                    conn.executescript(load.ddl)
            conn.execute("BEGIN IMMEDIATE")
            for load in loads:
                assert load.columns is not None
                quoted = ".".join(f'"{p}"' for p in split_table(load.table))
                cols = ", ".join(f'"{c}"' for c in load.columns)
                marks = ", ".join("?" for _ in load.columns)
                deleted = conn.execute(
                    f'DELETE FROM {quoted} WHERE "{partition_column}" = ?', (str(partition_value),)
                ).rowcount
                progress = Progress(log, f"INSERT into {load.table}")
                with duckdb.connect(config={"memory_limit": "512MB"}) as duck:
                    result = duck.execute(
                        f"SELECT {cols} FROM read_parquet(?, hive_partitioning = false)",
                        [_source(load.parquet)],
                    )
                    while batch := result.fetchmany(10_000):
                        rows = [tuple(_sqlite_value(v) for v in row) for row in batch]
                        conn.executemany(f"INSERT INTO {quoted} ({cols}) VALUES ({marks})", rows)
                        progress.add(rows=len(rows))
                progress.done()
                results[load.table] = {"deleted": deleted, "loaded": progress.rows}
            conn.execute("COMMIT")
            return results
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()


def _sqlite_value(value: Any) -> Any:
    from datetime import date, datetime
    from decimal import Decimal

    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
