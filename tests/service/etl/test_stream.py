"""The COPY feed: Parquet -> bounded Arrow batches -> CSV, and chunks produced ahead by a bounded thread."""

from __future__ import annotations

import threading

import pytest

from podium.warehouse.copy_formats import encode_csv
from podium.warehouse.parquet_reads import arrow_batches
from podium.warehouse.prefetch import prefetched


def test_prefetched_yields_everything_in_order():
    assert list(prefetched(iter(range(1000)), depth=3)) == list(range(1000))


def test_prefetched_hands_the_producers_error_to_the_consumer():
    def broken():
        yield 1
        raise ValueError("source broke")

    items = prefetched(broken(), depth=2)
    assert next(items) == 1
    with pytest.raises(ValueError, match="source broke"):
        next(items)


def test_a_consumer_that_stops_early_stops_the_producer():
    produced = []

    def endless():
        n = 0
        while True:
            produced.append(n)
            yield n
            n += 1

    before = threading.active_count()
    items = prefetched(endless(), depth=2)
    assert [next(items) for _ in range(5)] == [0, 1, 2, 3, 4]
    items.close()  # what a failed COPY does to the generator
    assert threading.active_count() == before
    assert len(produced) <= 5 + 2 + 2  # never ran more than the queue's depth ahead


def test_csv_chunks_keep_nulls_and_empty_strings_apart(tmp_path):
    import duckdb

    parquet = tmp_path / "rows.parquet"
    with duckdb.connect() as duck:
        duck.execute(
            f"""COPY (SELECT i, 'a"b,' || i AS s, '' AS empty, NULL::VARCHAR AS missing,
                       1.50::DECIMAL(12, 2) AS d
                FROM range(250001) t(i)) TO '{parquet}' (FORMAT parquet)"""
        )
    with arrow_batches(parquet, ["i", "s", "empty", "missing", "d"], batch_rows=100_000) as (rows, reader):
        received = [(batch.num_rows, bytes(encode_csv(batch))) for batch in reader]
    assert rows == 250_001
    assert sum(n for n, _ in received) == 250_001
    assert max(n for n, _ in received) <= 100_000  # bounded chunks, however big the partition
    assert sum(chunk.count(b"\n") for _, chunk in received) == 250_001
    first_line = received[0][1].split(b"\n")[0]
    assert first_line == b'0,"a""b,0","",,1.50'
