"""DuckDB SQL text for the ETL steps: the table function that reads a staged file, quoted literals.

Text in, text out (the format of a folder is guessed from the names of its files); the operators run
it on their DuckDB connection.
"""

from __future__ import annotations

from pathlib import Path

from podium.exceptions import PermanentError

FORMATS = ("csv", "jsonl", "parquet")
# DuckDB's COPY options for an extract's staging file. A text column's dictionary is given up once
# its page passes 64 KB (DuckDB's default: 1 MB): ids, timestamps and amounts read as text otherwise
# fill dictionaries of tens of thousands of values per row group before they are thrown away, while
# codes such as a status or a customer id keep theirs. The extract of orders_daily takes 15% less time,
# and its staging file has the same encodings; files whose dictionaries stay small are unchanged.
EXTRACT_PARQUET = "FORMAT parquet, STRING_DICTIONARY_PAGE_SIZE_LIMIT 65536"
_SUFFIXES = ((".parquet", "parquet"), (".csv", "csv"), (".jsonl", "jsonl"), (".json", "jsonl"))


def sql_str(value: str | Path) -> str:
    """``value`` as a SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def reader_sql(path: Path, fmt: str | None = None, *, all_text: bool = False) -> str:
    """The DuckDB table function reading ``path`` (a file or a folder of files) in ``fmt``."""
    fmt = fmt or guess_format(path)
    if fmt not in FORMATS:
        raise PermanentError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    pattern = path / f"*.{'json' if fmt == 'jsonl' else fmt}" if path.is_dir() else path
    if path.is_dir() and fmt == "jsonl":
        pattern = path / "*"
    if fmt == "parquet":
        return f"read_parquet({sql_str(pattern)}, hive_partitioning = false)"
    if fmt == "csv":
        return (
            f"read_csv({sql_str(pattern)}, header = true, all_varchar = {str(all_text).lower()}, "
            "hive_partitioning = false)"
        )
    return f"read_json({sql_str(pattern)}, format = 'newline_delimited', hive_partitioning = false)"


def guess_format(path: Path) -> str:
    """``path``'s format from its suffix, or for a folder from its files' (Parquet when unknown)."""
    if path.is_dir():
        names = {child.suffix for child in path.iterdir() if child.is_file()}
        for suffix, fmt in _SUFFIXES:
            if suffix in names:
                return fmt
        return "parquet"
    return {".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl"}.get(path.suffix, "parquet")
