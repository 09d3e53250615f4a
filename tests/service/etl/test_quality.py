"""Quality checks: specs validated up front, each kind measured by SQL on a real DuckDB, verdicts named."""

from __future__ import annotations

from datetime import datetime

import pytest

from podium.etl.quality import (
    QualityGateFailed,
    evaluate,
    format_results,
    parse_age,
    parse_checks,
    raise_on_failures,
)

REFERENCE = datetime(2026, 1, 4)


@pytest.fixture
def query_one():
    import duckdb

    duck = duckdb.connect()
    duck.execute(
        """CREATE TABLE orders AS SELECT * FROM (VALUES
            ('a', 1, 'placed', TIMESTAMP '2026-01-03 22:00:00', 10.50),
            ('b', 2, 'shipped', TIMESTAMP '2026-01-03 10:00:00', 5.25),
            ('c', NULL, 'lost', TIMESTAMP '2026-01-03 09:00:00', 1.00),
            ('c', 3, 'placed', TIMESTAMP '2026-01-03 08:00:00', 2.00)
        ) AS t(order_id, customer_id, status, order_ts, amount)"""
    )
    duck.execute("CREATE TABLE revenue AS SELECT 18.75::DECIMAL(12, 2) AS total")
    yield lambda sql: duck.execute(sql).fetchone()[0]
    duck.close()


CASES = [
    ({"check": "row_count", "table": "orders", "min": 1, "max": 10}, True, "4 rows"),
    ({"check": "row_count", "table": "orders", "min": 5}, False, "4 rows"),
    ({"check": "row_count", "table": "orders", "max": "3"}, False, "4 rows"),
    ({"check": "row_count", "table": "orders", "min": 2, "where": "status = 'placed'"}, True, "2 rows"),
    ({"check": "not_null", "table": "orders", "columns": ["order_id", "status"]}, True, "0 rows with NULL"),
    ({"check": "not_null", "table": "orders", "columns": ["customer_id"]}, False, "1 rows with NULL"),
    ({"check": "unique", "table": "orders", "columns": ["order_id"]}, False, "1 duplicated keys"),
    ({"check": "unique", "table": "orders", "columns": ["order_id", "customer_id"]}, True, "0 duplicated"),
    (
        {"check": "accepted_values", "table": "orders", "column": "status", "values": ["placed", "shipped"]},
        False,
        "1 other values",
    ),
    (
        {
            "check": "accepted_values",
            "table": "orders",
            "column": "status",
            "values": ["placed", "shipped", "lost"],
        },
        True,
        "0 other values",
    ),
    (
        {"check": "freshness", "table": "orders", "column": "order_ts", "max_age": "6h"},
        True,
        "2026-01-03 22:00",
    ),
    (
        {"check": "freshness", "table": "orders", "column": "order_ts", "max_age": "1h"},
        False,
        "2026-01-03 22:00",
    ),
    (
        {"check": "freshness", "table": "orders", "column": "order_ts", "max_age": "1h", "where": "false"},
        False,
        "newest None",
    ),
    (
        {
            "check": "reconcile",
            "source": {"table": "orders", "expr": "sum(amount)"},
            "target": {"table": "revenue", "expr": "sum(total)"},
        },
        True,
        "source - target = 0",
    ),
    (
        {
            "check": "reconcile",
            "source": {"table": "orders", "expr": "count(*)"},
            "target": {"table": "orders", "expr": "count(DISTINCT order_id)"},
            "tolerance": 0.5,
        },
        False,
        "source - target = 1",
    ),
]


@pytest.mark.parametrize(("spec", "passed", "observed"), CASES)
def test_each_kind_of_check(query_one, spec, passed, observed):
    (check,) = parse_checks([{"name": "the_check", **spec}])
    (result,) = evaluate(query_one, [check], reference=REFERENCE)
    assert (result.name, result.passed) == ("the_check", passed)
    assert observed in result.observed


