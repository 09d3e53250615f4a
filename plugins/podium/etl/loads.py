"""What a warehouse load is made of: the tables, their DDL, and the names its tables are given.

Plain data and naming rules, shared by the warehouse hook (:mod:`podium.hooks.warehouse`) and the
load's service code (:mod:`podium.warehouse`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podium.exceptions import PermanentError

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class TableLoad:
    """One table's part of a load: its rows for the interval come from ``parquet``."""

    table: str
    parquet: Path
    ddl: str | Mapping[str, str] | None = None
    columns: tuple[str, ...] | None = None

    def ddl_for(self, conn_type: str) -> str | None:
        """The DDL to run on a ``conn_type`` connection: ``ddl`` itself, or its entry for the type."""
        if self.ddl is None or isinstance(self.ddl, str):
            return self.ddl
        if conn_type not in self.ddl:
            raise PermanentError(
                f"{self.table}: no DDL for conn_type {conn_type!r} (given for: {', '.join(sorted(self.ddl))})"
            )
        return self.ddl[conn_type]


def short_hash(text: str) -> str:
    """Six hex digits of ``text``'s SHA-1: keeps long, similar names apart once shortened."""
    return hashlib.sha1(text.encode()).hexdigest()[:6]


def partition_key(value: Any) -> str:
    """A name-safe key for a partition value: ``2026-01-03`` -> ``20260103``."""
    key = re.sub(r"[^0-9A-Za-z]+", "", str(value)).lower()[:20]
    return key or short_hash(str(value))


def split_table(table: str) -> tuple[str, ...]:
    """``[schema.]name`` as its parts; refuses anything but plain identifiers."""
    parts = tuple(table.split("."))
    if not 1 <= len(parts) <= 2 or not all(IDENTIFIER.match(part) for part in parts):
        raise PermanentError(f"table must be [schema.]name of plain identifiers, got {table!r}")
    return parts


def check_partition_column(partition_column: str) -> None:
    """Refuse a partition column that is not a plain identifier."""
    if not IDENTIFIER.match(partition_column):
        raise PermanentError(f"partition_column must be a plain identifier, got {partition_column!r}")


@dataclass(frozen=True)
class StageNames:
    """The names a partition exchange gives one table's interval (a random token completes two)."""

    prefix: str  # of every stage table of this table and interval: ``<tag>__load_<key>_``
    live_name: str  # of the partition once swapped in: ``<tag>_<key>``
    check_prefix: str  # of the CHECK constraint that proves the partition bound


def stage_names(table_name: str, partition_value: Any) -> StageNames:
    """The names for ``table_name``'s partition of ``partition_value``.

    A table's own prefix (a hash of its full name keeps long, similar names apart), within the 63
    characters PostgreSQL keeps of a name.
    """
    key = partition_key(partition_value)
    tag = table_name if len(table_name) <= 26 else table_name[:19] + "_" + short_hash(table_name)
    return StageNames(
        prefix=f"{tag}__load_{key[:16]}_",
        live_name=f"{tag}_{key}",
        check_prefix=f"podium_load_{key}_",
    )
