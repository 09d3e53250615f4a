"""Pure logic of the ETL steps: the names a warehouse load gives its tables, the DuckDB reader SQL."""

from __future__ import annotations

import pytest

from podium.etl.loads import check_partition_column, partition_key, split_table, stage_names
from podium.etl.readers import guess_format, reader_sql, sql_str
from podium.exceptions import PermanentError


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ("2026-01-03", "20260103"),
        ("EMEA/North", "emeanorth"),
        (12345, "12345"),
        ("a" * 30, "a" * 20),
        ("---", "58b63e"),  # nothing name-safe left: sha1("---")[:6]
    ],
)
def test_partition_key(value, key):
    assert partition_key(value) == key


@pytest.mark.parametrize(
    ("table", "prefix", "live_name"),
    [
        ("orders_clean", "orders_clean__load_20260105_", "orders_clean_20260105"),
        ("x" * 26, "x" * 26 + "__load_20260105_", "x" * 26 + "_20260105"),
        # longer names keep 19 characters and a hash of the whole name, within PostgreSQL's 63
        (
            "orders_clean_for_the_regional_finance_reports_emea",
            "orders_clean_for_th_b01d8f__load_20260105_",
            "orders_clean_for_th_b01d8f_20260105",
        ),
    ],
)
def test_stage_names(table, prefix, live_name):
    names = stage_names(table, "2026-01-05")
    assert (names.prefix, names.live_name, names.check_prefix) == (prefix, live_name, "podium_load_20260105_")
    assert len(names.prefix) + 8 <= 63  # with the random token


def test_similar_long_names_get_different_stage_names():
    emea, apac = (
        stage_names(f"orders_clean_for_the_regional_finance_reports_{r}", 1) for r in ("emea", "apac")
    )
    assert emea.prefix != apac.prefix
    assert emea.live_name != apac.live_name


@pytest.mark.parametrize(
    ("table", "parts"), [("orders", ("orders",)), ("dwh.orders", ("dwh", "orders")), ("_t1", ("_t1",))]
)
def test_split_table(table, parts):
    assert split_table(table) == parts


@pytest.mark.parametrize("table", ["", "a.b.c", "orders; drop", '"orders"', "1orders", "dwh."])
def test_split_table_refuses_anything_but_plain_identifiers(table):
    with pytest.raises(PermanentError, match="plain identifiers"):
        split_table(table)


def test_check_partition_column():
    check_partition_column("ds")
    with pytest.raises(PermanentError, match="partition_column must be a plain identifier"):
        check_partition_column("ds = ds")


def test_sql_str_doubles_quotes():
    assert sql_str("it's") == "'it''s'"


def test_reader_sql_by_format(tmp_path):
    assert reader_sql(tmp_path / "a.csv") == (
        f"read_csv('{tmp_path}/a.csv', header = true, all_varchar = false, hive_partitioning = false)"
    )
    assert "all_varchar = true" in reader_sql(tmp_path / "a.csv", all_text=True)
    assert reader_sql(tmp_path / "a.json") == (
        f"read_json('{tmp_path}/a.json', format = 'newline_delimited', hive_partitioning = false)"
    )
    assert reader_sql(tmp_path / "a.bin") == f"read_parquet('{tmp_path}/a.bin', hive_partitioning = false)"
    with pytest.raises(PermanentError, match="format must be one of csv, jsonl, parquet, got 'xml'"):
        reader_sql(tmp_path / "a.xml", "xml")


def test_a_folder_is_read_by_its_files_format(tmp_path):
    (tmp_path / "part-0.jsonl").write_text("{}\n")
    assert guess_format(tmp_path) == "jsonl"
    assert reader_sql(tmp_path).startswith(f"read_json('{tmp_path}/*'")
    (tmp_path / "part-0.parquet").write_bytes(b"")
    assert guess_format(tmp_path) == "parquet"
    assert reader_sql(tmp_path) == f"read_parquet('{tmp_path}/*.parquet', hive_partitioning = false)"
    assert guess_format(tmp_path / "empty") == "parquet"
