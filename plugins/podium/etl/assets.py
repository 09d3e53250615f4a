"""The tables podium's example pipeline publishes, one Airflow Asset each.

Producers list them as outlets of their publishing task; consumers schedule on them.
"""

from __future__ import annotations

from airflow.sdk import Asset

ORDERS_CLEAN = Asset(name="orders_clean", uri="podium://tables/orders_clean", group="podium-etl")
DAILY_REVENUE = Asset(name="daily_revenue", uri="podium://tables/daily_revenue", group="podium-etl")
