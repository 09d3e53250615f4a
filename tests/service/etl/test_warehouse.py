"""Warehouse loads on a real PostgreSQL: partition exchange for tables partitioned by the interval,
DELETE + COPY for any other, all tables of a load committing together."""

from __future__ import annotations

import threading
from decimal import Decimal
from pathlib import Path

import pytest

from harness.etl_expected import table_checksum
from harness.etl_helpers import orders_parquet as orders
from podium.exceptions import PermanentError

pytestmark = pytest.mark.postgres
WAREHOUSE_SQL = Path(__file__).resolve().parents[3] / "include" / "sql" / "etl" / "warehouse"
PARTITIONED = (WAREHOUSE_SQL / "postgres" / "orders_clean.sql").read_text()
PLAIN = (WAREHOUSE_SQL / "sqlite" / "orders_clean.sql").read_text()  # the same columns, one plain table


def load(parquet: Path, day: str, ddl: str | None = PARTITIONED, *, parallelism: int = 2, extra=()) -> dict:
    from podium.etl.loads import TableLoad
    from podium.hooks.warehouse import WarehouseHook

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

    from podium.etl.loads import TableLoad

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
    from podium.etl.loads import TableLoad

    load = TableLoad("t", Path("x.parquet"), ddl={"postgres": "CREATE pg", "sqlite": "CREATE lite"})
    assert load.ddl_for("sqlite") == "CREATE lite"
    with pytest.raises(
        PermanentError, match="no DDL for conn_type 'mysql' \\(given for: postgres, sqlite\\)"
    ):
        load.ddl_for("mysql")
    assert TableLoad("t", Path("x.parquet"), ddl="CREATE t").ddl_for("mysql") == "CREATE t"


TYPED_DDL = """CREATE TABLE IF NOT EXISTS typed (
    ds DATE NOT NULL, b BOOLEAN, i2 SMALLINT, i4 INTEGER, i8 BIGINT, f4 REAL, f8 DOUBLE PRECISION,
    n NUMERIC(14, 2), n6 NUMERIC(20, 6), t TEXT, v VARCHAR(40), d DATE, ts TIMESTAMP, tz TIMESTAMPTZ
) PARTITION BY LIST (ds)"""


def typed_rows(path: Path, day: str) -> Path:
    """Every type the binary path covers, with NULLs, signs, edge values and non-ASCII text."""
    import duckdb

    with duckdb.connect() as duck:
        duck.execute("SET TimeZone = 'UTC'")
        duck.execute(
            f"""COPY (
                SELECT DATE '{day}' AS ds, * FROM (VALUES
                  (true, 1::SMALLINT, 1::INTEGER, 1::BIGINT, 1.5::REAL, 1.25::DOUBLE,
                   0.01::DECIMAL(14, 2), 123.456789::DECIMAL(20, 6), 'plain', 'v',
                   DATE '2026-01-03', TIMESTAMP '2026-01-03 04:05:06.789012',
                   TIMESTAMPTZ '2026-01-03 04:05:06.5+00'),
                  (false, (-32768)::SMALLINT, (-2147483648)::INTEGER, (-9223372036854775807)::BIGINT,
                   -0.0::REAL,
                   -1e300::DOUBLE, -999999999999.99::DECIMAL(14, 2), -0.000001::DECIMAL(20, 6),
                   'ünïcödé, "quoted", comma\nnewline', '', DATE '1970-01-01',
                   TIMESTAMP '1999-12-31 23:59:59', TIMESTAMPTZ '1969-07-20 20:17:40+00'),
                  (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
                  (true, 32767::SMALLINT, 2147483647::INTEGER, 9223372036854775807::BIGINT, 3.4e38::REAL,
                   5e-324::DOUBLE, 10000.00::DECIMAL(14, 2), 99999999999999.999999::DECIMAL(20, 6),
                   'x', 'y', DATE '2400-02-29', TIMESTAMP '2000-01-01 00:00:00',
                   TIMESTAMPTZ '2262-04-11 23:47:16+00')
                ) AS v(b, i2, i4, i8, f4, f8, n, n6, t, v, d, ts, tz)
            ) TO '{path}' (FORMAT parquet)"""
        )
    return path


