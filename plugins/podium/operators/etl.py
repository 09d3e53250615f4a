"""ETL operators: extract into Parquet staging, transform with DuckDB SQL, gate on quality, load, publish.

Publishing is Airflow's own: a load task's ``outlets`` are the Assets of the tables it writes; their
events carry the partition and row counts (:meth:`_LakeOperator.annotate_outlets`).

Every path is relative to the lake (the ``lake`` connection, see :mod:`podium.hooks.lake`) and is
templated, so a DAG keys them by the run's data interval (``{{ data_interval_start | ds }}``), never by
run id: a rerun of an interval overwrites its own staging files and replaces its own partitions.

DuckDB runs in-process with core features only (Parquet, CSV and JSON readers and writers are core;
no extension is ever installed or loaded) and a memory limit, spilling to local disk beyond it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from podium.etl.progress import Progress, human_bytes
from podium.exceptions import PermanentError

if TYPE_CHECKING:
    from airflow.sdk import Asset, Context

    from podium.hooks.lake import LakeHook
    from podium.hooks.warehouse import WarehouseHook

log = logging.getLogger(__name__)
FORMATS = ("csv", "jsonl", "parquet")
# DuckDB's COPY options for an extract's staging file. A text column's dictionary is given up once
# its page passes 64 KB (DuckDB's default: 1 MB): ids, timestamps and amounts read as text otherwise
# fill dictionaries of tens of thousands of values per row group before they are thrown away, while
# codes such as a status or a customer id keep theirs. The extract of orders_daily takes 15% less time,
# and its staging file has the same encodings; files whose dictionaries stay small are unchanged.
EXTRACT_PARQUET = "FORMAT parquet, STRING_DICTIONARY_PAGE_SIZE_LIMIT 65536"
_SUFFIXES = ((".parquet", "parquet"), (".csv", "csv"), (".jsonl", "jsonl"), (".json", "jsonl"))


def include_dir() -> Path:
    """include/ beside the dags folder ($PODIUM_INCLUDE_DIR overrides)."""
    import os

    from airflow.configuration import conf

    configured = os.environ.get("PODIUM_INCLUDE_DIR")
    return (
        Path(configured) if configured else Path(conf.get("core", "dags_folder")).resolve().parent / "include"
    )


def duckdb_connect(memory_limit: str, temp_dir: Path) -> Any:
    """An in-memory DuckDB connection with bounded memory that spills to ``temp_dir``."""
    import duckdb

    return duckdb.connect(
        config={
            "memory_limit": memory_limit,
            "temp_directory": str(temp_dir),
            "preserve_insertion_order": "false",
            "autoinstall_known_extensions": "false",
            "autoload_known_extensions": "false",
        }
    )


@contextlib.contextmanager
def duckdb_progress(duck: Any, step: str, every: float = 5.0) -> Iterator[None]:
    """Log DuckDB's progress through the running statement (percent, elapsed) every ``every`` seconds."""
    import threading
    import time

    duck.execute("SET enable_progress_bar = true")
    duck.execute("SET enable_progress_bar_print = false")
    done = threading.Event()
    started = time.monotonic()

    def report() -> None:
        while not done.wait(every):
            percent = duck.query_progress()
            if percent >= 0:
                log.info("%s: %.0f%% after %.0f s", step, percent, time.monotonic() - started)

    thread = threading.Thread(target=report, name=f"progress {step}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def _sql_str(value: str | Path) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def reader_sql(path: Path, fmt: str | None = None, *, all_text: bool = False) -> str:
    """The DuckDB table function reading ``path`` (a file or a folder of files) in ``fmt``."""
    fmt = fmt or _guess_format(path)
    if fmt not in FORMATS:
        raise PermanentError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    pattern = path / f"*.{'json' if fmt == 'jsonl' else fmt}" if path.is_dir() else path
    if path.is_dir() and fmt == "jsonl":
        pattern = path / "*"
    if fmt == "parquet":
        return f"read_parquet({_sql_str(pattern)}, hive_partitioning = false)"
    if fmt == "csv":
        return (
            f"read_csv({_sql_str(pattern)}, header = true, all_varchar = {str(all_text).lower()}, "
            "hive_partitioning = false)"
        )
    return f"read_json({_sql_str(pattern)}, format = 'newline_delimited', hive_partitioning = false)"


def _guess_format(path: Path) -> str:
    if path.is_dir():
        names = {child.suffix for child in path.iterdir() if child.is_file()}
        for suffix, fmt in (
            (".parquet", "parquet"),
            (".csv", "csv"),
            (".jsonl", "jsonl"),
            (".json", "jsonl"),
        ):
            if suffix in names:
                return fmt
        return "parquet"
    return {".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl"}.get(path.suffix, "parquet")


def _rows(duck: Any, sql: str) -> int:
    row = duck.execute(f"SELECT count(*) FROM {sql}").fetchone()
    return int(row[0]) if row else 0


class _LakeOperator(BaseOperator):
    """What the ETL operators share: the lake connection and DuckDB's memory limit."""

    def __init__(self, *, lake_conn_id: str = "lake", memory_limit: str = "512MB", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lake_conn_id = lake_conn_id
        self.memory_limit = memory_limit

    def lake(self) -> LakeHook:
        from podium.hooks.lake import LakeHook

        return LakeHook(lake_conn_id=self.lake_conn_id)

    def annotate_outlets(self, context: Context, extra: Mapping[str, Any]) -> None:
        """Publish: attach ``extra`` to the asset event of each of the task's outlets (its tables).

        Airflow emits the events when the task succeeds, so downstream DAGs scheduled on the Assets run
        on data that is loaded and checked, and learn which partition changed.
        """
        outlet: Asset
        for outlet in self.outlets:
            context["outlet_events"][outlet].extra.update(extra)
        if self.outlets:
            log.info(
                "publishing %s: %s", ", ".join(o.name for o in self.outlets), json.dumps(extra, default=str)
            )

    def resolve_input(self, lake: LakeHook, path: str) -> Any:
        """A context manager giving a local path: ``include:...`` from include/, else from the lake."""

        if path.startswith("include:"):
            return contextlib.nullcontext(include_dir() / path.removeprefix("include:"))
        return lake.readable(path)


class ObjectStorageToParquetOperator(_LakeOperator):
    """Extract a file (or a folder of files) from object storage into one Parquet staging file.

    :param source: path under the lake root, or a full URI (``s3://bucket/key``, ``file:///...``),
        read through Airflow's ObjectStoragePath (templated)
    :param staging: Parquet file to write, under the lake root (templated)
    :param source_format: ``csv``, ``jsonl`` or ``parquet``; guessed from the name when None
    :param all_text: read CSV columns as text (for sources whose malformed lines are judged later)
    :param lake_conn_id: the lake connection (conn_type ``fs``, extra ``path``)
    :param memory_limit: DuckDB's memory limit
    """

    template_fields: Sequence[str] = ("source", "staging")

    def __init__(
        self,
        *,
        source: str,
        staging: str,
        source_format: str | None = None,
        all_text: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.staging = staging
        self.source_format = source_format
        self.all_text = all_text

    def execute(self, context: Context) -> dict[str, Any]:
        lake = self.lake()
        with (
            tempfile.TemporaryDirectory(prefix="podium-extract-") as tmp,
            lake.readable(self.source) as local,
        ):
            if not local.exists():
                raise FileNotFoundError(f"source {self.source} not found ({lake.path(self.source)})")
            out = Path(tmp) / "out.parquet"
            progress = Progress(log, f"extract {self.source}")
            with duckdb_connect(self.memory_limit, Path(tmp)) as duck:
                reader = reader_sql(local, self.source_format, all_text=self.all_text)
                with duckdb_progress(duck, f"extract {self.source}"):
                    duck.execute(f"COPY (SELECT * FROM {reader}) TO {_sql_str(out)} ({EXTRACT_PARQUET})")
                rows = _rows(duck, reader_sql(out, "parquet"))
            source_bytes = sum(p.stat().st_size for p in ([local] if local.is_file() else local.iterdir()))
            progress.add(rows=rows, nbytes=source_bytes)
            size = out.stat().st_size
            target = lake.put_file(out, self.staging, move=True)
        progress.done()
        log.info("staged %s as %s (%s)", self.source, target, human_bytes(size))
        return {"rows": rows, "bytes": size, "staging": self.staging}


class SqlToParquetOperator(_LakeOperator):
    """Extract a query's rows from any common-sql connection into Parquet staging, chunk by chunk.

    PostgreSQL connections (psycopg) use a server-side cursor, so the result never sits whole in memory.

    :param conn_id: an Airflow connection whose hook is a common-sql DbApiHook
    :param sql: the query, or a ``.sql`` file under the DAG's template search path (templated)
    :param parameters: query parameters (templated)
    :param staging: Parquet file to write, under the lake root (templated)
    :param chunk_size: rows fetched and written per chunk
    """

    template_fields: Sequence[str] = ("sql", "parameters", "staging")
    template_ext: Sequence[str] = (".sql",)

    def __init__(
        self,
        *,
        conn_id: str,
        sql: str,
        staging: str,
        parameters: Mapping[str, Any] | Sequence[Any] | None = None,
        chunk_size: int = 50_000,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self.sql = sql
        self.parameters = parameters
        self.staging = staging
        self.chunk_size = chunk_size

    def execute(self, context: Context) -> dict[str, Any]:
        import pyarrow as pa
        import pyarrow.parquet as pq
        from airflow.providers.common.sql.hooks.sql import DbApiHook
        from airflow.sdk import BaseHook

        hook = BaseHook.get_connection(self.conn_id).get_hook()
        if not isinstance(hook, DbApiHook):
            raise PermanentError(
                f"connection {self.conn_id!r} has no common-sql hook ({type(hook).__name__})"
            )
        conn = hook.get_conn()
        progress = Progress(log, f"extract {self.conn_id}")
        try:
            cursor = self._cursor(conn)
            cursor.execute(self.sql, self.parameters)
            names = [column[0] for column in cursor.description]
            with tempfile.TemporaryDirectory(prefix="podium-extract-") as tmp:
                out = Path(tmp) / "out.parquet"
                writer: Any = None
                while rows := cursor.fetchmany(self.chunk_size):
                    table = pa.table({name: [row[i] for row in rows] for i, name in enumerate(names)})
                    if writer is None:
                        writer = pq.ParquetWriter(out, table.schema)
                    writer.write_table(table.cast(writer.schema))
                    progress.add(rows=len(rows), nbytes=table.nbytes)
                if writer is None:
                    raise PermanentError(f"query on {self.conn_id!r} returned no rows; nothing to stage")
                writer.close()
                self.lake().put_file(out, self.staging, move=True)
            cursor.close()
        finally:
            conn.close()
        progress.done()
        return {"rows": progress.rows, "staging": self.staging}

    @staticmethod
    def _cursor(conn: Any) -> Any:
        try:
            import psycopg

            if isinstance(conn, psycopg.Connection):
                return conn.cursor(name="podium_extract")
        except ImportError:
            pass
        return conn.cursor()


class HttpApiToParquetOperator(_LakeOperator):
    """Extract a paginated JSON API into Parquet staging.

    Pages are followed until one is empty (``page`` pagination: ``page_param`` = 1, 2, ...) or until the
    response has no next cursor (``cursor`` pagination: ``cursor_field`` in the body, sent back as
    ``cursor_param``). Records are streamed to JSON lines on local disk, then to Parquet by DuckDB.

    :param http_conn_id: the HTTP connection (base URL, auth)
    :param endpoint: path under the connection's base URL (templated)
    :param query: extra query parameters (templated)
    :param records_field: key of the list of records in each page (None: the body is the list)
    :param pagination: ``page`` or ``cursor``
    :param staging: Parquet file to write, under the lake root (templated)
    :param max_pages: safety limit
    """

    template_fields: Sequence[str] = ("endpoint", "query", "staging")

    def __init__(
        self,
        *,
        http_conn_id: str,
        endpoint: str,
        staging: str,
        query: Mapping[str, Any] | None = None,
        records_field: str | None = "items",
        pagination: str = "page",
        page_param: str = "page",
        cursor_field: str = "next_cursor",
        cursor_param: str = "cursor",
        max_pages: int = 10_000,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if pagination not in ("page", "cursor"):
            raise ValueError(f"pagination must be 'page' or 'cursor', got {pagination!r}")
        self.http_conn_id = http_conn_id
        self.endpoint = endpoint
        self.staging = staging
        self.query = query
        self.records_field = records_field
        self.pagination = pagination
        self.page_param = page_param
        self.cursor_field = cursor_field
        self.cursor_param = cursor_param
        self.max_pages = max_pages

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow.providers.http.hooks.http import HttpHook

        hook = HttpHook(method="GET", http_conn_id=self.http_conn_id)
        progress = Progress(log, f"extract {self.endpoint}")
        with tempfile.TemporaryDirectory(prefix="podium-extract-") as tmp:
            lines = Path(tmp) / "records.jsonl"
            pages = 0
            with lines.open("w", encoding="utf-8") as handle:
                for records in self._pages(hook):
                    pages += 1
                    for record in records:
                        text = json.dumps(record, separators=(",", ":"))
                        handle.write(text + "\n")
                        progress.add(rows=1, nbytes=len(text) + 1)
            if not progress.rows:
                raise PermanentError(f"{self.endpoint}: the API returned no records; nothing to stage")
            out = Path(tmp) / "out.parquet"
            with duckdb_connect(self.memory_limit, Path(tmp)) as duck:
                reader = reader_sql(lines, "jsonl")
                duck.execute(f"COPY (SELECT * FROM {reader}) TO {_sql_str(out)} ({EXTRACT_PARQUET})")
            self.lake().put_file(out, self.staging, move=True)
        progress.done()
        return {"rows": progress.rows, "pages": pages, "staging": self.staging}

    def _pages(self, hook: Any) -> Any:
        query = dict(self.query or {})
        page, cursor = 1, None
        for _ in range(self.max_pages):
            params = dict(query)
            if self.pagination == "page":
                params[self.page_param] = page
            elif cursor is not None:
                params[self.cursor_param] = cursor
            response = hook.run(self.endpoint, data=params)
            body = response.json()
            records = body if self.records_field is None else body.get(self.records_field) or []
            if not isinstance(records, list):
                raise PermanentError(f"{self.endpoint}: {self.records_field!r} is not a list of records")
            if self.pagination == "page":
                if not records:
                    return
                yield records
                page += 1
                continue
            if records:
                yield records
            cursor = body.get(self.cursor_field) if isinstance(body, dict) else None
            if not cursor:
                return
        raise PermanentError(f"{self.endpoint}: more than {self.max_pages} pages")


class DuckDBTransformOperator(_LakeOperator):
    """Run DuckDB SQL files over staged inputs; write each output as Parquet staging.

    Inputs become views named after their keys; ``views`` are SQL views over them (not written);
    each of ``outputs`` is written to ``<staging>/<name>.parquet`` and is a table name for the
    outputs after it. SQL files are Jinja templates (data interval, params...) found on the DAG's
    template search path.

    **Buckets** bound memory by the bucket, not the partition. The rows of the ``bucket_by`` inputs
    are split by a hash of their key into ``round(rows / rows_per_bucket)`` buckets (at least one).
    Each output in ``bucketed`` is computed one bucket at a time, its SQL seeing only that bucket's
    rows of those inputs (other inputs whole), and is written as the folder ``<staging>/<name>/`` of
    one Parquet file per bucket. Correct for SQL that works row by row or groups, partitions or joins
    by the key (a dedupe by ``order_id`` with the key ``order_id``); not for an aggregate over all
    rows, which belongs in a later, unbucketed output reading the bucketed one. The same rows give
    the same buckets and files, so reruns write identical bytes. Each bucket reads the bucketed
    inputs once: for very large days raise ``rows_per_bucket`` (and ``memory_limit``).

    :param inputs: name -> path under the lake root, or ``include:<path>`` for a file in include/
        (CSV, JSON lines or Parquet, file or folder) (templated)
    :param views: name -> SQL or ``.sql`` file, in order (templated)
    :param outputs: name -> SQL or ``.sql`` file, in order (templated)
    :param staging: the folder of the outputs, under the lake root (templated)
    :param bucket_by: input name -> key (a SQL expression over its columns)
    :param bucketed: outputs computed bucket by bucket
    :param rows_per_bucket: rows of the largest ``bucket_by`` input per bucket, about: from two
        buckets on each holds 3/4 to 5/4 of it, and a single bucket up to 3/2 of it
    """

    template_fields: Sequence[str] = ("inputs", "views", "outputs", "staging")
    template_ext: Sequence[str] = (".sql",)

    def __init__(
        self,
        *,
        inputs: Mapping[str, str],
        outputs: Mapping[str, str],
        staging: str,
        views: Mapping[str, str] | None = None,
        bucket_by: Mapping[str, str] | None = None,
        bucketed: Sequence[str] = (),
        rows_per_bucket: int = 1_000_000,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.inputs = dict(inputs)
        self.views = dict(views or {})
        self.outputs = dict(outputs)
        self.staging = staging
        self.bucket_by = dict(bucket_by or {})
        self.bucketed = list(bucketed)
        self.rows_per_bucket = rows_per_bucket
        if bool(self.bucket_by) != bool(self.bucketed):
            raise ValueError(
                "bucket_by and bucketed go together: the inputs to split and the outputs to split"
            )
        if unknown := sorted(set(self.bucket_by) - set(self.inputs)):
            raise ValueError(
                f"bucket_by names no input: {', '.join(unknown)} (inputs: {', '.join(self.inputs)})"
            )
        if unknown := sorted(set(self.bucketed) - set(self.outputs)):
            raise ValueError(
                f"bucketed names no output: {', '.join(unknown)} (outputs: {', '.join(self.outputs)})"
            )
        if rows_per_bucket < 1:
            raise ValueError(f"rows_per_bucket must be at least 1, got {rows_per_bucket}")

    def execute(self, context: Context) -> dict[str, int]:
        lake = self.lake()
        counts: dict[str, int] = {}
        with tempfile.TemporaryDirectory(prefix="podium-transform-") as tmp, contextlib.ExitStack() as stack:
            work = Path(tmp)
            with duckdb_connect(self.memory_limit, work / "spill") as duck:
                readers: dict[str, str] = {}
                for name, path in self.inputs.items():
                    local = stack.enter_context(self.resolve_input(lake, path))
                    readers[name] = reader_sql(local)
                    duck.execute(f'CREATE VIEW "{name}" AS SELECT * FROM {readers[name]}')
                for name, sql in self.views.items():
                    duck.execute(f'CREATE VIEW "{name}" AS {sql}')
                buckets = self._buckets(duck)
                for name, sql in self.outputs.items():
                    progress = Progress(log, f"transform {name}")
                    if name in self.bucketed:
                        out = work / name
                        out.mkdir()
                        for index in range(buckets):
                            self._select_bucket(duck, readers, index, buckets)
                            step = f"transform {name}, bucket {index + 1} of {buckets}"
                            with duckdb_progress(duck, step):
                                duck.execute(
                                    f"COPY ({sql}) TO {_sql_str(out / f'part-{index:05d}.parquet')} "
                                    "(FORMAT parquet)"
                                )
                        self._select_bucket(duck, readers, None, buckets)
                    else:
                        out = work / f"{name}.parquet"
                        with duckdb_progress(duck, f"transform {name}"):
                            duck.execute(f"COPY ({sql}) TO {_sql_str(out)} (FORMAT parquet)")
                    duck.execute(f'CREATE VIEW "{name}" AS SELECT * FROM {reader_sql(out, "parquet")}')
                    counts[name] = _rows(duck, f'"{name}"')
                    nbytes = (
                        sum(f.stat().st_size for f in out.iterdir()) if out.is_dir() else out.stat().st_size
                    )
                    progress.add(rows=counts[name], nbytes=nbytes)
                    progress.done()
            staging = self.staging.rstrip("/")
            for name in self.outputs:
                if name in self.bucketed:
                    lake.replace_dir(work / name, f"{staging}/{name}", move=True)
                else:
                    lake.put_file(work / f"{name}.parquet", f"{staging}/{name}.parquet", move=True)
        return counts

    def _buckets(self, duck: Any) -> int:
        """How many buckets the ``bucket_by`` inputs are split into (1: none)."""
        if not self.bucket_by:
            return 1
        rows = max(_rows(duck, f'"{name}"') for name in self.bucket_by)
        # the count nearest to rows_per_bucket rows each: from two buckets on each holds 3/4 to 5/4
        # of it, and a single bucket up to 3/2 of it
        buckets = max(1, int(rows / self.rows_per_bucket + 0.5))
        if buckets > 1:
            log.info("transform: %d rows in %d buckets of about %d", rows, buckets, rows // buckets)
        return buckets

    def _select_bucket(self, duck: Any, readers: Mapping[str, str], index: int | None, buckets: int) -> None:
        """Point each ``bucket_by`` input's view at bucket ``index`` of ``buckets`` (None: all rows)."""
        if buckets == 1:
            return
        for name, key in self.bucket_by.items():
            where = f" WHERE hash({key}) % {buckets} = {index}" if index is not None else ""
            duck.execute(f'CREATE OR REPLACE VIEW "{name}" AS SELECT * FROM {readers[name]}{where}')


class DataQualityOperator(_LakeOperator):
    """Quality gate: evaluate declarative checks over staged tables; fail before anything is published.

    Checks are those of :mod:`podium.etl.quality` (row_count, not_null, unique, accepted_values,
    freshness, reconcile). Every result is logged as a table; failures raise ``QualityGateFailed``
    naming each failed check, without retries (re-checking the same data cannot help).

    :param tables: name -> staged file under the lake root (templated)
    :param checks: list of check mappings (templated)
    :param reference_time: freshness is judged against it; default: the end of the data interval
    """

    template_fields: Sequence[str] = ("tables", "checks", "reference_time")

    def __init__(
        self,
        *,
        tables: Mapping[str, str],
        checks: Sequence[Mapping[str, Any]],
        reference_time: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.tables = dict(tables)
        self.checks = list(checks)
        self.reference_time = reference_time

    def execute(self, context: Context) -> list[dict[str, Any]]:
        from dataclasses import asdict
        from datetime import datetime

        from podium.etl.quality import evaluate, format_results, parse_checks, raise_on_failures

        try:
            checks = parse_checks(self.checks)
        except ValueError as error:
            raise PermanentError(str(error)) from error
        reference = (
            datetime.fromisoformat(self.reference_time)
            if self.reference_time
            else context.get("data_interval_end")
        )
        lake = self.lake()
        with (
            tempfile.TemporaryDirectory(prefix="podium-quality-") as tmp,
            contextlib.ExitStack() as stack,
            duckdb_connect(self.memory_limit, Path(tmp)) as duck,
        ):
            for name, path in self.tables.items():
                local = stack.enter_context(self.resolve_input(lake, path))
                duck.execute(f'CREATE VIEW "{name}" AS SELECT * FROM {reader_sql(local)}')

            def query_one(sql: str) -> Any:
                row = duck.execute(sql).fetchone()
                return row[0] if row else None

            results = evaluate(query_one, checks, reference=reference)
        log.info("quality checks:\n%s", format_results(results))
        raise_on_failures(results)
        return [asdict(result) for result in results]


class LakePartitionOperator(_LakeOperator):
    """Replace partitions of lake tables (``zone/table/date=YYYY-MM-DD/``) by staged files.

    Each partition is swapped in whole (see :meth:`podium.hooks.lake.LakeHook.replace_dir`).

    :param partitions: ``[{"partition": folder under the lake root, "sources": [staged files]}]``
        (templated)
    """

    template_fields: Sequence[str] = ("partitions",)

    def __init__(self, *, partitions: Sequence[Mapping[str, Any]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for spec in partitions:
            if not spec.get("partition") or not spec.get("sources"):
                raise ValueError(f"each partition needs 'partition' and 'sources', got {spec!r}")
        self.partitions = [dict(spec) for spec in partitions]

    def execute(self, context: Context) -> dict[str, int]:
        import shutil

        lake = self.lake()
        done: dict[str, int] = {}
        for spec in self.partitions:
            partition, sources = spec["partition"], list(spec["sources"])
            with tempfile.TemporaryDirectory(prefix="podium-partition-") as tmp:
                folder = Path(tmp) / "partition"
                folder.mkdir()
                files = 0
                for source in sources:
                    # a staged file, or a folder of them (a bucketed output): its files in name order
                    with lake.readable(source) as local:
                        for each in sorted(local.iterdir()) if local.is_dir() else [local]:
                            if each.is_file() and not each.name.startswith("."):
                                shutil.copyfile(each, folder / f"part-{files:05d}{each.suffix}")
                                files += 1
                target = lake.replace_dir(folder, partition, move=True)
            log.info("replaced partition %s with %d file(s)", target, files)
            done[partition] = files
        self.annotate_outlets(context, {"partitions": list(done)})
        return done


class WarehouseLoadOperator(_LakeOperator):
    """Replace exactly one interval's rows of warehouse tables by staged Parquet files.

    All tables of the load commit together; a crash mid-load leaves the previous rows; a rerun never
    duplicates (see :mod:`podium.hooks.warehouse`). On PostgreSQL a table ``PARTITION BY LIST`` on
    ``partition_column`` gets the interval's rows COPYed into a new partition over
    ``copy_parallelism`` connections, swapped in in one short transaction; any other table gets
    DELETE + COPY in that transaction. Publishing: give the tables' Assets as ``outlets``; each asset
    event carries the partition and the rows loaded per table.

    :param tables: ``[schema.]table`` -> ``{"source": staged Parquet under the lake root,
        "ddl": CREATE TABLE IF NOT EXISTS SQL or a .sql file, or a mapping conn type -> either}``
        (templated)
    :param partition_column: the column that holds the interval's key in every table, e.g. ``ds``
    :param partition_value: its value for this run, e.g. ``{{ data_interval_start | ds }}`` (templated)
    :param warehouse_conn_id: PostgreSQL (COPY) or SQLite connection
    :param copy_parallelism: PostgreSQL connections that COPY one partition at once
    :param binary_copy: send rows in PostgreSQL's binary COPY format where every column's type
        allows it (no text parsing on the server); False: always CSV
    """

    template_fields: Sequence[str] = ("tables", "partition_value")
    template_ext: Sequence[str] = (".sql",)

    def __init__(
        self,
        *,
        tables: Mapping[str, Mapping[str, Any]],
        partition_column: str,
        partition_value: str,
        warehouse_conn_id: str = "warehouse",
        copy_parallelism: int = 2,
        binary_copy: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if copy_parallelism < 1:
            raise ValueError(f"copy_parallelism must be at least 1, got {copy_parallelism}")
        self.copy_parallelism = copy_parallelism
        self.binary_copy = binary_copy
        self.tables = {table: dict(spec) for table, spec in tables.items()}
        self.partition_column = partition_column
        self.partition_value = partition_value
        self.warehouse_conn_id = warehouse_conn_id

    def hook(self) -> WarehouseHook:
        from podium.hooks.warehouse import WarehouseHook

        return WarehouseHook(
            warehouse_conn_id=self.warehouse_conn_id,
            copy_parallelism=self.copy_parallelism,
            binary_copy=self.binary_copy,
        )

    def execute(self, context: Context) -> dict[str, Any]:
        from podium.hooks.warehouse import TableLoad

        lake = self.lake()
        with contextlib.ExitStack() as stack:
            loads = [
                TableLoad(
                    table=table,
                    parquet=stack.enter_context(lake.readable(spec["source"])),
                    ddl=spec.get("ddl"),
                )
                for table, spec in self.tables.items()
            ]
            result = self.hook().replace_partition(
                loads=loads, partition_column=self.partition_column, partition_value=self.partition_value
            )
        self.annotate_outlets(
            context,
            {self.partition_column: self.partition_value, **{t: r["loaded"] for t, r in result.items()}},
        )
        return {"partition": {self.partition_column: self.partition_value}, "tables": result}
