"""Declarative data quality checks, evaluated by SQL in DuckDB's dialect (``unique`` uses its ``hash()``).

A check is a mapping, e.g. ``{"name": "order_id_unique", "check": "unique", "table": "orders_clean",
"columns": ["order_id"]}``. Kinds:

==================  ==========================================================================
``row_count``       ``min`` and/or ``max`` rows
``not_null``        no NULL in any of ``columns``
``unique``          no two rows share the values of ``columns``
``accepted_values`` ``column`` only takes ``values`` (NULL is left to ``not_null``)
``freshness``       ``max(column)`` no older than ``max_age`` (``"6h"``, ``"30m"``, seconds) before
                    the reference time (the end of the run's data interval)
``reconcile``       ``source: {table, expr}`` equals ``target: {table, expr}`` within ``tolerance``
==================  ==========================================================================

Every check may carry a ``where`` SQL condition. :func:`parse_checks` validates a whole list at once;
:func:`evaluate` runs each check as one query and returns results; :func:`raise_on_failures` raises
:class:`QualityGateFailed` naming every failed check, with a table of what failed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from podium.exceptions import PermanentError

KINDS = ("row_count", "not_null", "unique", "accepted_values", "freshness", "reconcile")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")


class QualityGateFailed(PermanentError):
    """One or more quality checks failed: nothing was published."""

    def __init__(self, failed: Sequence[CheckResult], table: str) -> None:
        self.failed = tuple(failed)
        names = ", ".join(result.name for result in self.failed)
        super().__init__(f"quality gate failed: {len(self.failed)} check(s): {names}\n{table}")


@dataclass(frozen=True)
class Check:
    name: str
    kind: str
    table: str
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckResult:
    name: str
    kind: str
    table: str
    passed: bool
    observed: str
    expected: str


def parse_age(value: Any) -> timedelta:
    """``"6h"``, ``"30m"``, ``"2d"``, ``"90s"`` or a number of seconds."""
    if isinstance(value, int | float):
        return timedelta(seconds=float(value))
    match = _AGE.match(str(value))
    if not match:
        raise ValueError(f"not a duration: {value!r} (use e.g. 90s, 30m, 6h, 2d)")
    unit = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    return timedelta(seconds=float(match.group(1)) * unit)


def _ident(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _IDENT.match(value):
        raise ValueError(f"{what} must be a plain SQL identifier, got {value!r}")
    return value


def _number(value: Any, what: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number, got {value!r}") from None


def parse_checks(specs: Sequence[Mapping[str, Any]]) -> list[Check]:
    """Validate check specs; raises ValueError listing every problem."""
    problems: list[str] = []
    checks: list[Check] = []
    seen: set[str] = set()
    for index, spec in enumerate(specs):
        where = f"checks[{index}]"
        try:
            name = _ident(spec.get("name"), f"{where}.name")
            if name in seen:
                raise ValueError(f"{where}.name {name!r} is used twice")
            seen.add(name)
            kind = spec.get("check")
            if kind not in KINDS:
                raise ValueError(f"{where}.check must be one of {', '.join(KINDS)}, got {kind!r}")
            options = {k: v for k, v in spec.items() if k not in ("name", "check", "table")}
            table = _ident(spec.get("table", (spec.get("target") or {}).get("table")), f"{where}.table")
            _validate(kind, options, where)
            checks.append(Check(name=name, kind=kind, table=table, options=options))
        except ValueError as error:
            problems.append(str(error))
    if problems:
        raise ValueError("invalid quality checks:\n  - " + "\n  - ".join(problems))
    return checks


def _validate_row_count(options: Mapping[str, Any], where: str) -> None:
    if "min" not in options and "max" not in options:
        raise ValueError(f"{where}: row_count needs min and/or max")
    for bound in ("min", "max"):
        if bound in options:
            _number(options[bound], f"{where}.{bound}")


def _validate_columns(kind: str, options: Mapping[str, Any], where: str) -> None:
    columns = options.get("columns")
    if not columns or isinstance(columns, str):
        raise ValueError(f"{where}: {kind} needs a list of columns")
    for column in columns:
        _ident(column, f"{where}.columns")


def _validate_accepted_values(options: Mapping[str, Any], where: str) -> None:
    _ident(options.get("column"), f"{where}.column")
    if not options.get("values"):
        raise ValueError(f"{where}: accepted_values needs values")


def _validate_freshness(options: Mapping[str, Any], where: str) -> None:
    _ident(options.get("column"), f"{where}.column")
    parse_age(options.get("max_age"))


def _validate_reconcile(options: Mapping[str, Any], where: str) -> None:
    for side in ("source", "target"):
        part = options.get(side) or {}
        _ident(part.get("table"), f"{where}.{side}.table")
        if not part.get("expr"):
            raise ValueError(f"{where}.{side}.expr is required")
    _number(options.get("tolerance", 0), f"{where}.tolerance")


def _validate(kind: str, options: Mapping[str, Any], where: str) -> None:
    if kind == "row_count":
        _validate_row_count(options, where)
    elif kind in ("not_null", "unique"):
        _validate_columns(kind, options, where)
    elif kind == "accepted_values":
        _validate_accepted_values(options, where)
    elif kind == "freshness":
        _validate_freshness(options, where)
    elif kind == "reconcile":
        _validate_reconcile(options, where)


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float | Decimal):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def _where(check: Check, extra: str | None = None) -> str:
    parts = [f"({check.options['where']})"] if check.options.get("where") else []
    if extra:
        parts.append(extra)
    return (" WHERE " + " AND ".join(parts)) if parts else ""


def check_sql(check: Check) -> str:
    """The one query that measures ``check``: it returns a single value."""
    table, options = f'"{check.table}"', check.options
    if check.kind == "row_count":
        return f"SELECT count(*) FROM {table}{_where(check)}"
    if check.kind == "not_null":
        nulls = " OR ".join(f'"{c}" IS NULL' for c in options["columns"])
        return f"SELECT count(*) FROM {table}{_where(check, f'({nulls})')}"
    if check.kind == "unique":
        cols = ", ".join(f'"{c}"' for c in options["columns"])
        # the keys' 64-bit hashes are grouped first (an integer is cheaper to group than text, and
        # stays in memory where the keys would spill); only rows whose hash repeats are grouped by
        # the key itself, so the count is exact
        key = f"hash({cols})"
        return (
            f"WITH repeated AS (SELECT {key} AS h FROM {table}{_where(check)} "
            "GROUP BY h HAVING count(*) > 1) "
            f"SELECT count(*) FROM (SELECT {cols} FROM {table}"
            f"{_where(check, f'{key} IN (SELECT h FROM repeated)')} "
            f"GROUP BY {cols} HAVING count(*) > 1) AS dup"
        )
    if check.kind == "accepted_values":
        values = ", ".join(_literal(v) for v in options["values"])
        column = f'"{options["column"]}"'
        return f"SELECT count(*) FROM {table}{_where(check, f'{column} NOT IN ({values})')}"
    if check.kind == "freshness":
        return f'SELECT max("{options["column"]}") FROM {table}{_where(check)}'
    source, target = options["source"], options["target"]
    return (
        f'SELECT (SELECT {source["expr"]} FROM "{source["table"]}") - '
        f'(SELECT {target["expr"]} FROM "{target["table"]}")'
    )


def judge(check: Check, value: Any, *, reference: datetime | None = None) -> CheckResult:
    """Turn the measured ``value`` of ``check`` into a verdict."""
    options = check.options
    if check.kind == "row_count":
        low = _number(options["min"], "min") if "min" in options else None
        high = _number(options["max"], "max") if "max" in options else None
        passed = (low is None or value >= low) and (high is None or value <= high)
        expected = " and ".join(
            part
            for part in (f">= {low:g}" if low is not None else "", f"<= {high:g}" if high is not None else "")
            if part
        )
        return CheckResult(check.name, check.kind, check.table, passed, f"{value} rows", expected)
    if check.kind in ("not_null", "unique", "accepted_values"):
        what = {"not_null": "rows with NULL", "unique": "duplicated keys", "accepted_values": "other values"}
        return CheckResult(
            check.name, check.kind, check.table, value == 0, f"{value} {what[check.kind]}", "0"
        )
    if check.kind == "freshness":
        age = parse_age(options["max_age"])
        if reference is None:
            raise ValueError(f"check {check.name}: freshness needs a reference time")
        oldest = reference.replace(tzinfo=None) - age
        newest = value.replace(tzinfo=None) if isinstance(value, datetime) else None
        passed = newest is not None and newest >= oldest
        return CheckResult(check.name, check.kind, check.table, passed, f"newest {newest}", f">= {oldest}")
    tolerance = _number(options.get("tolerance", 0), "tolerance")
    passed = value is not None and abs(float(value)) <= tolerance
    return CheckResult(
        check.name, check.kind, check.table, passed, f"source - target = {value}", f"|diff| <= {tolerance:g}"
    )


def evaluate(
    query_one: Callable[[str], Any], checks: Sequence[Check], *, reference: datetime | None = None
) -> list[CheckResult]:
    """Measure and judge every check; ``query_one(sql)`` returns the first column of the first row."""
    return [judge(check, query_one(check_sql(check)), reference=reference) for check in checks]


def format_results(results: Sequence[CheckResult]) -> str:
    """A fixed-width table of results, for the task log."""
    header = ("check", "kind", "table", "result", "observed", "expected")
    rows = [header] + [
        (r.name, r.kind, r.table, "pass" if r.passed else "FAIL", r.observed, r.expected) for r in results
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


def raise_on_failures(results: Sequence[CheckResult]) -> None:
    failed = [result for result in results if not result.passed]
    if failed:
        raise QualityGateFailed(failed, format_results(failed))
