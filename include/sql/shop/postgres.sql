-- The shop schema of podium's checkout saga, PostgreSQL flavour (schema `shop`).
-- Every write of the saga carries an idempotency key "<order_id>:<step>" that is a primary key:
-- a retry or a re-run inserts nothing twice. Statements are idempotent (IF NOT EXISTS).
CREATE SCHEMA IF NOT EXISTS shop;

CREATE TABLE IF NOT EXISTS shop.products (
    sku          TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    price_cents  INTEGER NOT NULL CHECK (price_cents >= 0),
    stock        INTEGER NOT NULL CHECK (stock >= 0)
);

CREATE TABLE IF NOT EXISTS shop.orders (
    order_id         TEXT PRIMARY KEY,
    idempotency_key  TEXT NOT NULL UNIQUE,
    customer_id      TEXT NOT NULL,
    items            TEXT NOT NULL,
    total_cents      INTEGER NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS shop.payment_attempts (
    idempotency_key  TEXT PRIMARY KEY,
    attempts         INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS shop.charges (
    idempotency_key  TEXT PRIMARY KEY,
    order_id         TEXT NOT NULL,
    amount_cents     INTEGER NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS shop.refunds (
    idempotency_key  TEXT PRIMARY KEY,
    order_id         TEXT NOT NULL,
    amount_cents     INTEGER NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS shop.reservations (
    idempotency_key  TEXT PRIMARY KEY,
    order_id         TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS shop.reservation_items (
    idempotency_key  TEXT NOT NULL REFERENCES shop.reservations (idempotency_key),
    sku              TEXT NOT NULL REFERENCES shop.products (sku),
    qty              INTEGER NOT NULL CHECK (qty >= 1),
    PRIMARY KEY (idempotency_key, sku)
);

CREATE TABLE IF NOT EXISTS shop.releases (
    idempotency_key  TEXT PRIMARY KEY,
    order_id         TEXT NOT NULL,
    released_qty     INTEGER NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS shop.outbox (
    idempotency_key  TEXT PRIMARY KEY,
    order_id         TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('confirmation', 'cancellation')),
    payload          TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS shop.shipments (
    idempotency_key  TEXT PRIMARY KEY,
    order_id         TEXT NOT NULL,
    items            TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
