-- One partition per day: a load swaps the day's partition in whole (podium.hooks.warehouse), and
-- queries on ds read only their days' partitions.
CREATE TABLE IF NOT EXISTS orders_clean (
    ds DATE NOT NULL,
    order_id TEXT NOT NULL,
    customer_id INTEGER NOT NULL,
    region TEXT NOT NULL,
    order_ts TIMESTAMP NOT NULL,
    amount NUMERIC(12, 2) NOT NULL,
    status TEXT NOT NULL,
    is_late BOOLEAN NOT NULL
) PARTITION BY LIST (ds);
