-- Well-formed orders that arrived on {{ data_interval_start | ds }}, one row per order_id (the export
-- re-sends lines), enriched with the customer's region. Late records (placed the day before) keep
-- their own order_ts and are flagged.
SELECT
    DATE '{{ data_interval_start | ds }}' AS ds,
    order_id,
    customer_id,
    region,
    order_ts,
    amount,
    status,
    order_ts < TIMESTAMP '{{ data_interval_start | ds }}' AS is_late
FROM orders_typed
WHERE problem IS NULL
QUALIFY row_number() OVER (PARTITION BY order_id ORDER BY order_ts, amount, status) = 1
ORDER BY order_id
