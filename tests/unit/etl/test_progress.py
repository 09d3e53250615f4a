"""Progress lines of long steps: rows, bytes and rate, throttled, and DuckDB's percentage."""

from __future__ import annotations

import logging
import re

from podium.etl.progress import Progress, human_bytes


def test_progress_lines_carry_rows_bytes_and_rates(caplog):
    log = logging.getLogger("podium.test.progress")
    with caplog.at_level(logging.INFO, logger=log.name):
        progress = Progress(log, "COPY into orders", total_rows=3_000, every=0)
        progress.add(rows=1_000, nbytes=2 * 1024 * 1024)
        progress.add(rows=2_000, nbytes=1024 * 1024)
        progress.done()
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 3
    assert re.match(
        r"COPY into orders: 1,000 rows of 3,000 \(33%\), 2\.0 MiB, [\d,]+ rows/s, .+/s, [\d.]+ s$", lines[0]
    )
    assert re.match(r"COPY into orders done: 3,000 rows of 3,000 \(100%\), 3\.0 MiB, ", lines[2])


def test_progress_is_throttled(caplog):
    log = logging.getLogger("podium.test.progress")
    with caplog.at_level(logging.INFO, logger=log.name):
        progress = Progress(log, "step", every=3600)
        for _ in range(1_000):
            progress.add(rows=1)
    assert caplog.records == []
    assert progress.rows == 1_000


def test_duckdb_progress_reports_a_long_statement(capfd, caplog):
    import duckdb

    from podium.warehouse.duckdb_session import duckdb_progress

    caplog.set_level(logging.INFO, logger="podium.warehouse.duckdb_session")
    with duckdb.connect() as duck, duckdb_progress(duck, "sort", every=0.05):
        duck.execute("SELECT count(*) FROM (SELECT md5(i::VARCHAR) AS h FROM range(1500000) t(i) ORDER BY h)")
    out, err = capfd.readouterr()
    # where the lines go depends on whether Airflow configured logging earlier in the session
    text = out + err + caplog.text
    percents = [float(p) for p in re.findall(r"sort: (\d+)% after [\d.]+ s", text)]
    assert percents, text
    assert all(0 <= p <= 100 for p in percents)


def test_human_bytes():
    assert [human_bytes(n) for n in (12, 2048, 5 * 2**20, 3 * 2**30)] == [
        "12 B",
        "2.0 KiB",
        "5.0 MiB",
        "3.0 GiB",
    ]
