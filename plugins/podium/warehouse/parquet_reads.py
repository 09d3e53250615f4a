"""Staged Parquet read by DuckDB: its columns, and its rows as bounded Arrow batches."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from podium.exceptions import PermanentError
from podium.warehouse.duckdb_session import reuse_or_connect


def parquet_source(parquet: Path) -> str:
    """What ``read_parquet`` reads for ``parquet``: the file, or the Parquet files of the folder."""
    return str(parquet / "*.parquet") if parquet.is_dir() else str(parquet)


def parquet_columns(parquet: Path, duck: Any = None) -> list[str]:
    """The column names of a Parquet file, or of the files of a folder of them (``duck``: a DuckDB
    connection to use, else a new one)."""
    if parquet.is_dir() and not any(parquet.glob("*.parquet")):
        raise PermanentError(f"no Parquet file at {parquet}")
    with reuse_or_connect(duck) as con:
        rows = con.execute(
            "DESCRIBE SELECT * FROM read_parquet(?, hive_partitioning = false)", [parquet_source(parquet)]
        ).fetchall()
    return [row[0] for row in rows]


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
    source = parquet_source(parquet).replace("'", "''")
    cols = ", ".join(f'"{c}"' for c in columns)
    with reuse_or_connect(duck, memory_limit) as con:
        row = con.execute(
            f"SELECT count(*) FROM read_parquet('{source}', hive_partitioning = false)"
        ).fetchall()
        reader = con.sql(
            f"SELECT {cols} FROM read_parquet('{source}', hive_partitioning = false)"
        ).to_arrow_reader(batch_rows)
        yield (int(row[0][0]) if row else 0), reader
