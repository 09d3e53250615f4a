"""The warehouse: replace exactly one interval's rows of one or more tables, atomically.

Connection (default id ``warehouse``):

* conn_type ``postgres`` (psycopg v3 under PostgresHook), two strategies chosen per table:

  - **partition exchange**, for a table ``PARTITION BY LIST (<partition column>)`` (the example's
    tables are): the interval's rows are COPYed, over ``copy_parallelism`` connections at once, into
    a new table beside the live partition (``<table>__load_<key>_<token>``), which readers never see.
    Its count is checked. Then one short transaction swaps it in: the old partition is detached and
    dropped, the new one attached (a CHECK constraint proves its bound, so nothing is re-scanned) and
    renamed ``<table>_<key>``. A crash before that commit leaves the previous partition as it was; the
    rerun drops what the crashed attempt left and loads again.
  - **delete and copy**, for any other table: in the same transaction, ``DELETE`` the interval's rows,
    ``COPY`` the new ones on one connection, check the count.

  Either way all tables of one load commit together, readers never see one table of the interval
  updated without the others, and a rerun replaces instead of duplicating. DuckDB reads the Parquet
  as bounded Arrow batches; pgpq encodes them in PostgreSQL's binary COPY format when every column's
  type allows (:func:`podium.warehouse.copy_formats.copy_format`; the server then parses no text),
  else Arrow encodes CSV; a batch goes to the server while the next is encoded. Loads of the same
  table and interval are serialized by an advisory lock.

The hook holds the connections; the load itself is service code in :mod:`podium.warehouse`.
* conn_type ``sqlite`` (host = the database file): one transaction of DELETE and batched INSERTs; the
  embedded default of ``make run``, which has no database server.

Table DDL (``CREATE TABLE IF NOT EXISTS ...``, one statement string or one per conn type) runs first
in its own short transaction, serialized by an advisory lock on PostgreSQL so that parallel backfill
runs don't race to create a table.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from airflow.sdk import BaseHook

from podium.etl.loads import TableLoad, check_partition_column, split_table
from podium.exceptions import PermanentError
from podium.warehouse.duckdb_session import reuse_or_connect
from podium.warehouse.parquet_reads import parquet_columns
from podium.warehouse.postgres_load import load_postgres
from podium.warehouse.sqlite_load import load_sqlite


class WarehouseHook(BaseHook):
    """Interval-replacing loads into PostgreSQL (partition exchange or DELETE + COPY) or SQLite."""

    conn_name_attr = "warehouse_conn_id"
    default_conn_name = "warehouse"
    conn_type = "postgres"
    hook_name = "podium warehouse"

    def __init__(
        self,
        warehouse_conn_id: str = default_conn_name,
        *,
        copy_parallelism: int = 2,
        binary_copy: bool = True,
    ) -> None:
        super().__init__()
        if copy_parallelism < 1:
            raise ValueError(f"copy_parallelism must be at least 1, got {copy_parallelism}")
        self.warehouse_conn_id = warehouse_conn_id
        self.copy_parallelism = copy_parallelism
        self.binary_copy = binary_copy

    def replace_partition(
        self, *, loads: Sequence[TableLoad], partition_column: str, partition_value: Any
    ) -> dict[str, dict[str, int]]:
        """Make each table's rows where ``partition_column = partition_value`` exactly its Parquet's rows.

        Returns ``{table: {"deleted": n, "loaded": m}}`` (``deleted``: the rows the interval had).
        """
        for load in loads:
            split_table(load.table)
        check_partition_column(partition_column)
        conn_type = self.get_connection(self.warehouse_conn_id).conn_type
        if conn_type not in ("postgres", "sqlite"):
            raise PermanentError(
                f"connection {self.warehouse_conn_id!r}: conn_type {conn_type!r} is not supported"
            )
        # one DuckDB connection reads every table's Parquet, one table after the other
        with reuse_or_connect() as duck:
            loads = [
                load if load.columns else replace(load, columns=tuple(parquet_columns(load.parquet, duck)))
                for load in loads
            ]
            if conn_type == "postgres":
                return load_postgres(
                    self._pg_connect, loads, partition_column, partition_value, duck,
                    copy_parallelism=self.copy_parallelism, binary_copy=self.binary_copy,
                )  # fmt: skip
            with contextlib.closing(self._sqlite_connect()) as conn:
                return load_sqlite(conn, loads, partition_column, partition_value, duck)

    def _pg_connect(self) -> Any:
        """A new psycopg (v3) connection through the provider's PostgresHook."""
        import psycopg
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        conn = PostgresHook(postgres_conn_id=self.warehouse_conn_id).get_conn()
        if not isinstance(conn, psycopg.Connection):
            conn.close()
            raise PermanentError("podium's warehouse load needs psycopg (v3) under PostgresHook")
        return conn

    def _sqlite_connect(self) -> Any:
        """A new ``sqlite3`` connection in autocommit mode to the file named by the connection's host."""
        import sqlite3

        database = self.get_connection(self.warehouse_conn_id).host
        if not database:
            raise PermanentError(f"connection {self.warehouse_conn_id!r}: host must be the SQLite file path")
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        return sqlite3.connect(database, timeout=60, isolation_level=None)
