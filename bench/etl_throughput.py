"""ETL throughput: one partition of orders_daily end to end into PostgreSQL, beside two baselines.

For each partition size (source rows per day; default 1M and 5M) the synthetic source writes one day's
raw CSV into a lake folder (not timed: it stands for the upstream system), then three variants run,
each in a fresh Python process of its own so that its peak RSS is its own (VmHWM of that process):

* ``podium``: the real operators of dags/orders_daily.py (loaded from the DAG file, templates rendered
  for the day, ``execute()`` called as a worker does): extract CSV -> Parquet staging, DuckDB transform
  (quarantine, dedupe, customer join, revenue by region), quality gate, lake partitions, warehouse load
  (the DAG's tables are partitioned by day: binary COPY over 2 connections into a new partition, then
  the swap).
* ``pandas``: the common way an Airflow task is written: ``pd.read_csv``, the same cleaning with pandas,
  then ``DataFrame.to_sql`` through ``PostgresHook``'s SQLAlchemy engine (DELETE first, one transaction).
* ``raw_copy``: the floor: one ``COPY FROM STDIN`` per table of the final rows (podium's clean orders
  and revenue rows, as CSV prepared beforehand) straight into the day's empty partitions, made
  beforehand; nothing else.

All three write into the same tables (include/sql/etl/warehouse/postgres/). Each variant loads its
libraries (pandas, DuckDB, pyarrow, psycopg, the hook) before its clock starts, and what a worker's
task process has loaded before it runs a task (Airflow's supervisor module, see load_worker_runtime).

Rows/s are source lines per second for podium and pandas, final rows per second for raw_copy. Each
variant's result is checked against podium's (row counts and revenue), so no variant wins by doing less.

The variants take turns for ``--repeat`` rounds (default 3), each after a CHECKPOINT, so that a slow
spell of the shared machine or the server's writing of an earlier run's pages hits them alike. Each
variant reports its median run by seconds, every run's seconds, and the highest peak RSS of its runs.

    python bench/etl_throughput.py [--sizes 1000000,5000000] [--pandas-max-rows 5000000] [--repeat 3]

PostgreSQL from PODIUM_TEST_PG_HOST/PORT/USER/PASSWORD (default 127.0.0.1:5432, user postgres); a
database of its own is created and dropped. Prints JSON on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DAY = date(2026, 1, 3)
TASKS = ("extract_orders", "transform", "quality_gate", "load_lake", "load_warehouse")


def say(message: str) -> None:
    print(f"[etl_throughput] {message}", file=sys.stderr, flush=True)


def peak_rss_mb() -> float:
    """This process's peak resident set size (VmHWM).

    Not ``ru_maxrss``: Linux carries that over fork and exec, so a child would report its parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- variants (each runs in its own process) ---------------------------------------------------------


def load_worker_runtime() -> None:
    """What a worker's task process has loaded before any task code runs.

    Airflow's supervisor forks the task process after importing its own module, which the first
    connection lookup of a task (``BaseHook.get_connection``) imports otherwise: about 0.2 s of
    class building (attrs) that no real task pays. Every variant loads it before its clock.
    """
    import airflow.sdk.execution_time.supervisor  # noqa: F401


