"""ShopHook on both of its databases: a SQLite file (the embedded default) and PostgreSQL.

Idempotency of every write, all-or-nothing reservations, and concurrent orders that never oversell
(threads, each with its own connection, racing for the same SKU).
"""

from __future__ import annotations

import json
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from checkout_shop.hook import OrderCancelled, ShopHook, StockShortage, sql_statements
from checkout_shop.rules import Line
from harness.shop_db import ShopDb
from podium.exceptions import PermanentError, TransientError

RACERS = 20
STOCK = 12


@pytest.fixture
def sqlite_hook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ShopHook:
    conn = {"conn_type": "sqlite", "host": str(tmp_path / "shop.db"), "extra": {"seed_catalogue": True}}
    monkeypatch.setenv("AIRFLOW_CONN_SHOP_TEST_SQLITE", json.dumps(conn))
    return ShopHook("shop_test_sqlite")


@pytest.fixture
def postgres_hook(fresh_shop_db: ShopDb, monkeypatch: pytest.MonkeyPatch) -> ShopHook:
    monkeypatch.setenv("AIRFLOW_CONN_SHOP_TEST_PG", fresh_shop_db.uri_env())
    return ShopHook("shop_test_pg")


@pytest.fixture(params=["sqlite", "postgres"])
def hook(request) -> ShopHook:
    return request.getfixturevalue(f"{request.param}_hook")


def stock_of(hook: ShopHook, sku: str) -> int:
    with hook.transaction() as tx:
        row = tx.one("SELECT stock FROM shop.products WHERE sku = ?", (sku,))
    assert row is not None
    return int(row[0])


def add_product(hook: ShopHook, sku: str, stock: int, price: int = 100) -> None:
    with hook.transaction() as tx:
        tx.execute(
            "INSERT INTO shop.products (sku, name, price_cents, stock) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (sku) DO UPDATE SET stock = excluded.stock",
            (sku, sku, price, stock),
        )


def test_the_schema_is_created_once_and_the_catalogue_seeded_on_request(hook: ShopHook) -> None:
    assert hook.ensure_schema() is True
    assert hook.ensure_schema() is False
    seeded = hook.dialect == "sqlite"  # only the embedded default's connection asks for the seed
    with hook.transaction() as tx:
        count = tx.one("SELECT count(*) FROM shop.products")
    assert count == ((3,) if seeded else (0,))


def test_every_write_happens_once_per_order_and_step(hook: ShopHook) -> None:
    hook.ensure_schema()
    add_product(hook, "SKU-X", 10, price=700)
    lines = (Line("SKU-X", 3),)

    order = hook.record_order(order_id="o-1", customer_id="c-1", lines=lines)
    assert order == {"order_id": "o-1", "total_cents": 2100, "items": [{"sku": "SKU-X", "qty": 3}]}
    assert hook.record_order(order_id="o-1", customer_id="c-1", lines=lines) == order
    with pytest.raises(PermanentError, match="exists with another customer or cart"):
        hook.record_order(order_id="o-1", customer_id="c-1", lines=(Line("SKU-X", 4),))

    assert hook.charge(order_id="o-1", amount_cents=2100, token="tok_ok")["replayed"] is False
    assert hook.charge(order_id="o-1", amount_cents=2100, token="tok_ok")["replayed"] is True
    assert hook.reserve(order_id="o-1", lines=lines) == {
        "reservation_key": "o-1:reserve_inventory",
        "replayed": False,
    }
    assert hook.reserve(order_id="o-1", lines=lines)["replayed"] is True
    assert stock_of(hook, "SKU-X") == 7
    for _ in range(2):
        hook.send_message(order_id="o-1", kind="confirmation", step="send_confirmation", payload={"n": 1})
        hook.create_shipment(order_id="o-1", lines=lines)

    # compensations, twice each: one refund, stock back once, one cancellation
    assert hook.release(order_id="o-1") == {
        "release_key": "o-1:release_inventory",
        "released_qty": 3,
        "replayed": False,
    }
    assert hook.release(order_id="o-1")["replayed"] is True
    assert stock_of(hook, "SKU-X") == 10
    assert hook.refund(order_id="o-1")["amount_cents"] == 2100
    assert hook.refund(order_id="o-1") == {
        "refund_key": "o-1:refund_payment",
        "amount_cents": 2100,
        "replayed": True,
    }
    hook.send_message(order_id="o-1", kind="cancellation", step="send_cancellation", payload={})
    hook.send_message(order_id="o-1", kind="cancellation", step="send_cancellation", payload={})

    with hook.transaction() as tx:
        counts = {
            table: tx.one(f"SELECT count(*) FROM shop.{table} WHERE order_id = ?", ("o-1",))[0]  # type: ignore[index]
            for table in ("orders", "charges", "refunds", "reservations", "releases", "outbox", "shipments")
        }
    assert counts == dict.fromkeys(
        ("orders", "charges", "refunds", "reservations", "releases", "shipments"), 1
    ) | {"outbox": 2}
    # a compensated order stays cancelled
    with pytest.raises(OrderCancelled):
        hook.charge(order_id="o-1", amount_cents=2100, token="tok_ok")
    with pytest.raises(OrderCancelled):
        hook.reserve(order_id="o-1", lines=lines)


