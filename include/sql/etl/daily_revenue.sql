-- Revenue by region for the orders that arrived on {{ data_interval_start | ds }} (cancelled orders
-- count as orders but bring no revenue).
SELECT
    ds,
    region,
    count(*) AS orders,
    count(*) FILTER (WHERE status <> 'cancelled') AS paid_orders,
    coalesce(sum(amount) FILTER (WHERE status <> 'cancelled'), 0)::DECIMAL(14, 2) AS revenue,
    count(*) FILTER (WHERE is_late) AS late_orders
FROM orders_clean
GROUP BY ds, region
ORDER BY region