@pytest.mark.parametrize(
    ("columns", "where"),
    [(["k"], None), (["k", "g"], None), (["k"], "g <> 'b'"), (["k", "g"], "k IS NOT NULL")],
)
def test_unique_counts_exactly_the_duplicated_keys(columns, where):
    """The hash pass only narrows the rows: the count is the plain GROUP BY's, NULL keys included."""
    import duckdb

    duck = duckdb.connect()
    duck.execute(
        """CREATE TABLE t AS SELECT
            CASE WHEN i % 97 = 0 THEN NULL ELSE (i * 7919 % 5003)::VARCHAR END AS k,
            ['a', 'b', 'c'][(i % 3 + 1)::INTEGER] AS g
        FROM range(20000) AS r(i)"""
    )
    cols = ", ".join(columns)
    naive = duck.execute(
        f"SELECT count(*) FROM (SELECT {cols} FROM t {'WHERE ' + where if where else ''} "
        f"GROUP BY {cols} HAVING count(*) > 1)"
    ).fetchone()[0]
    spec = {"name": "u", "check": "unique", "table": "t", "columns": columns}
    (result,) = evaluate(
        lambda sql: duck.execute(sql).fetchone()[0],
        parse_checks([{**spec, "where": where} if where else spec]),
    )
    assert naive > 0
    assert result.observed == f"{naive} duplicated keys"
    assert not result.passed


def test_failures_raise_naming_every_failed_check_with_a_table(query_one):
    checks = parse_checks(
        [
            {"name": "enough_rows", "check": "row_count", "table": "orders", "min": 1},
            {"name": "ids_unique", "check": "unique", "table": "orders", "columns": ["order_id"]},
            {"name": "customers_set", "check": "not_null", "table": "orders", "columns": ["customer_id"]},
        ]
    )
    results = evaluate(query_one, checks, reference=REFERENCE)
    with pytest.raises(QualityGateFailed) as raised:
        raise_on_failures(results)
    message = str(raised.value)
    assert message.startswith("quality gate failed: 2 check(s): ids_unique, customers_set\n")
    assert "enough_rows" not in message  # only what failed is in the exception's table
    assert [r.name for r in raised.value.failed] == ["ids_unique", "customers_set"]
    table = format_results(results).splitlines()
    assert table[0].split() == ["check", "kind", "table", "result", "observed", "expected"]
    assert table[2].split()[:4] == ["enough_rows", "row_count", "orders", "pass"]
    assert table[3].split()[:4] == ["ids_unique", "unique", "orders", "FAIL"]
    raise_on_failures(results[:1])  # all passed: nothing raised


def test_quality_gate_failure_is_not_retried():
    from airflow.sdk.exceptions import AirflowFailException

    assert issubclass(QualityGateFailed, AirflowFailException)


@pytest.mark.parametrize(
    ("specs", "problem"),
    [
        ([{"name": "x", "check": "nope", "table": "t"}], "check must be one of"),
        ([{"name": "bad name", "check": "row_count", "table": "t", "min": 1}], "name must be a plain SQL"),
        ([{"name": "x", "check": "row_count", "table": "t"}], "row_count needs min and/or max"),
        ([{"name": "x", "check": "row_count", "table": "t", "min": "lots"}], "min must be a number"),
        ([{"name": "x", "check": "unique", "table": "t", "columns": "id"}], "needs a list of columns"),
        ([{"name": "x", "check": "not_null", "table": "t; DROP", "columns": ["a"]}], "table must be a plain"),
        ([{"name": "x", "check": "accepted_values", "table": "t", "column": "c"}], "needs values"),
        (
            [{"name": "x", "check": "freshness", "table": "t", "column": "c", "max_age": "soon"}],
            "not a duration",
        ),
        (
            [
                {
                    "name": "x",
                    "check": "reconcile",
                    "source": {"table": "a"},
                    "target": {"table": "b", "expr": "1"},
                }
            ],
            "source.expr is required",
        ),
        (
            [
                {"name": "x", "check": "row_count", "table": "t", "min": 1},
                {"name": "x", "check": "row_count", "table": "t", "min": 1},
            ],
            "used twice",
        ),
    ],
)
def test_invalid_specs_are_refused_with_the_problem(specs, problem):
    with pytest.raises(ValueError, match="invalid quality checks") as raised:
        parse_checks(specs)
    assert problem in str(raised.value)


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("30m", 1800), ("6h", 21600), ("2d", 172800), (45, 45), ("15", 15)]
)
def test_durations(text, seconds):
    assert parse_age(text).total_seconds() == seconds