def test_binary_and_csv_copies_store_the_same_values(etl_connections, tmp_path):
    import psycopg

    from podium.etl.loads import TableLoad
    from podium.hooks.warehouse import WarehouseHook

    for day, binary in (("2026-01-05", True), ("2026-01-06", False)):
        hook = WarehouseHook(binary_copy=binary)
        loaded = hook.replace_partition(
            loads=[TableLoad("typed", typed_rows(tmp_path / f"{day}.parquet", day), TYPED_DDL)],
            partition_column="ds",
            partition_value=day,
        )
        assert loaded == {"typed": {"deleted": 0, "loaded": 4}}
    with psycopg.connect(etl_connections.dsn, autocommit=True) as conn:
        conn.execute("SET TimeZone = 'UTC'")

        def rows(day: str) -> list[tuple]:
            return conn.execute(
                "SELECT b, i2, i4, i8, f4, f8, n, n6, t, v, d, ts, tz FROM typed WHERE ds = %s ORDER BY i4",
                (day,),
            ).fetchall()

        assert rows("2026-01-05") == rows("2026-01-06")
        # and the first day did go binary: every column of the file has a binary form its column takes
        import pyarrow.parquet as pq
        from psycopg import sql

        from podium.warehouse.copy_formats import copy_format, target_types

        schema = pq.read_schema(tmp_path / "2026-01-05.parquet")
        assert copy_format(schema, target_types(conn, sql.Identifier("typed"))).binary
        assert len(rows("2026-01-05")) == 4
        assert rows("2026-01-05")[0][6:9] == (
            Decimal("-999999999999.99"),
            Decimal("-0.000001"),
            'ünïcödé, "quoted", comma\nnewline',
        )


def test_the_copy_format_follows_the_target_columns():
    import pyarrow as pa

    from podium.warehouse.copy_formats import copy_format

    schema = pa.schema(
        [
            ("d", pa.date32()),
            ("n", pa.decimal128(12, 2)),
            ("s", pa.string()),
            ("ts", pa.timestamp("us")),
            ("tz", pa.timestamp("us", tz="UTC")),
        ]
    )
    exact = {"d": "date", "n": "numeric", "s": "varchar", "ts": "timestamp", "tz": "timestamptz"}
    assert copy_format(schema, exact).binary
    # a naive timestamp into timestamptz means the session's zone, as CSV; binary would mean UTC
    assert copy_format(schema, {**exact, "ts": "timestamptz"}).reason == (
        "column ts: timestamp[us] into timestamptz"
    )
    assert not copy_format(schema, {**exact, "s": "date"}).binary  # the server parses the text
    assert not copy_format(pa.schema([("i", pa.int64())]), {"i": "int4"}).binary
    assert copy_format(pa.schema([("i", pa.int64())]), {"i": "int8"}).binary


def test_long_table_names_keep_their_partitions_apart(etl_connections, tmp_path):
    """Two tables whose names share their first 40 characters: each gets its own partition name."""
    import psycopg

    from podium.etl.loads import TableLoad
    from podium.hooks.warehouse import WarehouseHook

    names = [
        "orders_clean_for_the_regional_finance_reports_emea",
        "orders_clean_for_the_regional_finance_reports_apac",
    ]
    parquet = orders(tmp_path / "a.parquet", "2026-01-05", 500, 1)
    loads = [TableLoad(name, parquet, PARTITIONED.replace("orders_clean", name)) for name in names]
    for _ in range(2):
        result = WarehouseHook().replace_partition(
            loads=loads, partition_column="ds", partition_value="2026-01-05"
        )
        assert [result[name]["loaded"] for name in names] == [500, 500]
    with psycopg.connect(etl_connections.dsn, autocommit=True) as conn:
        children = conn.execute(
            "SELECT p.relname, c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent ORDER BY 1"
        ).fetchall()
        assert [parent for parent, _ in children] == sorted(names)
        assert len({child for _, child in children}) == 2
        assert all(len(child) <= 63 and child.endswith("_20260105") for _, child in children)
        assert leftovers(conn) == []


def test_the_load_operator_hands_its_copy_settings_to_the_hook():
    from podium.operators.etl_load import WarehouseLoadOperator

    def operator(**kwargs):
        return WarehouseLoadOperator(
            task_id="load", tables={"t": {"source": "t.parquet"}}, partition_column="ds",
            partition_value="2026-01-05", **kwargs,
        )  # fmt: skip

    hook = operator(copy_parallelism=3, binary_copy=False, warehouse_conn_id="dwh").hook()
    assert (hook.warehouse_conn_id, hook.copy_parallelism, hook.binary_copy) == ("dwh", 3, False)
    hook = operator().hook()
    assert (hook.warehouse_conn_id, hook.copy_parallelism, hook.binary_copy) == ("warehouse", 2, True)
