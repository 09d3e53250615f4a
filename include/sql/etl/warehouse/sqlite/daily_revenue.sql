CREATE TABLE IF NOT EXISTS daily_revenue (
    ds DATE NOT NULL,
    region TEXT NOT NULL,
    orders BIGINT NOT NULL,
    paid_orders BIGINT NOT NULL,
    revenue NUMERIC(14, 2) NOT NULL,
    late_orders BIGINT NOT NULL,
    PRIMARY KEY (ds, region)
);
