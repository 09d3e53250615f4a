"""A deterministic synthetic orders source: the same date always gives the same file.

Each day's file holds the orders that *arrived* that day, like an upstream system's daily export:

* ``rows_per_day`` well-formed orders placed that day,
* exact duplicates of some of them (the export re-sent lines),
* late records: orders placed the previous day that arrived today,
* malformed lines (unparseable amount, customer id or timestamp, unknown status).

Columns: ``order_id, customer_id, order_ts, amount, status``. Stdlib only (csv, random).
"""

from __future__ import annotations

import csv
import hashlib
import io
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

COLUMNS = ("order_id", "customer_id", "order_ts", "amount", "status")
STATUSES = ("placed", "shipped", "delivered", "cancelled")
REGIONS = ("amer", "apac", "emea", "latam")
CUSTOMERS = 500

MALFORMED = (
    ("amount", "N/A"),
    ("amount", ""),
    ("customer_id", "cust-??"),
    ("customer_id", ""),
    ("order_ts", "2026-13-45 25:61:00"),
    ("status", "lost_in_space"),
)


@dataclass(frozen=True)
class Mix:
    """Shares of each kind of line, relative to ``rows_per_day``."""

    duplicates: float = 0.02
    late: float = 0.01
    malformed: float = 0.005


def _seed(day: date, salt: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{salt}:{day.isoformat()}".encode()).digest()[:8], "big")


def _order(rng: random.Random, order_id: str, day: date) -> list[str]:
    moment = datetime.combine(day, time()) + timedelta(seconds=rng.randrange(86_400))
    cents = rng.randrange(100, 50_000)
    return [
        order_id,
        str(rng.randrange(1, CUSTOMERS + 1)),
        moment.isoformat(),
        f"{cents // 100}.{cents % 100:02d}",
        rng.choices(STATUSES, weights=(40, 30, 25, 5))[0],
    ]


def iter_day(day: date, rows_per_day: int, mix: Mix | None = None) -> Iterator[list[str]]:
    """The lines of ``day``'s export (without header), in file order."""
    mix = mix or Mix()
    rng = random.Random(_seed(day, "orders"))
    stamp = day.strftime("%Y%m%d")
    previous = day - timedelta(days=1)
    n_dup = int(rows_per_day * mix.duplicates)
    n_late = int(rows_per_day * mix.late)
    n_bad = max(1, int(rows_per_day * mix.malformed)) if rows_per_day else 0
    recent: list[list[str]] = []
    for i in range(rows_per_day):
        row = _order(rng, f"{stamp}-{i:08d}", day)
        if len(recent) < 64:
            recent.append(row)
        else:
            recent[rng.randrange(64)] = row
        yield row
        # interleave the odd lines through the file, as a real export would
        if n_dup and rng.random() < mix.duplicates:
            n_dup -= 1
            yield list(rng.choice(recent))
        if n_late and rng.random() < mix.late:
            n_late -= 1
            yield _order(rng, f"{previous.strftime('%Y%m%d')}-L{n_late:07d}", previous)
        if n_bad and rng.random() < mix.malformed:
            n_bad -= 1
            yield _malformed(rng, f"{stamp}-X{n_bad:07d}", day)
    # whatever the dice left over goes at the end, so the counts are exact
    for _ in range(n_dup):
        yield list(rng.choice(recent))
    for k in range(n_late):
        yield _order(rng, f"{previous.strftime('%Y%m%d')}-L{k:07d}", previous)
    for k in range(n_bad):
        yield _malformed(rng, f"{stamp}-X{k:07d}", day)


def _malformed(rng: random.Random, order_id: str, day: date) -> list[str]:
    row = _order(rng, order_id, day)
    column, value = rng.choice(MALFORMED)
    row[COLUMNS.index(column)] = value
    return row


def write_day(path: Path, day: date, rows_per_day: int, mix: Mix | None = None) -> int:
    """Write ``day``'s export as CSV (with header) to ``path``; returns the number of lines written."""
    count = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in iter_day(day, rows_per_day, mix):
            writer.writerow(row)
            count += 1
    return count


def day_csv(day: date, rows_per_day: int, mix: Mix | None = None) -> bytes:
    """``day``'s export as CSV bytes (small days only: it is built in memory)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(iter_day(day, rows_per_day, mix))
    return buffer.getvalue().encode()


def customers_csv() -> str:
    """The customers dimension (customer_id, name, region) shipped as include/etl/customers.csv."""
    rng = random.Random(_seed(date(2026, 1, 1), "customers"))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("customer_id", "name", "region"))
    for customer in range(1, CUSTOMERS + 1):
        writer.writerow((customer, f"customer-{customer:04d}", rng.choice(REGIONS)))
    return buffer.getvalue()