def run_podium(lake: Path) -> dict[str, Any]:
    import runpy
    from collections import defaultdict
    from types import SimpleNamespace

    # the libraries the tasks import, loaded before the clock starts, as run_pandas loads pandas, the
    # hook and the driver: every variant's seconds are its work, not Python's module loading
    import duckdb  # noqa: F401
    import pgpq  # noqa: F401
    import psycopg  # noqa: F401
    import pyarrow  # noqa: F401
    from airflow.providers.postgres.hooks.postgres import PostgresHook  # noqa: F401

    load_worker_runtime()
    dag = runpy.run_path(str(REPO / "dags" / "orders_daily.py"))["dag"]
    rss_after_imports = peak_rss_mb()
    start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
    context: dict[str, Any] = {
        "data_interval_start": start,
        "data_interval_end": start + timedelta(days=1),
        "logical_date": start,
        "ds": DAY.isoformat(),
        "params": {"rows_per_day": 0, "min_orders": 1, "freshness": "6h"},
        "outlet_events": defaultdict(lambda: SimpleNamespace(extra={})),
    }
    steps: dict[str, float] = {}
    peaks: dict[str, float] = {}
    results: dict[str, Any] = {}
    begin = time.perf_counter()
    for task_id in TASKS:
        task = dag.get_task(task_id)
        tick = time.perf_counter()
        task.render_template_fields(context)
        results[task_id] = task.execute(context)
        steps[task_id] = round(time.perf_counter() - tick, 3)
        peaks[task_id] = round(peak_rss_mb(), 1)
    seconds = time.perf_counter() - begin
    loaded = results["load_warehouse"]["tables"]
    staged = lake / "_staging" / "orders_daily" / f"date={DAY}" / "orders_clean"
    return {
        "duckdb_memory_limit": {t: dag.get_task(t).memory_limit for t in TASKS[:3]},
        "peak_rss_mb_after_step": peaks,
        "orders_clean_buckets": len(list(staged.glob("*.parquet"))),
        "seconds": seconds,
        "steps_seconds": steps,
        "orders_clean_rows": loaded["orders_clean"]["loaded"],
        "daily_revenue_rows": loaded["daily_revenue"]["loaded"],
        "quarantined": results["transform"]["orders_quarantine"],
        "rss_after_imports_mb": round(rss_after_imports, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def run_pandas(raw_csv: Path) -> dict[str, Any]:
    import pandas as pd
    import psycopg  # noqa: F401  (the driver under the engine; loaded before the clock, as for podium)
    from airflow.providers.postgres.hooks.postgres import PostgresHook
    from sqlalchemy import text

    load_worker_runtime()
    rss_after_imports = peak_rss_mb()
    begin = time.perf_counter()
    df = pd.read_csv(raw_csv, dtype=str, keep_default_na=False)
    customers = pd.read_csv(REPO / "include" / "etl" / "customers.csv")
    df["customer_key"] = pd.to_numeric(df["customer_id"], errors="coerce")
    df["ts"] = pd.to_datetime(df["order_ts"], errors="coerce", format="ISO8601")
    df["amount_num"] = pd.to_numeric(df["amount"], errors="coerce").round(2)
    df = df.merge(
        customers[["customer_id", "region"]].rename(columns={"customer_id": "customer_key"}),
        on="customer_key",
        how="left",
    )
    bad = (
        df["region"].isna()
        | df["ts"].isna()
        | df["amount_num"].isna()
        | (df["amount_num"] < 0)
        | ~df["status"].isin(["placed", "shipped", "delivered", "cancelled"])
    )
    quarantined = int(bad.sum())
    clean = df[~bad].drop_duplicates("order_id")
    day_start = pd.Timestamp(DAY)
    orders = pd.DataFrame(
        {
            "ds": DAY,
            "order_id": clean["order_id"],
            "customer_id": clean["customer_key"].astype(int),
            "region": clean["region"],
            "order_ts": clean["ts"],
            "amount": clean["amount_num"],
            "status": clean["status"],
            "is_late": clean["ts"] < day_start,
        }
    )
    paid = orders[orders["status"] != "cancelled"]
    revenue = (
        orders.groupby("region")
        .agg(orders=("order_id", "size"), late_orders=("is_late", "sum"))
        .join(paid.groupby("region").agg(paid_orders=("order_id", "size"), revenue=("amount", "sum")))
        .fillna(0)
        .reset_index()
    )
    revenue.insert(0, "ds", DAY)
    engine = PostgresHook(postgres_conn_id="warehouse").get_sqlalchemy_engine()
    with engine.begin() as conn:
        for table in ("orders_clean", "daily_revenue"):
            conn.execute(text(f"DELETE FROM {table} WHERE ds = :ds"), {"ds": DAY})
        orders.to_sql("orders_clean", conn, if_exists="append", index=False, chunksize=10_000)
        revenue.to_sql("daily_revenue", conn, if_exists="append", index=False)
    seconds = time.perf_counter() - begin
    return {
        "seconds": seconds,
        "orders_clean_rows": len(orders),
        "daily_revenue_rows": len(revenue),
        "quarantined": quarantined,
        "rss_after_imports_mb": round(rss_after_imports, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def run_raw_copy(orders_csv: Path, revenue_csv: Path) -> dict[str, Any]:
    import psycopg  # noqa: F401
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    load_worker_runtime()
    rss_after_imports = peak_rss_mb()
    conn = PostgresHook(postgres_conn_id="warehouse").get_conn()
    begin = time.perf_counter()
    rows = 0
    with conn.cursor() as cur:
        for table, path in (("orders_clean", orders_csv), ("daily_revenue", revenue_csv)):
            # straight into the day's partition: not even the routing of rows to it is timed
            partition = f"{table}_{DAY:%Y%m%d}"
            with cur.copy(f"COPY {partition} FROM STDIN (FORMAT csv)") as copy, path.open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    copy.write(chunk)
                    rows += chunk.count(b"\n")
    conn.commit()
    seconds = time.perf_counter() - begin
    conn.close()
    return {
        "seconds": seconds,
        "final_rows": rows,
        "rss_after_imports_mb": round(rss_after_imports, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def child(argv: list[str]) -> None:
    variant, *paths = argv
    if variant == "podium":
        result = run_podium(Path(paths[0]))
    elif variant == "pandas":
        result = run_pandas(Path(paths[0]))
    else:
        result = run_raw_copy(Path(paths[0]), Path(paths[1]))
    print("RESULT " + json.dumps(result, default=str), flush=True)


# -- the parent: data, databases, one process per variant -------------------------------------------


def pg_settings() -> dict[str, Any]:
    return {
        "host": os.environ.get("PODIUM_TEST_PG_HOST", "127.0.0.1"),
        "port": int(os.environ.get("PODIUM_TEST_PG_PORT", "5432")),
        "user": os.environ.get("PODIUM_TEST_PG_USER", "postgres"),
        "password": os.environ.get("PODIUM_TEST_PG_PASSWORD", ""),
    }


def admin(pg: dict[str, Any], sql: str, dbname: str = "postgres") -> None:
    import psycopg

    with psycopg.connect(
        host=pg["host"], port=pg["port"], user=pg["user"], password=pg["password"] or None, dbname=dbname,
        autocommit=True,
    ) as conn:  # fmt: skip
        conn.execute(sql)


def reset_tables(pg: dict[str, Any], database: str, *, with_partitions: bool) -> None:
    """Empty warehouse tables (the DAG's DDL: partitioned by day), the day's partitions when asked.

    podium creates its partition itself (as a new table, swapped in); the baselines write into
    partitions that exist, as they would in a warehouse prepared by hand.
    """
    ddl = "".join(
        (REPO / "include" / "sql" / "etl" / "warehouse" / "postgres" / f"{table}.sql").read_text()
        for table in ("orders_clean", "daily_revenue")
    )
    if with_partitions:
        ddl += "".join(
            f"CREATE TABLE {table}_{DAY:%Y%m%d} PARTITION OF {table} FOR VALUES IN ('{DAY}');"
            for table in ("orders_clean", "daily_revenue")
        )
    admin(pg, "DROP TABLE IF EXISTS orders_clean, daily_revenue;" + ddl, dbname=database)


def spawn(
    variant: str, env: dict[str, str], *args: str, timeout: float, pg: dict[str, Any]
) -> dict[str, Any]:
    # each variant starts with the server's dirty pages written out, not paying for the previous one's
    admin(pg, "CHECKPOINT")
    say(f"{variant} ...")
    result = subprocess.run(
        [sys.executable, __file__, "--child", variant, *args],
        env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    if result.returncode != 0 or not lines:
        raise SystemExit(
            f"{variant} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    measured = json.loads(lines[-1].removeprefix("RESULT "))
    say(f"{variant}: {measured['seconds']:.1f} s, peak RSS {measured['peak_rss_mb']:.0f} MB")
    return measured


def export_final_rows(lake: Path, out: Path) -> tuple[Path, Path]:
    """podium's staged final rows as CSV, in table column order, for the raw COPY floor."""
    import duckdb

    from podium.etl.readers import reader_sql

    staging = lake / "_staging" / "orders_daily" / f"date={DAY}"
    paths = []
    with duckdb.connect() as duck:
        # as dags/orders_daily.py stages them: orders_clean is bucketed, a folder of Parquet files
        for table, staged in (("orders_clean", "orders_clean"), ("daily_revenue", "daily_revenue.parquet")):
            target = out / f"{table}.csv"
            duck.execute(
                f"COPY (SELECT * FROM {reader_sql(staging / staged, 'parquet')}) "
                f"TO '{target}' (FORMAT csv, HEADER false)"
            )
            paths.append(target)
    return paths[0], paths[1]


def measure_size(
    rows: int, pg: dict[str, Any], database: str, pandas_max: int, workdir: Path, repeat: int
) -> dict[str, Any]:
    import psycopg

    sys.path.insert(0, str(REPO / "plugins"))
    from podium.etl.generator import write_day

    lake = workdir / f"lake-{rows}"
    raw = lake / "raw" / "orders" / f"date={DAY}" / "orders.csv"
    raw.parent.mkdir(parents=True)
    tick = time.perf_counter()
    lines = write_day(raw, DAY, rows)
    say(f"{rows:,} rows/day: source written ({lines:,} lines, {raw.stat().st_size / 2**20:.0f} MiB) "
        f"in {time.perf_counter() - tick:.0f} s")  # fmt: skip
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "plugins"),
        "AIRFLOW_HOME": str(workdir / "airflow-home"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "PODIUM_INCLUDE_DIR": str(REPO / "include"),
        "AIRFLOW_CONN_LAKE": json.dumps({"conn_type": "fs", "extra": {"path": f"file://{lake}"}}),
        "AIRFLOW_CONN_WAREHOUSE": json.dumps(
            {
                "conn_type": "postgres",
                "host": pg["host"],
                "port": pg["port"],
                "login": pg["user"],
                "password": pg["password"] or None,
                "schema": database,
            }
        ),
    }
    timeout = 3600.0

    def revenue_total() -> str:
        with psycopg.connect(
            host=pg["host"], port=pg["port"], user=pg["user"], password=pg["password"] or None,
            dbname=database,
        ) as conn:  # fmt: skip
            row = conn.execute("SELECT sum(revenue) FROM daily_revenue").fetchone()
        return str(row[0] if row else None)

    # the variants take turns, `repeat` rounds, so that a slow spell of the machine hits them alike
    runs: dict[str, list[dict[str, Any]]] = {"podium": [], "raw_copy": [], "pandas": []}
    with_pandas = rows <= pandas_max
    final_rows: tuple[Path, Path] | None = None
    for _ in range(repeat):
        reset_tables(pg, database, with_partitions=False)
        podium = spawn("podium", env, str(lake), timeout=timeout, pg=pg)
        podium["rows_per_second"] = round(lines / podium["seconds"])
        podium["revenue_total"] = revenue_total()
        runs["podium"].append(podium)

        final_rows = final_rows or export_final_rows(lake, workdir)
        reset_tables(pg, database, with_partitions=True)
        floor = spawn("raw_copy", env, *map(str, final_rows), timeout=timeout, pg=pg)
        floor["rows_per_second"] = round(floor["final_rows"] / floor["seconds"])
        assert floor["final_rows"] == podium["orders_clean_rows"] + podium["daily_revenue_rows"]
        runs["raw_copy"].append(floor)

        if with_pandas:
            reset_tables(pg, database, with_partitions=True)
            pandas = spawn("pandas", env, str(raw), timeout=timeout, pg=pg)
            pandas["rows_per_second"] = round(lines / pandas["seconds"])
            pandas["revenue_total"] = revenue_total()
            # no variant wins by doing less: the same rows, quarantine and revenue as podium's
            for key in ("orders_clean_rows", "daily_revenue_rows", "quarantined", "revenue_total"):
                assert pandas[key] == podium[key], (key, pandas[key], podium[key])
            runs["pandas"].append(pandas)

    result: dict[str, Any] = {
        "source_rows_per_day": rows,
        "source_lines": lines,
        "podium": summary(runs["podium"]),
        "raw_copy": summary(runs["raw_copy"]),
    }
    seconds = result["podium"]["seconds"]
    if with_pandas:
        result["pandas"] = summary(runs["pandas"])
        result["podium_vs_pandas_speedup"] = round(result["pandas"]["seconds"] / seconds, 1)
    else:
        result["pandas"] = f"not run: {rows:,} rows is above --pandas-max-rows {pandas_max:,}"
    result["podium_vs_raw_copy_time_ratio"] = round(seconds / result["raw_copy"]["seconds"], 2)
    return result


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median run by seconds (its figures), every run's seconds, and the highest peak RSS of all."""
    ranked = sorted(runs, key=lambda run: run["seconds"])
    median = dict(ranked[(len(ranked) - 1) // 2])
    median["seconds"] = round(median["seconds"], 3)
    median["runs_seconds"] = [round(run["seconds"], 3) for run in runs]
    median["peak_rss_mb"] = max(run["peak_rss_mb"] for run in runs)
    return median


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000000,5000000", help="source rows per day, comma-separated")
    parser.add_argument("--pandas-max-rows", type=int, default=5_000_000, help="largest size pandas runs at")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each variant per size (the median counts)"
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    pg = pg_settings()
    database = f"podium_bench_{secrets.token_hex(4)}"
    admin(pg, f'CREATE DATABASE "{database}"')
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="podium-etl-bench-") as tmp:
            for rows in (int(size) for size in args.sizes.split(",")):
                results.append(measure_size(rows, pg, database, args.pandas_max_rows, Path(tmp), args.repeat))
    finally:
        admin(pg, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    print(
        json.dumps(
            {
                "benchmark": "etl_throughput",
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "partition": str(DAY),
                "repeat": args.repeat,
                "sizes": results,
                "targets": {
                    "podium_vs_pandas_speedup": ">= 10",
                    "podium_vs_raw_copy_time_ratio": "<= 2",
                    "peak_rss_mb": "< 1024 and flat across sizes",
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
