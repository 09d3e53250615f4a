-- A small catalogue for the embedded default (`make run`). Inserted once: existing rows are kept.
INSERT INTO shop.products (sku, name, price_cents, stock) VALUES
    ('SKU-MUG', 'podium mug', 1200, 50),
    ('SKU-TEE', 'podium t-shirt', 2500, 20),
    ('SKU-CAP', 'podium cap', 1800, 5)
ON CONFLICT (sku) DO NOTHING;
