"""Run one warehouse load in this process, to be killed with SIGKILL mid-COPY by the test.

Usage: python crashed_load.py PARQUET DAY  (the `warehouse` connection comes from AIRFLOW_CONN_WAREHOUSE)
"""

from __future__ import annotations

import sys
from pathlib import Path

from podium.hooks.warehouse import TableLoad, WarehouseHook

DDL = (Path(__file__).resolve().parents[2] / "include/sql/etl/warehouse/orders_clean.sql").read_text()

if __name__ == "__main__":
    parquet, day = Path(sys.argv[1]), sys.argv[2]
    WarehouseHook().replace_partition(
        loads=[TableLoad(table="orders_clean", parquet=parquet, ddl=DDL)],
        partition_column="ds",
        partition_value=day,
    )
    print("committed", flush=True)
