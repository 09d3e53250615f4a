"""ShopHook: the checkout example's shop database (PostgreSQL schema ``shop``, or a SQLite file).

The same SQL runs on both: on PostgreSQL the tables live in schema ``shop``; on SQLite the database
file is ATTACHed under the name ``shop``, so ``shop.products`` names the same table on both. The DDL
is in ``include/sql/shop/{postgres,sqlite}.sql``.

Connection (``shop_default`` by default):

* ``conn_type`` ``postgres``: host, port, login, password, ``schema`` = database name (through the
  postgres provider's PostgresHook).
* ``conn_type`` ``sqlite``: ``host`` = path of the database file (Python's sqlite3; no provider needed);
  extra ``timeout``: seconds to wait for a locked file (default 30).
* extra ``{"seed_catalogue": true}`` inserts the demo catalogue (include/sql/shop/seed.sql) when the
  schema is first created.

Every write carries an idempotency key ``<order_id>:<step>`` (a primary key) and happens in one
transaction with the stock change it implies, so retries and re-runs change nothing twice, and a
conditional ``UPDATE ... WHERE stock >= qty`` keeps concurrent orders from overselling.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from airflow.sdk import BaseHook

from checkout_shop.rules import Line, canonical_items, idempotency_key, order_total, payment_outcome
from podium.exceptions import PermanentError, TransientError

SQL_DIR = Path(__file__).resolve().parents[2] / "include" / "sql" / "shop"
SCHEMA_LOCK = 7_004_211  # pg_advisory_xact_lock id for schema creation


class StockShortage(PermanentError):
    """Not enough stock for an order: retrying will not help."""


class OrderCancelled(PermanentError):
    """The order was compensated before: it stays cancelled (use a new order id)."""


class Tx:
    """A transaction's cursor; SQL uses ``?`` placeholders on both databases."""

    def __init__(self, cursor: Any, dialect: str) -> None:
        self.cursor = cursor
        self.dialect = dialect

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Tx:
        if self.dialect == "postgres":
            sql = sql.replace("?", "%s")
        self.cursor.execute(sql, tuple(params))
        return self

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        row = self.execute(sql, params).cursor.fetchone()
        return tuple(row) if row is not None else None

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.execute(sql, params).cursor.fetchall()]

    @property
    def rowcount(self) -> int:
        return int(self.cursor.rowcount)