def test_payment_failures(hook: ShopHook) -> None:
    hook.ensure_schema()
    with pytest.raises(PermanentError, match="card declined"):
        hook.charge(order_id="o-d", amount_cents=1, token="tok_declined")
    for attempt in (1, 2):
        with pytest.raises(TransientError, match=f"attempt {attempt}"):
            hook.charge(order_id="o-f", amount_cents=5, token="tok_flaky")
    assert hook.charge(order_id="o-f", amount_cents=5, token="tok_flaky")["replayed"] is False
    assert hook.refund(order_id="o-d")["amount_cents"] == 0  # nothing was charged


def test_a_reservation_is_all_or_nothing(hook: ShopHook) -> None:
    hook.ensure_schema()
    add_product(hook, "SKU-A", 5)
    add_product(hook, "SKU-B", 1)
    with pytest.raises(StockShortage, match="SKU-B"):
        hook.reserve(order_id="o-s", lines=(Line("SKU-A", 2), Line("SKU-B", 2)))
    assert (stock_of(hook, "SKU-A"), stock_of(hook, "SKU-B")) == (5, 1)
    with hook.transaction() as tx:
        assert tx.one("SELECT count(*) FROM shop.reservations WHERE order_id = 'o-s'") == (0,)


def test_concurrent_orders_never_oversell(hook: ShopHook) -> None:
    hook.ensure_schema()
    add_product(hook, "SKU-HOT", STOCK)
    add_product(hook, "SKU-WARM", 100)

    def reserve(i: int) -> str:
        own = ShopHook(hook.shop_conn_id)  # a connection per racer
        try:
            own.reserve(order_id=f"race-{i}", lines=(Line("SKU-HOT", 1), Line("SKU-WARM", 2)))
        except StockShortage:
            return "short"
        return "reserved"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(reserve, range(RACERS)))

    assert outcomes.count("reserved") == STOCK
    assert (stock_of(hook, "SKU-HOT"), stock_of(hook, "SKU-WARM")) == (0, 100 - 2 * STOCK)


def test_sql_statements_split_ddl_files() -> None:
    text = "-- a comment; not a statement\nCREATE TABLE a (x INT);\n\n  CREATE TABLE b (y INT) ;\n"
    assert sql_statements(text) == ["CREATE TABLE a (x INT)", "CREATE TABLE b (y INT)"]


def test_a_locked_sqlite_file_is_a_transient_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "locked.db"
    conn = {"conn_type": "sqlite", "host": str(path), "extra": {"seed_catalogue": True, "timeout": 0.2}}
    monkeypatch.setenv("AIRFLOW_CONN_SHOP_TEST_LOCKED", json.dumps(conn))
    hook = ShopHook("shop_test_locked")
    hook.ensure_schema()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(TransientError, match="OperationalError: database is locked"):
            hook.reserve(order_id="o-l", lines=(Line("SKU-MUG", 1),))
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert hook.reserve(order_id="o-l", lines=(Line("SKU-MUG", 1),))["replayed"] is False
