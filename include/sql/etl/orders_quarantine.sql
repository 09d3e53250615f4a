-- Lines of {{ data_interval_start | ds }}'s export that could not be used, as they arrived, with why.
SELECT
    DATE '{{ data_interval_start | ds }}' AS ds,
    order_id,
    raw_customer_id AS customer_id,
    raw_order_ts AS order_ts,
    raw_amount AS amount,
    status,
    problem
FROM orders_typed
WHERE problem IS NOT NULL
ORDER BY order_id
