"""Expected per-day numbers, computed independently of the pipeline: plain Python over the raw CSV.

Nothing here calls podium's SQL or DuckDB: the rules are re-stated from the generator's contract.
"""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
STATUSES = {"placed", "shipped", "delivered", "cancelled"}


def regions() -> dict[int, str]:
    with (REPO / "include" / "etl" / "customers.csv").open(newline="") as handle:
        return {int(row["customer_id"]): row["region"] for row in csv.DictReader(handle)}


def _parse(row: dict[str, str], region_of: dict[int, str]) -> dict[str, Any] | None:
    try:
        customer = int(row["customer_id"])
        ts = datetime.fromisoformat(row["order_ts"])
        amount = Decimal(row["amount"])
    except (ValueError, InvalidOperation):
        return None
    if customer not in region_of or amount < 0 or row["status"] not in STATUSES or not row["order_id"]:
        return None
    return {
        "order_id": row["order_id"],
        "region": region_of[customer],
        "ts": ts,
        "amount": amount,
        "status": row["status"],
    }


def expected_day(raw_csv: Path | str, day: date) -> dict[str, Any]:
    """Lines, quarantined, clean orders and revenue by region for one day's raw export (a path or text)."""
    region_of = regions()
    lines = quarantined = 0
    clean: dict[str, dict[str, Any]] = {}
    text = raw_csv.read_text() if isinstance(raw_csv, Path) else raw_csv
    for row in csv.DictReader(io.StringIO(text, newline="")):
        lines += 1
        order = _parse(row, region_of)
        if order is None:
            quarantined += 1
        else:
            clean.setdefault(order["order_id"], order)
    start = datetime(day.year, day.month, day.day)
    by_region: dict[str, dict[str, Any]] = {}
    for order in clean.values():
        agg = by_region.setdefault(
            order["region"], {"orders": 0, "paid_orders": 0, "revenue": Decimal("0.00"), "late_orders": 0}
        )
        agg["orders"] += 1
        if order["status"] != "cancelled":
            agg["paid_orders"] += 1
            agg["revenue"] += order["amount"]
        agg["late_orders"] += order["ts"] < start
    return {"lines": lines, "quarantined": quarantined, "orders": len(clean), "by_region": by_region}


def table_checksum(conn: Any, table: str) -> tuple[int, str]:
    """(rows, md5 of all rows in a stable order) of a PostgreSQL table."""
    row = conn.execute(
        f"SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM {table} AS t"
    ).fetchone()
    return int(row[0]), row[1]


def revenue_rows(conn: Any, day: date) -> dict[str, dict[str, Any]]:
    rows = conn.execute(
        "SELECT region, orders, paid_orders, revenue, late_orders FROM daily_revenue WHERE ds = %s", (day,)
    ).fetchall()
    return {
        region: {"orders": o, "paid_orders": p, "revenue": r, "late_orders": late}
        for region, o, p, r, late in rows
    }


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
