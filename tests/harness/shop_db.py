"""Read and prepare the shop database from tests, with psycopg directly (not through podium)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.services import Postgres

SQL_DIR = Path(__file__).resolve().parents[2] / "include" / "sql" / "shop"


@dataclass
class ShopDb:
    postgres: Postgres
    dbname: str

    def connection(self) -> dict[str, Any]:
        """The Airflow connection (conn_type postgres) pointing at this database."""
        return {
            "conn_type": "postgres",
            "host": self.postgres.host,
            "port": self.postgres.port,
            "login": self.postgres.user,
            "password": self.postgres.password or None,
            "schema": self.dbname,
        }

    def uri_env(self) -> str:
        return json.dumps(self.connection())

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.postgres.dsn(self.dbname), autocommit=True) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def create(self, products: dict[str, tuple[int, int]]) -> None:
        """The schema from include/sql/shop/postgres.sql, and products {sku: (price_cents, stock)}."""
        self.sql((SQL_DIR / "postgres.sql").read_text())
        for sku, (price, stock) in products.items():
            self.sql(
                "INSERT INTO shop.products (sku, name, price_cents, stock) VALUES (%s, %s, %s, %s)",
                (sku, sku.lower(), price, stock),
            )

    def stock(self) -> dict[str, int]:
        return dict(self.sql("SELECT sku, stock FROM shop.products ORDER BY sku"))

    def held(self) -> dict[str, int]:
        """Quantities held by reservations that were not released, per SKU."""
        rows = self.sql(
            "SELECT i.sku, SUM(i.qty) FROM shop.reservation_items i JOIN shop.reservations r"
            " USING (idempotency_key) WHERE NOT EXISTS"
            " (SELECT 1 FROM shop.releases l WHERE l.order_id = r.order_id) GROUP BY i.sku"
        )
        return {sku: int(qty) for sku, qty in rows}

    def order(self, order_id: str) -> dict[str, int]:
        """Counts and sums of every kind of row the saga writes for one order."""

        def one(query: str) -> int:
            return int(self.sql(query, (order_id,))[0][0])

        return {
            "orders": one("SELECT count(*) FROM shop.orders WHERE order_id = %s"),
            "charges": one("SELECT count(*) FROM shop.charges WHERE order_id = %s"),
            "charged": one("SELECT coalesce(sum(amount_cents), 0) FROM shop.charges WHERE order_id = %s"),
            "refunds": one("SELECT count(*) FROM shop.refunds WHERE order_id = %s"),
            "refunded": one("SELECT coalesce(sum(amount_cents), 0) FROM shop.refunds WHERE order_id = %s"),
            "reservations": one("SELECT count(*) FROM shop.reservations WHERE order_id = %s"),
            "releases": one("SELECT count(*) FROM shop.releases WHERE order_id = %s"),
            "confirmations": one(
                "SELECT count(*) FROM shop.outbox WHERE order_id = %s AND kind = 'confirmation'"
            ),
            "cancellations": one(
                "SELECT count(*) FROM shop.outbox WHERE order_id = %s AND kind = 'cancellation'"
            ),
            "shipments": one("SELECT count(*) FROM shop.shipments WHERE order_id = %s"),
        }

    def snapshot(self) -> dict[str, Any]:
        """Every row of every table (for 'nothing changed' checks), created_at left out."""
        tables = ["products", "orders", "payment_attempts", "charges", "refunds", "reservations"]
        tables += ["reservation_items", "releases", "outbox", "shipments"]
        snap = {}
        for table in tables:
            columns = [
                name
                for (name,) in self.sql(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = 'shop'"
                    " AND table_name = %s AND column_name <> 'created_at' ORDER BY ordinal_position",
                    (table,),
                )
            ]
            snap[table] = sorted(self.sql(f"SELECT {', '.join(columns)} FROM shop.{table}"))
        return snap
