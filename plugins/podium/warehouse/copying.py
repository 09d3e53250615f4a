"""COPY a table's Parquet rows into PostgreSQL: into a stage table over several connections at once,
or in the load's transaction after a DELETE of the interval's rows (one connection)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from podium.etl.loads import TableLoad, split_table
from podium.etl.progress import Progress
from podium.exceptions import PermanentError
from podium.warehouse.copy_formats import CopyFormat, chosen_format, copy_sql, target_types
from podium.warehouse.exchange import Stage
from podium.warehouse.parquet_reads import arrow_batches
from podium.warehouse.prefetch import prefetched

log = logging.getLogger(__name__)
STAGE_BATCH_ROWS = 50_000


def fill_stage(
    connect: Callable[[], Any],
    load: TableLoad,
    stage: Stage,
    types: Mapping[str, str],
    partition_column: str,
    partition_value: Any,
    duck: Any,
    *,
    copy_parallelism: int,
    binary_copy: bool,
) -> None:
    """COPY ``load``'s rows into ``stage`` (:func:`copy_into_stage`) and check that all arrived."""
    stage.loaded, stage.expected = copy_into_stage(
        connect, load, stage, types, duck, copy_parallelism=copy_parallelism, binary_copy=binary_copy
    )
    if stage.loaded != stage.expected:
        raise PermanentError(
            f"{load.table}: {stage.loaded} rows arrived for {partition_column}={partition_value}, "
            f"expected {stage.expected}; nothing was replaced"
        )


def copy_into_stage(
    connect: Callable[[], Any],
    load: TableLoad,
    stage: Stage,
    types: Mapping[str, str],
    duck: Any,
    *,
    copy_parallelism: int,
    binary_copy: bool,
) -> tuple[int, int]:
    """COPY ``load``'s rows into the stage table over ``copy_parallelism`` connections (``connect``).

    Each connection's thread takes the next Arrow batch, encodes it and sends it (a thread waiting
    on its socket lets another encode); at the end each commits its share (the table is nobody's
    partition yet). Returns ``(rows COPYed, rows in the Parquet)``.
    """
    assert load.columns is not None
    with arrow_batches(load.parquet, load.columns, batch_rows=STAGE_BATCH_ROWS, duck=duck) as (
        expected,
        reader,
    ):
        fmt = chosen_format(load.table, reader.schema, types, binary=binary_copy)
        statement = copy_sql(stage.qualified, load.columns, fmt)
        # no more connections than batches: a small table goes over one
        parallelism = max(1, min(copy_parallelism, -(-expected // STAGE_BATCH_ROWS)))
        progress = Progress(
            log, f"COPY into {load.table} ({fmt.option}, {parallelism} connection(s))",
            total_rows=expected,
        )  # fmt: skip
        feed = _Feed(batches=iter(reader), progress=progress)
        _run_shares(connect, parallelism, statement, fmt, feed)
    progress.done()
    return sum(feed.copied), expected


@dataclass
class _Feed:
    """The Arrow batches that the COPY connections share, taken one at a time, and their outcome."""

    batches: Iterator[Any]
    progress: Progress
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    failed: list[BaseException] = field(default_factory=list)
    copied: list[int] = field(default_factory=list)


def _run_shares(
    connect: Callable[[], Any], parallelism: int, statement: Any, fmt: CopyFormat, feed: _Feed
) -> None:
    """One thread per connection, each COPYing batches from ``feed`` until none is left."""
    conns: list[Any] = []
    threads: list[threading.Thread] = []
    try:
        for index in range(parallelism):
            conns.append(connect())
            threads.append(
                threading.Thread(
                    target=_copy_share,
                    args=(conns[-1], statement, fmt, feed),
                    name=f"podium-copy-{index}",
                    daemon=True,
                )
            )
            threads[-1].start()
    except BaseException:
        feed.stop.set()
        raise
    finally:
        for thread in threads:
            thread.join()
        for conn in conns:
            conn.close()
    if feed.failed:
        raise feed.failed[0]


def _copy_share(conn: Any, statement: Any, fmt: CopyFormat, feed: _Feed) -> None:
    """COPY batches from ``feed`` on ``conn`` and commit them; on failure stop the other threads."""
    try:
        encoder = fmt.encoder()
        with conn.cursor() as cur:
            # no WAL flush wait at this commit: the swap's (synchronous) commit flushes the
            # WAL up to itself, so these rows are durable before anyone can see them
            cur.execute("SET synchronous_commit = off")
            with cur.copy(statement) as copy:
                copy.write(encoder.header())
                while not feed.stop.is_set():
                    with feed.lock:
                        batch = next(feed.batches, None)
                    if batch is None:
                        break
                    chunk = encoder.batch(batch)
                    copy.write(chunk)
                    with feed.lock:
                        feed.progress.add(rows=batch.num_rows, nbytes=len(chunk))
                if feed.stop.is_set():
                    raise RuntimeError("stopped: another COPY connection failed")
                copy.write(encoder.trailer())
            rows = cur.rowcount
        conn.commit()
        with feed.lock:
            feed.copied.append(rows)
    except BaseException as error:
        feed.failed.append(error)
        feed.stop.set()


def delete_and_copy(
    conn: Any, load: TableLoad, partition_column: str, partition_value: Any, duck: Any, *, binary_copy: bool
) -> dict[str, int]:
    """In the caller's transaction: DELETE the interval's rows, COPY ``load``'s, check the count."""
    from psycopg import sql

    assert load.columns is not None
    ident = sql.Identifier(*split_table(load.table))
    column = sql.Identifier(partition_column)
    types = target_types(conn, ident)
    with (
        arrow_batches(load.parquet, load.columns, duck=duck) as (expected, reader),
        conn.cursor() as cur,
    ):
        fmt = chosen_format(load.table, reader.schema, types, binary=binary_copy)
        encoder = fmt.encoder()
        progress = Progress(log, f"COPY into {load.table} ({fmt.option})", total_rows=expected)
        cur.execute(sql.SQL("DELETE FROM {} WHERE {} = %s").format(ident, column), (partition_value,))
        deleted = cur.rowcount
        # the server parses one chunk while the next is read and encoded
        chunks = prefetched(((b.num_rows, encoder.batch(b)) for b in iter(reader)), depth=4)
        with cur.copy(copy_sql(ident, load.columns, fmt)) as copy:
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
