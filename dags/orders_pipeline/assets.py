"""The tables podium's example pipeline publishes, one Airflow Asset each.

Producers list them as outlets of their publishing task; consumers schedule on them. The ``x-`` URI
scheme marks a custom scheme: Airflow then looks up no provider URI normalizer (that lookup imports every
provider's asset handlers, boto3 included: about 0.45 s of every parse of a DAG file that uses them).
"""

from __future__ import annotations

from airflow.sdk import Asset

ORDERS_CLEAN = Asset(name="orders_clean", uri="x-podium-table://orders_clean", group="podium-etl")
DAILY_REVENUE = Asset(name="daily_revenue", uri="x-podium-table://daily_revenue", group="podium-etl")
