"""Run one warehouse load in this process, to be killed with SIGKILL mid-COPY by the test.

Usage: python crashed_load.py PARQUET DAY partitioned|plain  (which DDL: see DDL below; the
`warehouse` connection comes from AIRFLOW_CONN_WAREHOUSE)
"""

from __future__ import annotations

import sys
from pathlib import Path

from podium.etl.loads import TableLoad
from podium.hooks.warehouse import WarehouseHook

WAREHOUSE_SQL = Path(__file__).resolve().parents[3] / "include" / "sql" / "etl" / "warehouse"
DDL = {
    # PARTITION BY LIST (ds): loaded by partition exchange
    "partitioned": (WAREHOUSE_SQL / "postgres" / "orders_clean.sql").read_text(),
    # the same columns as one plain table: DELETE + COPY in one transaction
    "plain": (WAREHOUSE_SQL / "sqlite" / "orders_clean.sql").read_text(),
}

if __name__ == "__main__":
    parquet, day, kind = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    WarehouseHook().replace_partition(
        loads=[TableLoad(table="orders_clean", parquet=parquet, ddl=DDL[kind])],
        partition_column="ds",
        partition_value=day,
    )
    print("committed", flush=True)
