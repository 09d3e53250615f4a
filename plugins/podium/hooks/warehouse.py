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
  type allows (:func:`copy_format`; the server then parses no text), else Arrow encodes CSV; a batch
  goes to the server while the next is encoded. Loads of the same table and interval are serialized
  by an advisory lock.
* conn_type ``sqlite`` (host = the database file): one transaction of DELETE and batched INSERTs; the
  embedded default of ``make run``, which has no database server.

Table DDL (``CREATE TABLE IF NOT EXISTS ...``, one statement string or one per conn type) runs first
in its own short transaction, serialized by an advisory lock on PostgreSQL so that parallel backfill
runs don't race to create a table.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
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
    ddl: str | Mapping[str, str] | None = None
    columns: tuple[str, ...] | None = None

    def ddl_for(self, conn_type: str) -> str | None:
        """The DDL to run on a ``conn_type`` connection: ``ddl`` itself, or its entry for the type."""
        if self.ddl is None or isinstance(self.ddl, str):
            return self.ddl
        if conn_type not in self.ddl:
            raise PermanentError(
                f"{self.table}: no DDL for conn_type {conn_type!r} (given for: {', '.join(sorted(self.ddl))})"
            )
        return self.ddl[conn_type]


def _short_hash(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:6]


def partition_key(value: Any) -> str:
    """A name-safe key for a partition value: ``2026-01-03`` -> ``20260103``."""
    key = re.sub(r"[^0-9A-Za-z]+", "", str(value)).lower()[:20]
    return key or _short_hash(str(value))


def split_table(table: str) -> tuple[str, ...]:
    parts = tuple(table.split("."))
    if not 1 <= len(parts) <= 2 or not all(_IDENT.match(part) for part in parts):
        raise PermanentError(f"table must be [schema.]name of plain identifiers, got {table!r}")
    return parts


def _source(parquet: Path) -> str:
    return str(parquet / "*.parquet") if parquet.is_dir() else str(parquet)


def parquet_columns(parquet: Path, duck: Any = None) -> list[str]:
    """The column names of a Parquet file, or of the files of a folder of them (``duck``: a DuckDB
    connection to use, else a new one)."""
    if parquet.is_dir() and not any(parquet.glob("*.parquet")):
        raise PermanentError(f"no Parquet file at {parquet}")
    with _duck(duck) as con:
        rows = con.execute(
            "DESCRIBE SELECT * FROM read_parquet(?, hive_partitioning = false)", [_source(parquet)]
        ).fetchall()
    return [row[0] for row in rows]


@contextlib.contextmanager
def _duck(duck: Any = None, memory_limit: str = "512MB") -> Iterator[Any]:
    """``duck`` itself (the caller's DuckDB connection), or a new connection closed on exit.

    A load opens one for all its reads: a DuckDB connection takes about 15 ms to open.
    """
    if duck is not None:
        yield duck
        return
    import duckdb  # already imported by the steps before a load; pyarrow.parquet would cost 0.15 s more

    with duckdb.connect(config={"memory_limit": memory_limit}) as con:
        yield con


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
def arrow_batches(
    parquet: Path,
    columns: Sequence[str],
    *,
    memory_limit: str = "512MB",
    batch_rows: int = 100_000,
    duck: Any = None,
) -> Iterator[tuple[int, Any]]:
    """``(rows, reader)``: ``columns`` of ``parquet`` as a pyarrow RecordBatchReader of ``batch_rows``.

    DuckDB reads the Parquet in parallel under its memory limit and hands batches over as they are
    pulled, so memory stays at a few batches whatever the partition's size. ``duck``: the DuckDB
    connection to read with (it runs nothing else until the reader is done), else a new one.
    """
    source = _source(parquet).replace("'", "''")
    cols = ", ".join(f'"{c}"' for c in columns)
    with _duck(duck, memory_limit) as con:
        row = con.execute(
            f"SELECT count(*) FROM read_parquet('{source}', hive_partitioning = false)"
        ).fetchall()
        reader = con.sql(
            f"SELECT {cols} FROM read_parquet('{source}', hive_partitioning = false)"
        ).to_arrow_reader(batch_rows)
        yield (int(row[0][0]) if row else 0), reader


