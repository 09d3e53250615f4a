"""How one table's rows travel in a COPY: PostgreSQL's binary format (pgpq) where every column's type
allows it, else CSV (Arrow); and the COPY statement that receives them."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

# PostgreSQL type names each of pgpq's wire types may be received as, unchanged in meaning
_BINARY_TARGETS = {
    "BOOL": {"bool"},
    "INT2": {"int2"},
    "INT4": {"int4"},
    "INT8": {"int8"},
    "FLOAT4": {"float4"},
    "FLOAT8": {"float8"},
    "NUMERIC": {"numeric"},
    "TEXT": {"text", "varchar"},
    "DATE": {"date"},
    "BYTEA": {"bytea"},
}


def encode_csv(batch: Any) -> memoryview:
    """One Arrow record batch as headerless CSV, as PostgreSQL's COPY (FORMAT csv) reads it."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    sink = pa.BufferOutputStream()
    pacsv.write_csv(batch, sink, write_options=pacsv.WriteOptions(include_header=False))
    return memoryview(sink.getvalue())


@dataclass(frozen=True)
class CopyFormat:
    """How one table's rows travel: PostgreSQL's binary COPY format (pgpq), else CSV (Arrow)."""

    binary: bool
    schema: Any  # the pyarrow schema of the batches
    reason: str = ""

    @property
    def option(self) -> str:
        return "binary" if self.binary else "csv"

    def encoder(self) -> _Encoder:
        """A fresh encoder for one COPY stream (one per connection)."""
        return _Encoder(self)


class _Encoder:
    def __init__(self, fmt: CopyFormat) -> None:
        self.fmt = fmt
        self._pgpq: Any = None
        if fmt.binary:
            from pgpq import ArrowToPostgresBinaryEncoder

            self._pgpq = ArrowToPostgresBinaryEncoder(fmt.schema)

    def header(self) -> bytes:
        return self._pgpq.write_header() if self._pgpq is not None else b""

    def batch(self, batch: Any) -> Any:
        return self._pgpq.write_batch(batch) if self._pgpq is not None else encode_csv(batch)

    def trailer(self) -> bytes:
        return self._pgpq.finish() if self._pgpq is not None else b""


def copy_format(schema: Any, target_types: Mapping[str, str]) -> CopyFormat:
    """Binary when every column's binary form is what its target column receives, else CSV.

    Binary skips the server's text parsing (about half of a COPY's server time for dates, timestamps
    and numerics). ``target_types``: column -> PostgreSQL type name (``pg_type.typname``). A naive
    timestamp goes binary only into ``timestamp``, an aware one into ``timestamp``/``timestamptz``
    (as CSV into ``timestamptz`` it would be read in the session's time zone); anything else pgpq or
    this table does not cover makes the table go as CSV, which PostgreSQL parses with its own rules.
    """
    import pyarrow as pa

    try:
        from pgpq import ArrowToPostgresBinaryEncoder

        wire = {c.name: c.data_type.ddl() for c in ArrowToPostgresBinaryEncoder(schema).schema().columns}
    except Exception as error:  # an Arrow type pgpq has no encoder for
        return CopyFormat(False, schema, f"pgpq: {error}")
    for field in schema:
        target = target_types.get(field.name)
        kind = wire.get(field.name)
        if pa.types.is_timestamp(field.type):
            accepted = {"timestamp", "timestamptz"} if field.type.tz else {"timestamp"}
        else:
            accepted = _BINARY_TARGETS.get(str(kind), set())
        if target not in accepted:
            return CopyFormat(False, schema, f"column {field.name}: {field.type} into {target}")
    return CopyFormat(True, schema)


def chosen_format(table: str, schema: Any, types: Mapping[str, str], *, binary: bool) -> CopyFormat:
    """:func:`copy_format`, or CSV when ``binary`` is off; logs why a table goes as CSV."""
    fmt = copy_format(schema, types) if binary else CopyFormat(False, schema, "binary_copy is off")
    if not fmt.binary:
        log.info("%s: COPY as CSV (%s)", table, fmt.reason)
    return fmt


def target_types(conn: Any, table: Any) -> dict[str, str]:
    """Column -> ``pg_type.typname`` of ``table`` (a psycopg ``sql.Identifier``)."""
    rows = conn.execute(
        "SELECT a.attname, t.typname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
        "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped",
        (table.as_string(conn),),
    ).fetchall()
    return dict(rows)


def copy_sql(table: Any, columns: Sequence[str], fmt: CopyFormat) -> Any:
    """``COPY table (columns) FROM STDIN (FORMAT binary|csv)`` as a psycopg ``sql.Composed``."""
    from psycopg import sql

    return sql.SQL("COPY {} ({}) FROM STDIN (FORMAT {})").format(
        table, sql.SQL(", ").join(sql.Identifier(c) for c in columns), sql.SQL(fmt.option)
    )
