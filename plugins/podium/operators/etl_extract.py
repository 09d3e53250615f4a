"""Extract steps: a file or folder from object storage, a SQL query, a paginated HTTP API -> Parquet staging.

Each writes one Parquet staging file under the lake root (see :mod:`podium.operators.etl`).
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from podium.etl.progress import Progress, human_bytes
from podium.etl.readers import EXTRACT_PARQUET, reader_sql, sql_str
from podium.exceptions import PermanentError
from podium.operators.etl import LakeOperator
from podium.warehouse.duckdb_session import count_rows, duckdb_connect, duckdb_progress

if TYPE_CHECKING:
    from airflow.sdk import Context

log = logging.getLogger(__name__)


class ObjectStorageToParquetOperator(LakeOperator):
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
                    duck.execute(f"COPY (SELECT * FROM {reader}) TO {sql_str(out)} ({EXTRACT_PARQUET})")
                rows = count_rows(duck, reader_sql(out, "parquet"))
            source_bytes = sum(p.stat().st_size for p in ([local] if local.is_file() else local.iterdir()))
            progress.add(rows=rows, nbytes=source_bytes)
            size = out.stat().st_size
            target = lake.put_file(out, self.staging, move=True)
        progress.done()
        log.info("staged %s as %s (%s)", self.source, target, human_bytes(size))
        return {"rows": rows, "bytes": size, "staging": self.staging}


class SqlToParquetOperator(LakeOperator):
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


class HttpApiToParquetOperator(LakeOperator):
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
                duck.execute(f"COPY (SELECT * FROM {reader}) TO {sql_str(out)} ({EXTRACT_PARQUET})")
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