def encode_csv(batch: Any) -> memoryview:
    """One Arrow record batch as headerless CSV, as PostgreSQL's COPY (FORMAT csv) reads it."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    sink = pa.BufferOutputStream()
    pacsv.write_csv(batch, sink, write_options=pacsv.WriteOptions(include_header=False))
    return memoryview(sink.getvalue())


# PostgreSQL type names each of pgpq's wire types may be received as, unchanged in meaning
_BINARY_TARGETS = {
    "BOOL": {"bool"},
    "INT2": {"int2"},
    "INT4": {"int4"},
    "INT8": {"int8"},
    "FLOAT4": {"float4"},
    "FLOAT8": {"float8"},
    "NUMERIC": {"numeric"},
    "TEXT": {"text", "varchar"},
    "DATE": {"date"},
    "BYTEA": {"bytea"},
}


@dataclass(frozen=True)
class CopyFormat:
    """How one table's rows travel: PostgreSQL's binary COPY format (pgpq), else CSV (Arrow)."""

    binary: bool
    schema: Any  # the pyarrow schema of the batches
    reason: str = ""

    @property
    def option(self) -> str:
        return "binary" if self.binary else "csv"

    def encoder(self) -> _Encoder:
        """A fresh encoder for one COPY stream (one per connection)."""
        return _Encoder(self)


class _Encoder:
    def __init__(self, fmt: CopyFormat) -> None:
        self.fmt = fmt
        self._pgpq: Any = None
        if fmt.binary:
            from pgpq import ArrowToPostgresBinaryEncoder

            self._pgpq = ArrowToPostgresBinaryEncoder(fmt.schema)

    def header(self) -> bytes:
        return self._pgpq.write_header() if self._pgpq is not None else b""

    def batch(self, batch: Any) -> Any:
        return self._pgpq.write_batch(batch) if self._pgpq is not None else encode_csv(batch)

    def trailer(self) -> bytes:
        return self._pgpq.finish() if self._pgpq is not None else b""


def copy_format(schema: Any, target_types: Mapping[str, str]) -> CopyFormat:
    """Binary when every column's binary form is what its target column receives, else CSV.

    Binary skips the server's text parsing (about half of a COPY's server time for dates, timestamps
    and numerics). ``target_types``: column -> PostgreSQL type name (``pg_type.typname``). A naive
    timestamp goes binary only into ``timestamp``, an aware one into ``timestamp``/``timestamptz``
    (as CSV into ``timestamptz`` it would be read in the session's time zone); anything else pgpq or
    this table does not cover makes the table go as CSV, which PostgreSQL parses with its own rules.
    """
    import pyarrow as pa

    try:
        from pgpq import ArrowToPostgresBinaryEncoder

        wire = {c.name: c.data_type.ddl() for c in ArrowToPostgresBinaryEncoder(schema).schema().columns}
    except Exception as error:  # an Arrow type pgpq has no encoder for
        return CopyFormat(False, schema, f"pgpq: {error}")
    for field in schema:
        target = target_types.get(field.name)
        kind = wire.get(field.name)
        if pa.types.is_timestamp(field.type):
            accepted = {"timestamp", "timestamptz"} if field.type.tz else {"timestamp"}
        else:
            accepted = _BINARY_TARGETS.get(str(kind), set())
        if target not in accepted:
            return CopyFormat(False, schema, f"column {field.name}: {field.type} into {target}")
    return CopyFormat(True, schema)


def target_types(conn: Any, table: Any) -> dict[str, str]:
    """Column -> ``pg_type.typname`` of ``table`` (a psycopg ``sql.Identifier``)."""
    rows = conn.execute(
        "SELECT a.attname, t.typname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
        "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped",
        (table.as_string(conn),),
    ).fetchall()
    return dict(rows)


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
        if not _IDENT.match(partition_column):
            raise PermanentError(f"partition_column must be a plain identifier, got {partition_column!r}")
        conn_type = self.get_connection(self.warehouse_conn_id).conn_type
        if conn_type not in ("postgres", "sqlite"):
            raise PermanentError(
                f"connection {self.warehouse_conn_id!r}: conn_type {conn_type!r} is not supported"
            )
        # one DuckDB connection reads every table's Parquet, one table after the other
        with _duck() as duck:
            loads = [
                load if load.columns else replace(load, columns=tuple(parquet_columns(load.parquet, duck)))
                for load in loads
            ]
            if conn_type == "postgres":
                return self._postgres(loads, partition_column, partition_value, duck)
            return self._sqlite(loads, partition_column, partition_value, duck)

    # -- PostgreSQL ---------------------------------------------------------------------------------

    def _pg_connect(self) -> Any:
        import psycopg
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        conn = PostgresHook(postgres_conn_id=self.warehouse_conn_id).get_conn()
        if not isinstance(conn, psycopg.Connection):
            conn.close()
            raise PermanentError("podium's warehouse load needs psycopg (v3) under PostgresHook")
        return conn

    def _postgres(
        self, loads: Sequence[TableLoad], partition_column: str, partition_value: Any, duck: Any
    ) -> dict[str, dict[str, int]]:
        import psycopg

        conn = self._pg_connect()
        staged: dict[str, _Stage] = {}
        results: dict[str, dict[str, int]] = {}
        committed = False
        try:
            for load in loads:
                if ddl := load.ddl_for("postgres"):
                    with conn.cursor() as cur:
                        cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (load.table,))
                        cur.execute(ddl)
                    conn.commit()
            # one load at a time per table and interval (a session lock: held until the connection closes)
            for table in sorted(load.table for load in loads):
                conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (f"podium:{table}:{partition_value}",))
            conn.commit()
            for load in loads:
                target = _pg_target(conn, load.table, partition_column)
                conn.commit()
                if target is not None:
                    stage = staged[load.table] = _create_stage(
                        conn, target, partition_column, partition_value
                    )
                    types = target_types(conn, target.qualified)
                    conn.commit()
                    self._fill(load, stage, types, partition_column, partition_value, duck)
            # the swap: every table's interval in one transaction
            for load in loads:
                if load.table in staged:
                    results[load.table] = _exchange(
                        conn, staged[load.table], partition_column, partition_value
                    )
                else:
                    results[load.table] = self._copy_one(conn, load, partition_column, partition_value, duck)
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
                    _drop_quietly(conn, stage.qualified)
            conn.close()
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
        return results

    def _fill(
        self,
        load: TableLoad,
        stage: _Stage,
        types: Mapping[str, str],
        partition_column: str,
        partition_value: Any,
        duck: Any,
    ) -> None:
        stage.loaded, stage.expected = self._parallel_copy(load, stage, types, duck)
        if stage.loaded != stage.expected:
            raise PermanentError(
                f"{load.table}: {stage.loaded} rows arrived for {partition_column}={partition_value}, "
                f"expected {stage.expected}; nothing was replaced"
            )

    def _parallel_copy(
        self, load: TableLoad, stage: _Stage, types: Mapping[str, str], duck: Any
    ) -> tuple[int, int]:
        """COPY ``load``'s rows into the stage table over ``copy_parallelism`` connections.

        Each connection's thread takes the next Arrow batch, encodes it and sends it (a thread waiting
        on its socket lets another encode); at the end each commits its share (the table is nobody's
        partition yet). Returns ``(rows COPYed, rows in the
        Parquet)``.
        """
        assert load.columns is not None
        failed: list[BaseException] = []
        copied: list[int] = []
        stop = threading.Event()
        lock = threading.Lock()

        batch_rows = 50_000
        with arrow_batches(load.parquet, load.columns, batch_rows=batch_rows, duck=duck) as (
            expected,
            reader,
        ):
            fmt = _chosen_format(load.table, reader.schema, types, binary=self.binary_copy)
            copy_sql = _copy_sql(stage.qualified, load.columns, fmt)
            # no more connections than batches: a small table goes over one
            parallelism = max(1, min(self.copy_parallelism, -(-expected // batch_rows)))
            batches = iter(reader)
            progress = Progress(
                log, f"COPY into {load.table} ({fmt.option}, {parallelism} connection(s))",
                total_rows=expected,
            )  # fmt: skip

            def copy_share(conn: Any) -> None:
                try:
                    encoder = fmt.encoder()
                    with conn.cursor() as cur:
                        # no WAL flush wait at this commit: the swap's (synchronous) commit flushes the
                        # WAL up to itself, so these rows are durable before anyone can see them
                        cur.execute("SET synchronous_commit = off")
                        with cur.copy(copy_sql) as copy:
                            copy.write(encoder.header())
                            while not stop.is_set():
                                with lock:
                                    batch = next(batches, None)
                                if batch is None:
                                    break
                                chunk = encoder.batch(batch)
                                copy.write(chunk)
                                with lock:
                                    progress.add(rows=batch.num_rows, nbytes=len(chunk))
                            if stop.is_set():
                                raise RuntimeError("stopped: another COPY connection failed")
                            copy.write(encoder.trailer())
                        rows = cur.rowcount
                    conn.commit()
                    with lock:
                        copied.append(rows)
                except BaseException as error:
                    failed.append(error)
                    stop.set()

            conns: list[Any] = []
            threads: list[threading.Thread] = []
            try:
                for index in range(parallelism):
                    conns.append(self._pg_connect())
                    threads.append(
                        threading.Thread(
                            target=copy_share, args=(conns[-1],), name=f"podium-copy-{index}", daemon=True
                        )
                    )
                    threads[-1].start()
            except BaseException:
                stop.set()
                raise
            finally:
                for thread in threads:
                    thread.join()
                for conn in conns:
                    conn.close()
            if failed:
                raise failed[0]
        progress.done()
        return sum(copied), expected

    def _copy_one(
        self, conn: Any, load: TableLoad, partition_column: str, partition_value: Any, duck: Any
    ) -> dict[str, int]:
        from psycopg import sql

        assert load.columns is not None
        ident = sql.Identifier(*split_table(load.table))
        column = sql.Identifier(partition_column)
        types = target_types(conn, ident)
        with (
            arrow_batches(load.parquet, load.columns, duck=duck) as (expected, reader),
            conn.cursor() as cur,
        ):
            fmt = _chosen_format(load.table, reader.schema, types, binary=self.binary_copy)
            encoder = fmt.encoder()
            progress = Progress(log, f"COPY into {load.table} ({fmt.option})", total_rows=expected)
            cur.execute(sql.SQL("DELETE FROM {} WHERE {} = %s").format(ident, column), (partition_value,))
            deleted = cur.rowcount
            # the server parses one chunk while the next is read and encoded
            chunks = prefetched(((b.num_rows, encoder.batch(b)) for b in iter(reader)), depth=4)
            with cur.copy(_copy_sql(ident, load.columns, fmt)) as copy:
                copy.write(encoder.header())
                for rows, chunk in chunks:
                    copy.write(chunk)
                    progress.add(rows=rows, nbytes=len(chunk))
                copy.write(encoder.trailer())
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
        self, loads: Sequence[TableLoad], partition_column: str, partition_value: Any, duck: Any
    ) -> dict[str, dict[str, int]]:
        import sqlite3

        database = self.get_connection(self.warehouse_conn_id).host
        if not database:
            raise PermanentError(f"connection {self.warehouse_conn_id!r}: host must be the SQLite file path")
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(database, timeout=60, isolation_level=None)
        results: dict[str, dict[str, int]] = {}
        try:
            for load in loads:
                if ddl := load.ddl_for("sqlite"):
                    conn.executescript(ddl)
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


@dataclass(frozen=True)
class _Target:
    """A table partitioned ``BY LIST`` on the partition column: loaded by partition exchange."""

    schema: str
    name: str

    @property
    def qualified(self) -> Any:
        from psycopg import sql

        return sql.Identifier(self.schema, self.name)


@dataclass
class _Stage:
    """The new partition of one load, filled beside the live one."""

    target: _Target
    name: str
    live_name: str
    check: str
    loaded: int = 0
    expected: int = 0

    @property
    def qualified(self) -> Any:
        from psycopg import sql

        return sql.Identifier(self.target.schema, self.name)


def _pg_target(conn: Any, table: str, partition_column: str) -> _Target | None:
    """``table`` as an exchange target when it is partitioned by LIST on ``partition_column`` alone."""
    row = conn.execute(
        "SELECT n.nspname, c.relname, p.partstrat, p.partnatts, a.attname "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "LEFT JOIN pg_partitioned_table p ON p.partrelid = c.oid "
        "LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = p.partattrs[0] "
        "WHERE c.oid = to_regclass(%s)",
        (table,),
    ).fetchone()
    if row is None:
        raise PermanentError(f"table {table!r} does not exist in the warehouse (and no DDL creates it)")
    schema, name, strategy, columns, column = row
    if strategy == "l" and columns == 1 and column == partition_column:
        return _Target(schema=schema, name=name)
    return None


def _current_partition(conn: Any, target: _Target, partition_column: str, partition_value: Any) -> Any:
    """The partition that holds ``partition_value`` now (as the planner prunes to it), or None."""
    from psycopg import sql

    plan = conn.execute(
        sql.SQL("EXPLAIN (FORMAT JSON, VERBOSE) SELECT 1 FROM {} WHERE {} = {}").format(
            target.qualified, sql.Identifier(partition_column), sql.Literal(str(partition_value))
        )
    ).fetchone()[0]
    found: list[tuple[str, str]] = []

    def walk(node: Mapping[str, Any]) -> None:
        if "Relation Name" in node:
            found.append((node["Schema"], node["Relation Name"]))
        for child in node.get("Plans", ()):
            walk(child)

    walk(plan[0]["Plan"])
    if not found:
        return None
    if len(found) > 1:
        raise PermanentError(
            f"{target.name}: {partition_column}={partition_value} is in {found}, not one partition"
        )
    schema, name = found[0]
    (bound,) = conn.execute(
        "SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_class c WHERE c.oid = to_regclass(%s)",
        (sql.Identifier(schema, name).as_string(conn),),
    ).fetchone()
    if bound == "DEFAULT":
        raise PermanentError(
            f"{target.name}: rows for {partition_column}={partition_value} would be in the default partition "
            f"{schema}.{name}; podium replaces list partitions of one value, not rows of a default partition"
        )
    return sql.Identifier(schema, name)


def _exchange(conn: Any, stage: _Stage, partition_column: str, partition_value: Any) -> dict[str, int]:
    """Swap the stage table in as the interval's partition (in the caller's transaction)."""
    from psycopg import sql

    parent = stage.target.qualified
    old = _current_partition(conn, stage.target, partition_column, partition_value)
    deleted = 0
    if old is not None:
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(old)).fetchone()
        deleted = int(row[0]) if row else 0
        conn.execute(sql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(parent, old))
        conn.execute(sql.SQL("DROP TABLE {}").format(old))
    conn.execute(
        sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES IN ({})").format(
            parent, stage.qualified, sql.Literal(str(partition_value))
        )
    )
    conn.execute(
        sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(stage.qualified, sql.Identifier(stage.check))
    )
    conn.execute(
        sql.SQL("ALTER TABLE {} RENAME TO {}").format(stage.qualified, sql.Identifier(stage.live_name))
    )
    return {"deleted": deleted, "loaded": stage.loaded}


def _rollback(conn: Any) -> None:
    with contextlib.suppress(Exception):
        conn.rollback()


def _drop_quietly(conn: Any, table: Any) -> None:
    """Drop a stage table that was never swapped in (a later attempt drops it if this fails)."""
    from psycopg import sql

    with contextlib.suppress(Exception):
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))
        conn.commit()


def _create_stage(conn: Any, target: _Target, partition_column: str, partition_value: Any) -> _Stage:
    """A new, empty table shaped like ``target``'s partitions, for the interval's new rows."""
    import secrets

    from psycopg import sql

    key = partition_key(partition_value)
    # a table's own prefix (a hash of its full name keeps long, similar names apart), within the 63
    # characters PostgreSQL keeps of a name
    tag = target.name if len(target.name) <= 26 else target.name[:19] + "_" + _short_hash(target.name)
    prefix = f"{tag}__load_{key[:16]}_"
    # what an earlier, crashed attempt at this interval left behind (the advisory lock excludes a
    # concurrent one)
    orphans = conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind = 'r' "
        "AND NOT c.relispartition AND starts_with(c.relname, %s)",
        (target.schema, prefix),
    ).fetchall()
    for (orphan,) in orphans:
        log.info("dropping %s.%s, left by an earlier attempt that did not finish", target.schema, orphan)
        conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(target.schema, orphan)))
    stage = _Stage(
        target=target,
        name=prefix + secrets.token_hex(4),
        live_name=f"{tag}_{key}",
        check=f"podium_load_{key}_{secrets.token_hex(4)}",
    )
    conn.execute(
        sql.SQL(
            "CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED "
            "INCLUDING STORAGE)"
        ).format(stage.qualified, target.qualified)
    )
    # proves the partition bound, so that ATTACH does not scan the rows again
    conn.execute(
        sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} CHECK ({} IS NOT NULL AND {} = {})").format(
            stage.qualified,
            sql.Identifier(stage.check),
            sql.Identifier(partition_column),
            sql.Identifier(partition_column),
            sql.Literal(str(partition_value)),
        )
    )
    conn.commit()
    return stage


def _chosen_format(table: str, schema: Any, types: Mapping[str, str], *, binary: bool) -> CopyFormat:
    fmt = copy_format(schema, types) if binary else CopyFormat(False, schema, "binary_copy is off")
    if not fmt.binary:
        log.info("%s: COPY as CSV (%s)", table, fmt.reason)
    return fmt


def _copy_sql(table: Any, columns: Sequence[str], fmt: CopyFormat) -> Any:
    from psycopg import sql

    return sql.SQL("COPY {} ({}) FROM STDIN (FORMAT {})").format(
        table, sql.SQL(", ").join(sql.Identifier(c) for c in columns), sql.SQL(fmt.option)
    )
