-- One day's raw orders ({{ data_interval_start | ds }}), typed, each line judged: `problem` is NULL
-- for a well-formed line, else why it goes to quarantine. A view: orders_clean and orders_quarantine
-- both read it.
SELECT
    r.order_id,
    r.customer_id AS raw_customer_id,
    r.order_ts AS raw_order_ts,
    r.amount AS raw_amount,
    r.status,
    TRY_CAST(r.customer_id AS INTEGER) AS customer_id,
    TRY_CAST(r.order_ts AS TIMESTAMP) AS order_ts,
    TRY_CAST(r.amount AS DECIMAL(12, 2)) AS amount,
    c.region,
    CASE
        WHEN r.order_id IS NULL OR r.order_id = '' THEN 'missing order_id'
        WHEN TRY_CAST(r.customer_id AS INTEGER) IS NULL THEN 'bad customer_id'
        WHEN c.customer_id IS NULL THEN 'unknown customer'
        WHEN TRY_CAST(r.order_ts AS TIMESTAMP) IS NULL THEN 'bad order_ts'
        WHEN TRY_CAST(r.amount AS DECIMAL(12, 2)) IS NULL OR TRY_CAST(r.amount AS DECIMAL(12, 2)) < 0
            THEN 'bad amount'
        WHEN r.status IS NULL OR r.status NOT IN ('placed', 'shipped', 'delivered', 'cancelled')
            THEN 'bad status'
    END AS problem
FROM raw_orders AS r
LEFT JOIN customers AS c ON c.customer_id = TRY_CAST(r.customer_id AS INTEGER)
