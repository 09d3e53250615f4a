"""Warehouse loads on a real PostgreSQL: partition exchange for tables partitioned by the interval,
DELETE + COPY for any other, all tables of a load committing together."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from etl.expected import table_checksum
from podium.exceptions import PermanentError

pytestmark = pytest.mark.postgres
WAREHOUSE_SQL = Path(__file__).resolve().parents[2] / "include" / "sql" / "etl" / "warehouse"
PARTITIONED = (WAREHOUSE_SQL / "postgres" / "orders_clean.sql").read_text()
PLAIN = (WAREHOUSE_SQL / "sqlite" / "orders_clean.sql").read_text()  # the same columns, one plain table


def orders(path: Path, day: str, rows: int, version: int, *, bad_row: bool = False) -> Path:
    """``rows`` orders of ``day``; the version is baked into the ids and amounts."""
    import duckdb

    with duckdb.connect() as duck:
        duck.execute(
            f"""COPY (
                SELECT DATE '{day}' AS ds, 'v{version}-' || lpad(i::VARCHAR, 8, '0') AS order_id,
                       (i % 500 + 1)::INTEGER AS customer_id,
                       ['amer', 'apac', 'emea', 'latam'][(i % 4 + 1)::INTEGER] AS region,
                       TIMESTAMP '{day}' + to_seconds(i % 86400) AS order_ts,
                       ((i * 7919 + {version}) % 50000 / 100)::DECIMAL(12, 2) AS amount,
                       CASE WHEN {str(bad_row).lower()} AND i = {rows} - 7 THEN NULL ELSE 'placed' END
                           AS status,
                       false AS is_late
                FROM range({rows}) AS t(i)
            ) TO '{path}' (FORMAT parquet)"""
        )
    return path


def load(parquet: Path, day: str, ddl: str | None = PARTITIONED, *, parallelism: int = 2, extra=()) -> dict:
    from podium.hooks.warehouse import TableLoad, WarehouseHook

    return WarehouseHook(copy_parallelism=parallelism).replace_partition(
        loads=[TableLoad(table="orders_clean", parquet=parquet, ddl=ddl), *extra],
        partition_column="ds",
        partition_value=day,
    )


def partitions(conn) -> dict[str, str]:
    """Partition name -> bound of orders_clean."""
    rows = conn.execute(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'orders_clean'::regclass ORDER BY 1"
    ).fetchall()
    return dict(rows)


def leftovers(conn) -> list[str]:
    """Tables a load made and did not swap in."""
    rows = conn.execute("SELECT relname FROM pg_class WHERE relname LIKE '%\\_\\_load\\_%' ORDER BY 1")
    return [name for (name,) in rows.fetchall()]


def test_partition_exchange_replaces_exactly_the_days_partition(etl_connections, tmp_path):
    import psycopg

    assert load(orders(tmp_path / "a5.parquet", "2026-01-05", 1_000, 1), "2026-01-05")["orders_clean"] == {
        "deleted": 0,
        "loaded": 1_000,
    }
    assert load(orders(tmp_path / "a6.parquet", "2026-01-06", 300, 1), "2026-01-06")["orders_clean"] == {
        "deleted": 0,
        "loaded": 300,
    }
    with psycopg.connect(etl_connections.dsn, autocommit=True) as conn:
        day6 = conn.execute(
            "SELECT count(*), sum(amount) FROM orders_clean WHERE ds = '2026-01-06'"
        ).fetchone()
        assert partitions(conn) == {
            "orders_clean_20260105": "FOR VALUES IN ('2026-01-05')",
            "orders_clean_20260106": "FOR VALUES IN ('2026-01-06')",
        }

        # version 2 of the 5th, over 3 connections and in several batches: only the 5th changes
        v2 = orders(tmp_path / "b5.parquet", "2026-01-05", 120_000, 2)
        assert load(v2, "2026-01-05", parallelism=3)["orders_clean"] == {"deleted": 1_000, "loaded": 120_000}
        assert conn.execute(
            "SELECT count(*), count(DISTINCT order_id), min(order_id) LIKE 'v2-%', max(order_id) LIKE 'v2-%' "
            "FROM orders_clean WHERE ds = '2026-01-05'"
        ).fetchone() == (120_000, 120_000, True, True)
        assert (
            conn.execute("SELECT count(*), sum(amount) FROM orders_clean WHERE ds = '2026-01-06'").fetchone()
            == day6
        )
        assert list(partitions(conn)) == ["orders_clean_20260105", "orders_clean_20260106"]
        # the CHECK that let ATTACH skip its scan is gone with the load
        assert conn.execute(
            "SELECT count(*) FROM pg_constraint WHERE conrelid = 'orders_clean_20260105'::regclass "
            "AND contype = 'c'"
        ).fetchone() == (0,)
        assert leftovers(conn) == []

        # and again: same rows, nothing added
        before = table_checksum(conn, "orders_clean")
        assert load(v2, "2026-01-05")["orders_clean"] == {"deleted": 120_000, "loaded": 120_000}
        assert table_checksum(conn, "orders_clean") == before


def test_a_failed_copy_replaces_nothing_and_leaves_no_table_behind(etl_connections, tmp_path):
    import psycopg

    load(orders(tmp_path / "a.parquet", "2026-01-05", 2_000, 1), "2026-01-05")
    with psycopg.connect(etl_connections.dsn, autocommit=True) as conn:
        before = table_checksum(conn, "orders_clean")
        broken = orders(tmp_path / "b.parquet", "2026-01-05", 200_000, 2, bad_row=True)
        with pytest.raises(psycopg.errors.NotNullViolation, match="status"):
            load(broken, "2026-01-05")
        assert table_checksum(conn, "orders_clean") == before
        assert leftovers(conn) == []


def test_all_tables_of_a_load_commit_together(etl_connections, tmp_path):
    """A partitioned table's new partition is not swapped in when another table of the load fails."""
    import psycopg

    from podium.hooks.warehouse import TableLoad

    load(orders(tmp_path / "a.parquet", "2026-01-05", 2_000, 1), "2026-01-05")
    with psycopg.connect(etl_connections.dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE audit (ds DATE NOT NULL, order_id TEXT NOT NULL, amount NUMERIC(4, 2))")
        conn.execute("INSERT INTO audit VALUES ('2026-01-05', 'kept', 1.00)")
        before = table_checksum(conn, "orders_clean")
        # amounts up to 499.99 do not fit NUMERIC(4, 2): the plain table's COPY fails after the swap
        failing = TableLoad(
            table="audit",
            parquet=orders(tmp_path / "audit.parquet", "2026-01-05", 1_000, 2),
            columns=("ds", "order_id", "amount"),
        )
        with pytest.raises(psycopg.errors.NumericValueOutOfRange):
            load(orders(tmp_path / "b.parquet", "2026-01-05", 5_000, 2), "2026-01-05", extra=[failing])
        assert table_checksum(conn, "orders_clean") == before
        assert conn.execute("SELECT order_id FROM audit").fetchall() == [("kept",)]
        assert list(partitions(conn)) == ["orders_clean_20260105"]
        assert leftovers(conn) == []


def test_a_plain_table_gets_delete_and_copy(etl_connections, tmp_path):
    import psycopg

    load(orders(tmp_path / "a5.parquet", "2026-01-05", 1_500, 1), "2026-01-05", ddl=PLAIN)
    load(orders(tmp_path / "a6.parquet", "2026-01-06", 700, 1), "2026-01-06", ddl=PLAIN)
    result = load(orders(tmp_path / "b5.parquet", "2026-01-05", 900, 2), "2026-01-05", ddl=PLAIN)
    assert result["orders_clean"] == {"deleted": 1_500, "loaded": 900}
    with psycopg.connect(etl_connections.dsn, autocommit=True) as conn:
        assert conn.execute("SELECT relkind FROM pg_class WHERE relname = 'orders_clean'").fetchone() == (
            "r",
        )
        assert conn.execute(
            "SELECT ds::text, count(*), min(left(order_id, 3)) FROM orders_clean GROUP BY ds ORDER BY ds"
        ).fetchall() == [("2026-01-05", 900, "v2-"), ("2026-01-06", 700, "v1-")]


def test_rows_in_a_default_partition_are_refused_by_name(etl_connections, tmp_path):
    import psycopg

    with psycopg.connect(etl_connections.dsn, autocommit=True) as conn:
        conn.execute(PARTITIONED)
        conn.execute("CREATE TABLE orders_clean_other PARTITION OF orders_clean DEFAULT")
    with pytest.raises(PermanentError, match=r"default partition public\.orders_clean_other"):
        load(orders(tmp_path / "a.parquet", "2026-01-05", 100, 1), "2026-01-05")
    with psycopg.connect(etl_connections.dsn, autocommit=True) as conn:
        assert leftovers(conn) == []


def test_backfill_runs_load_different_days_at_once(etl_connections, tmp_path):
    import psycopg

    days = [f"2026-01-{day:02d}" for day in range(5, 9)]
    files = {day: orders(tmp_path / f"{day}.parquet", day, 20_000, 1) for day in days}
    errors: list[BaseException] = []

    def run(day: str) -> None:
        try:
            load(files[day], day)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(day,)) for day in days]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with psycopg.connect(etl_connections.dsn, autocommit=True) as conn:
        assert conn.execute(
            "SELECT ds::text, count(*) FROM orders_clean GROUP BY ds ORDER BY ds"
        ).fetchall() == [(day, 20_000) for day in days]
        assert len(partitions(conn)) == 4
        assert leftovers(conn) == []


def test_ddl_per_connection_type():
    from podium.hooks.warehouse import TableLoad

    load = TableLoad("t", Path("x.parquet"), ddl={"postgres": "CREATE pg", "sqlite": "CREATE lite"})
    assert load.ddl_for("sqlite") == "CREATE lite"
    with pytest.raises(
        PermanentError, match="no DDL for conn_type 'mysql' \\(given for: postgres, sqlite\\)"
    ):
        load.ddl_for("mysql")
    assert TableLoad("t", Path("x.parquet"), ddl="CREATE t").ddl_for("mysql") == "CREATE t"
