"""The synthetic orders source: deterministic per date, with the promised mix of odd lines."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import date

import pytest

from harness.etl_expected import REPO, expected_day
from podium.etl.generator import COLUMNS, customers_csv, day_csv, iter_day, write_day
from podium.etl.partitions import partition_date, partition_path, staging_path

REPO_CUSTOMERS = REPO / "include" / "etl" / "customers.csv"


def test_the_same_date_gives_the_same_bytes_and_another_date_differs():
    assert day_csv(date(2026, 1, 2), 500) == day_csv(date(2026, 1, 2), 500)
    assert day_csv(date(2026, 1, 2), 500) != day_csv(date(2026, 1, 3), 500)


@pytest.mark.parametrize("rows", [200, 5_000])
def test_the_mix_of_duplicates_late_and_malformed_lines(rows):
    day = date(2026, 1, 10)
    lines = list(iter_day(day, rows))
    ids = Counter(line[0] for line in lines)
    assert len(lines) == rows + int(rows * 0.02) + int(rows * 0.01) + max(1, int(rows * 0.005))
    assert sum(count - 1 for count in ids.values()) == int(rows * 0.02)  # exact duplicates
    late = [line for line in lines if line[2] < day.isoformat()]
    assert len(late) == int(rows * 0.01)
    assert all(line[0].startswith("20260109-L") for line in late)
    expected = expected_day(day_csv(day, rows).decode(), day)
    assert expected["quarantined"] == max(1, int(rows * 0.005))
    assert expected["orders"] == rows + int(rows * 0.01)


def test_write_day_writes_a_csv_with_header(tmp_path):
    path = tmp_path / "orders.csv"
    assert write_day(path, date(2026, 1, 1), 100) == 100 + 2 + 1 + 1
    rows = list(csv.reader(io.StringIO(path.read_text())))
    assert tuple(rows[0]) == COLUMNS
    assert path.read_bytes() == day_csv(date(2026, 1, 1), 100)


def test_the_shipped_customers_dimension_is_the_generators():
    assert REPO_CUSTOMERS.read_text() == customers_csv()
    regions = Counter(row["region"] for row in csv.DictReader(io.StringIO(customers_csv())))
    assert set(regions) == {"amer", "apac", "emea", "latam"}


def test_partitions_are_keyed_by_the_interval_not_the_run():
    from datetime import datetime

    assert partition_date(datetime(2026, 1, 3, 0, 0)) == date(2026, 1, 3)
    assert partition_date("2026-01-03T00:00:00+00:00") == date(2026, 1, 3)
    assert partition_path("curated", "orders_clean", "2026-01-03") == "curated/orders_clean/date=2026-01-03"
    assert staging_path("orders_daily", date(2026, 1, 3)) == "_staging/orders_daily/date=2026-01-03"
    with pytest.raises(ValueError, match="plain path segment"):
        partition_path("../etc", "x", date(2026, 1, 3))