def sql_statements(text: str) -> list[str]:
    """Split a DDL file into statements (no semicolons inside literals in podium's files)."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
    return [stmt.strip() for stmt in "\n".join(lines).split(";") if stmt.strip()]


class ShopHook(BaseHook):
    """The shop database of the checkout saga.

    :param shop_conn_id: Airflow connection of type ``postgres`` or ``sqlite``.
    """

    conn_name_attr = "shop_conn_id"
    default_conn_name = "shop_default"
    conn_type = "shop"
    hook_name = "Shop database (podium)"

    def __init__(self, shop_conn_id: str = default_conn_name, *, sql_dir: Path = SQL_DIR) -> None:
        super().__init__()
        self.shop_conn_id = shop_conn_id
        self.sql_dir = sql_dir

    @cached_property
    def connection(self) -> Any:
        return self.get_connection(self.shop_conn_id)

    @cached_property
    def dialect(self) -> str:
        conn_type = (self.connection.conn_type or "").lower()
        if conn_type in ("postgres", "postgresql"):
            return "postgres"
        if conn_type == "sqlite":
            return "sqlite"
        raise PermanentError(f"connection {self.shop_conn_id}: type {conn_type!r} is not postgres or sqlite")

    def get_conn(self) -> Any:
        if self.dialect == "postgres":
            from airflow.providers.postgres.hooks.postgres import PostgresHook

            return PostgresHook(postgres_conn_id=self.shop_conn_id).get_conn()
        import sqlite3

        path = self.connection.host
        if not path:
            raise PermanentError(f"connection {self.shop_conn_id}: host must be the SQLite file's path")
        timeout = float(self.connection.extra_dejson.get("timeout", 30))  # waiting for a locked file
        conn = sqlite3.connect(":memory:", isolation_level=None, timeout=timeout)
        conn.execute("ATTACH DATABASE ? AS shop", (path,))
        conn.execute("PRAGMA shop.journal_mode=WAL")
        return conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Tx]:
        """One transaction: committed when the block ends, rolled back on any error.

        Database errors that may pass (lost connection, a locked SQLite file, a serialization
        failure) become :class:`TransientError`, which the saga's retry policy retries.
        """
        try:
            conn = self.get_conn()
        except Exception as error:
            raise _classified(error) from error
        try:
            cursor = conn.cursor()
            if self.dialect == "sqlite":
                cursor.execute("BEGIN IMMEDIATE")  # take the write lock now: no upgrade deadlocks
            yield Tx(cursor, self.dialect)
            if self.dialect == "postgres":
                conn.commit()
            else:
                cursor.execute("COMMIT")
        except BaseException as error:
            with contextlib.suppress(Exception):
                conn.rollback()
            if isinstance(error, Exception) and not isinstance(error, PermanentError | TransientError):
                raise _classified(error) from error
            raise
        finally:
            conn.close()

    # -- schema ------------------------------------------------------------------------------

    def ensure_schema(self) -> bool:
        """Create the shop tables when missing (and seed the demo catalogue if the extra says so).

        :return: whether the schema was created now.
        """
        with self.transaction() as tx:
            if self.dialect == "postgres":
                tx.execute("SELECT pg_advisory_xact_lock(?)", (SCHEMA_LOCK,))
                exists = tx.one("SELECT to_regclass('shop.shipments')")
                if exists and exists[0] is not None:
                    return False
            elif tx.one("SELECT 1 FROM shop.sqlite_master WHERE type = 'table' AND name = 'shipments'"):
                return False
            for statement in sql_statements((self.sql_dir / f"{self.dialect}.sql").read_text()):
                tx.execute(statement)
            if str(self.connection.extra_dejson.get("seed_catalogue", "")).lower() in ("true", "1", "yes"):
                for statement in sql_statements((self.sql_dir / "seed.sql").read_text()):
                    tx.execute(statement)
        self.log.info("created the shop schema (%s)", self.dialect)
        return True

    # -- steps and compensations ---------------------------------------------------------------

    def record_order(self, *, order_id: str, customer_id: str, lines: Sequence[Line]) -> dict[str, Any]:
        """Price the cart from the catalogue and record the order once; the same id must keep its cart."""
        items = canonical_items(lines)
        with self.transaction() as tx:
            skus = [line.sku for line in lines]
            marks = ", ".join("?" for _ in skus)
            prices = dict(tx.all(f"SELECT sku, price_cents FROM shop.products WHERE sku IN ({marks})", skus))
            try:
                total = order_total(lines, {sku: int(price) for sku, price in prices.items()})
            except KeyError as error:
                raise PermanentError(f"order {order_id}: unknown SKU(s) {error.args[0]}") from error
            tx.execute(
                "INSERT INTO shop.orders (order_id, idempotency_key, customer_id, items, total_cents)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (order_id) DO NOTHING",
                (order_id, idempotency_key(order_id, "validate_cart"), customer_id, items, total),
            )
            stored = tx.one(
                "SELECT customer_id, items, total_cents FROM shop.orders WHERE order_id = ?", (order_id,)
            )
        assert stored is not None
        if (stored[0], stored[1]) != (customer_id, items):
            raise PermanentError(f"order {order_id} exists with another customer or cart: use a new order id")
        return {"order_id": order_id, "total_cents": int(stored[2]), "items": json.loads(items)}

    def charge(self, *, order_id: str, amount_cents: int, token: str) -> dict[str, Any]:
        """Charge once per order. The token is passed to the (fake) gateway only, never stored or logged."""
        key = idempotency_key(order_id, "charge_payment")
        with self.transaction() as tx:
            if tx.one("SELECT 1 FROM shop.refunds WHERE order_id = ?", (order_id,)):
                raise OrderCancelled(f"order {order_id} was refunded before: it stays cancelled")
            done = tx.one("SELECT amount_cents FROM shop.charges WHERE idempotency_key = ?", (key,))
        if done:
            return {"charge_key": key, "amount_cents": int(done[0]), "replayed": True}
        with self.transaction() as tx:  # committed on its own: the count survives the failure below
            row = tx.one(
                "INSERT INTO shop.payment_attempts (idempotency_key, attempts) VALUES (?, 1)"
                " ON CONFLICT (idempotency_key) DO UPDATE SET attempts = shop.payment_attempts.attempts + 1"
                " RETURNING attempts"
                if self.dialect == "postgres"
                else "INSERT INTO shop.payment_attempts (idempotency_key, attempts) VALUES (?, 1)"
                " ON CONFLICT (idempotency_key) DO UPDATE SET attempts = attempts + 1 RETURNING attempts",
                (key,),
            )
        attempt = int(row[0]) if row else 1
        outcome = payment_outcome(token, attempt)
        if outcome == "declined":
            raise PermanentError(f"order {order_id}: card declined")
        if outcome == "transient":
            raise TransientError(f"order {order_id}: payment gateway timed out (attempt {attempt})")
        with self.transaction() as tx:
            tx.execute(
                "INSERT INTO shop.charges (idempotency_key, order_id, amount_cents) VALUES (?, ?, ?)"
                " ON CONFLICT (idempotency_key) DO NOTHING",
                (key, order_id, amount_cents),
            )
            inserted = tx.rowcount == 1
        return {"charge_key": key, "amount_cents": amount_cents, "replayed": not inserted}

    def refund(self, *, order_id: str) -> dict[str, Any]:
        """Refund the order's charge once (a refund of 0 when there was none: it still cancels)."""
        key = idempotency_key(order_id, "refund_payment")
        with self.transaction() as tx:
            tx.execute(
                "INSERT INTO shop.refunds (idempotency_key, order_id, amount_cents) VALUES (?, ?,"
                " COALESCE((SELECT amount_cents FROM shop.charges WHERE idempotency_key = ?), 0))"
                " ON CONFLICT (idempotency_key) DO NOTHING",
                (key, order_id, idempotency_key(order_id, "charge_payment")),
            )
            inserted = tx.rowcount == 1
            row = tx.one("SELECT amount_cents FROM shop.refunds WHERE idempotency_key = ?", (key,))
        return {"refund_key": key, "amount_cents": int(row[0]) if row else 0, "replayed": not inserted}

    def reserve(self, *, order_id: str, lines: Sequence[Line]) -> dict[str, Any]:
        """Take the order's items out of stock once, all or nothing."""
        key = idempotency_key(order_id, "reserve_inventory")
        with self.transaction() as tx:
            if tx.one("SELECT 1 FROM shop.releases WHERE order_id = ?", (order_id,)):
                raise OrderCancelled(f"order {order_id} was released before: it stays cancelled")
            tx.execute(
                "INSERT INTO shop.reservations (idempotency_key, order_id) VALUES (?, ?)"
                " ON CONFLICT (idempotency_key) DO NOTHING",
                (key, order_id),
            )
            if tx.rowcount == 0:
                return {"reservation_key": key, "replayed": True}
            for line in lines:  # sorted by SKU: concurrent orders lock rows in the same order
                tx.execute(
                    "UPDATE shop.products SET stock = stock - ? WHERE sku = ? AND stock >= ?",
                    (line.qty, line.sku, line.qty),
                )
                if tx.rowcount != 1:
                    raise StockShortage(f"order {order_id}: not enough stock of {line.sku} for {line.qty}")
                tx.execute(
                    "INSERT INTO shop.reservation_items (idempotency_key, sku, qty) VALUES (?, ?, ?)",
                    (key, line.sku, line.qty),
                )
        return {"reservation_key": key, "replayed": False}

    def release(self, *, order_id: str) -> dict[str, Any]:
        """Put the order's reserved items back once (a release of nothing when none were reserved)."""
        key = idempotency_key(order_id, "release_inventory")
        with self.transaction() as tx:
            tx.execute(
                "INSERT INTO shop.releases (idempotency_key, order_id, released_qty) VALUES (?, ?, 0)"
                " ON CONFLICT (idempotency_key) DO NOTHING",
                (key, order_id),
            )
            if tx.rowcount == 0:
                return {"release_key": key, "replayed": True}
            items = tx.all(
                "SELECT sku, qty FROM shop.reservation_items WHERE idempotency_key = ? ORDER BY sku",
                (idempotency_key(order_id, "reserve_inventory"),),
            )
            for sku, qty in items:
                tx.execute("UPDATE shop.products SET stock = stock + ? WHERE sku = ?", (qty, sku))
            released = sum(int(qty) for _, qty in items)
            tx.execute("UPDATE shop.releases SET released_qty = ? WHERE idempotency_key = ?", (released, key))
        return {"release_key": key, "released_qty": released, "replayed": False}

    def send_message(self, *, order_id: str, kind: str, step: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Put a message for the customer in the outbox once (a relay would deliver it)."""
        key = idempotency_key(order_id, step)
        with self.transaction() as tx:
            if kind == "confirmation" and tx.one(
                "SELECT 1 FROM shop.outbox WHERE order_id = ? AND kind = 'cancellation'", (order_id,)
            ):
                raise OrderCancelled(f"order {order_id} was cancelled before: no confirmation")
            tx.execute(
                "INSERT INTO shop.outbox (idempotency_key, order_id, kind, payload) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (idempotency_key) DO NOTHING",
                (key, order_id, kind, json.dumps(payload, sort_keys=True)),
            )
            inserted = tx.rowcount == 1
        return {"message_key": key, "kind": kind, "replayed": not inserted}

    def create_shipment(self, *, order_id: str, lines: Sequence[Line]) -> dict[str, Any]:
        """Create the order's shipment once; never for an order that was refunded or released."""
        key = idempotency_key(order_id, "create_shipment")
        with self.transaction() as tx:
            if tx.one(
                "SELECT 1 FROM shop.refunds WHERE order_id = ? UNION ALL"
                " SELECT 1 FROM shop.releases WHERE order_id = ?",
                (order_id, order_id),
            ):
                raise OrderCancelled(f"order {order_id} was cancelled before: no shipment")
            tx.execute(
                "INSERT INTO shop.shipments (idempotency_key, order_id, items) VALUES (?, ?, ?)"
                " ON CONFLICT (idempotency_key) DO NOTHING",
                (key, order_id, canonical_items(lines)),
            )
            inserted = tx.rowcount == 1
        return {"shipment_key": key, "replayed": not inserted}


def _classified(error: Exception) -> Exception:
    """Database errors that may pass become TransientError; the rest are returned unchanged."""
    name = type(error).__name__
    module = type(error).__module__
    if name in ("OperationalError", "InterfaceError", "SerializationFailure", "DeadlockDetected") and (
        module.startswith(("psycopg", "sqlite3"))
    ):
        return TransientError(f"shop database: {name}: {error}")
    return error
