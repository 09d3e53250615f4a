"""Partition exchange: a table's new partition is filled beside the live one, then swapped in.

For a table ``PARTITION BY LIST (<partition column>)``: the interval's rows go into a new table
(``<table>__load_<key>_<token>``, which readers never see); one short transaction then detaches and
drops the old partition and attaches the new one (a CHECK constraint proves its bound, so nothing is
re-scanned) as ``<table>_<key>``. A crash before that commit leaves the previous partition as it was;
the rerun drops what the crashed attempt left (:func:`create_stage`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from podium.etl.loads import stage_names
from podium.exceptions import PermanentError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExchangeTarget:
    """A table partitioned ``BY LIST`` on the partition column: loaded by partition exchange."""

    schema: str
    name: str

    @property
    def qualified(self) -> Any:
        from psycopg import sql

        return sql.Identifier(self.schema, self.name)


@dataclass
class Stage:
    """The new partition of one load, filled beside the live one."""

    target: ExchangeTarget
    name: str
    live_name: str
    check: str
    loaded: int = 0
    expected: int = 0

    @property
    def qualified(self) -> Any:
        from psycopg import sql

        return sql.Identifier(self.target.schema, self.name)


def exchange_target(conn: Any, table: str, partition_column: str) -> ExchangeTarget | None:
    """``table`` as an exchange target when it is partitioned by LIST on ``partition_column`` alone."""
    row = conn.execute(
        "SELECT n.nspname, c.relname, p.partstrat, p.partnatts, a.attname "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "LEFT JOIN pg_partitioned_table p ON p.partrelid = c.oid "
        "LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = p.partattrs[0] "
        "WHERE c.oid = to_regclass(%s)",
        (table,),
    ).fetchone()
    if row is None:
        raise PermanentError(f"table {table!r} does not exist in the warehouse (and no DDL creates it)")
    schema, name, strategy, columns, column = row
    if strategy == "l" and columns == 1 and column == partition_column:
        return ExchangeTarget(schema=schema, name=name)
    return None


def current_partition(conn: Any, target: ExchangeTarget, partition_column: str, partition_value: Any) -> Any:
    """The partition that holds ``partition_value`` now (as the planner prunes to it), or None."""
    from psycopg import sql

    plan = conn.execute(
        sql.SQL("EXPLAIN (FORMAT JSON, VERBOSE) SELECT 1 FROM {} WHERE {} = {}").format(
            target.qualified, sql.Identifier(partition_column), sql.Literal(str(partition_value))
        )
    ).fetchone()[0]
    found: list[tuple[str, str]] = []

    def walk(node: Mapping[str, Any]) -> None:
        if "Relation Name" in node:
            found.append((node["Schema"], node["Relation Name"]))
        for child in node.get("Plans", ()):
            walk(child)

    walk(plan[0]["Plan"])
    if not found:
        return None
    if len(found) > 1:
        raise PermanentError(
            f"{target.name}: {partition_column}={partition_value} is in {found}, not one partition"
        )
    schema, name = found[0]
    (bound,) = conn.execute(
        "SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_class c WHERE c.oid = to_regclass(%s)",
        (sql.Identifier(schema, name).as_string(conn),),
    ).fetchone()
    if bound == "DEFAULT":
        raise PermanentError(
            f"{target.name}: rows for {partition_column}={partition_value} would be in the default partition "
            f"{schema}.{name}; podium replaces list partitions of one value, not rows of a default partition"
        )
    return sql.Identifier(schema, name)


def create_stage(conn: Any, target: ExchangeTarget, partition_column: str, partition_value: Any) -> Stage:
    """A new, empty table shaped like ``target``'s partitions, for the interval's new rows."""
    import secrets

    from psycopg import sql

    names = stage_names(target.name, partition_value)
    # what an earlier, crashed attempt at this interval left behind (the advisory lock excludes a
    # concurrent one)
    orphans = conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind = 'r' "
        "AND NOT c.relispartition AND starts_with(c.relname, %s)",
        (target.schema, names.prefix),
    ).fetchall()
    for (orphan,) in orphans:
        log.info("dropping %s.%s, left by an earlier attempt that did not finish", target.schema, orphan)
        conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(target.schema, orphan)))
    stage = Stage(
        target=target,
        name=names.prefix + secrets.token_hex(4),
        live_name=names.live_name,
        check=names.check_prefix + secrets.token_hex(4),
    )
    conn.execute(
        sql.SQL(
            "CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED "
            "INCLUDING STORAGE)"
        ).format(stage.qualified, target.qualified)
    )
    # proves the partition bound, so that ATTACH does not scan the rows again
    conn.execute(
        sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} CHECK ({} IS NOT NULL AND {} = {})").format(
            stage.qualified,
            sql.Identifier(stage.check),
            sql.Identifier(partition_column),
            sql.Identifier(partition_column),
            sql.Literal(str(partition_value)),
        )
    )
    conn.commit()
    return stage


def exchange(conn: Any, stage: Stage, partition_column: str, partition_value: Any) -> dict[str, int]:
    """Swap the stage table in as the interval's partition (in the caller's transaction)."""
    from psycopg import sql

    parent = stage.target.qualified
    old = current_partition(conn, stage.target, partition_column, partition_value)
    deleted = 0
    if old is not None:
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(old)).fetchone()
        deleted = int(row[0]) if row else 0
        conn.execute(sql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(parent, old))
        conn.execute(sql.SQL("DROP TABLE {}").format(old))
    conn.execute(
        sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES IN ({})").format(
            parent, stage.qualified, sql.Literal(str(partition_value))
        )
    )
    conn.execute(
        sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(stage.qualified, sql.Identifier(stage.check))
    )
    conn.execute(
        sql.SQL("ALTER TABLE {} RENAME TO {}").format(stage.qualified, sql.Identifier(stage.live_name))
    )
    return {"deleted": deleted, "loaded": stage.loaded}


def drop_quietly(conn: Any, table: Any) -> None:
    """Drop a stage table that was never swapped in (a later attempt drops it if this fails)."""
    from psycopg import sql

    with contextlib.suppress(Exception):
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))
        conn.commit()
