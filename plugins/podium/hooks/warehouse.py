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

import logging
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airflow.sdk import BaseHook

from podium.etl.progress import Progress
from podium.exceptions import PermanentError, TransientError

log = logging.getLogger(__name__)
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
CHUNK = 1 << 20


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


def parquet_to_csv(
    parquet: Path, csv_path: Path, columns: Sequence[str], *, memory_limit: str = "512MB"
) -> int:
    """Write ``columns`` of ``parquet`` (a file or a folder of files) as headerless CSV; returns rows."""
    import duckdb

    source = _source(parquet).replace("'", "''")
    target = str(csv_path).replace("'", "''")
    cols = ", ".join(f'"{c}"' for c in columns)
    with duckdb.connect(config={"memory_limit": memory_limit, "preserve_insertion_order": "false"}) as duck:
        row = duck.execute(
            f"SELECT count(*) FROM read_parquet('{source}', hive_partitioning = false)"
        ).fetchone()
        duck.execute(
            f"COPY (SELECT {cols} FROM read_parquet('{source}', hive_partitioning = false)) "
            f"TO '{target}' (FORMAT csv, HEADER false)"
        )
    return int(row[0]) if row else 0


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
            with tempfile.TemporaryDirectory(prefix="podium-load-") as tmp:
                for load in loads:
                    if load.ddl:
                        with conn.cursor() as cur:
                            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (load.table,))
                            cur.execute(load.ddl)
                        conn.commit()
                for load in loads:
                    results[load.table] = self._copy_one(
                        conn, load, partition_column, partition_value, Path(tmp)
                    )
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
    def _copy_one(
        conn: Any, load: TableLoad, partition_column: str, partition_value: Any, tmp: Path
    ) -> dict[str, int]:
        from psycopg import sql

        assert load.columns is not None
        ident = sql.Identifier(*split_table(load.table))
        column = sql.Identifier(partition_column)
        csv_path = tmp / f"{load.table}.csv"
        expected = parquet_to_csv(load.parquet, csv_path, load.columns)
        progress = Progress(log, f"COPY into {load.table}", total_rows=expected)
        with conn.cursor() as cur:
            cur.execute(sql.SQL("DELETE FROM {} WHERE {} = %s").format(ident, column), (partition_value,))
            deleted = cur.rowcount
            copy_sql = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
                ident, sql.SQL(", ").join(sql.Identifier(c) for c in load.columns)
            )
            with cur.copy(copy_sql) as copy, csv_path.open("rb") as handle:
                while chunk := handle.read(CHUNK):
                    copy.write(chunk)
                    progress.add(rows=chunk.count(b"\n"), nbytes=len(chunk))
            cur.execute(
                sql.SQL("SELECT count(*) FROM {} WHERE {} = %s").format(ident, column), (partition_value,)
            )
            row = cur.fetchone()
        csv_path.unlink()
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
