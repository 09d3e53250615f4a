"""Transform step: DuckDB SQL over staged inputs, each output written as Parquet staging."""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from podium.etl.progress import Progress
from podium.etl.readers import reader_sql, sql_str
from podium.operators.etl import LakeOperator
from podium.warehouse.duckdb_session import count_rows, duckdb_connect, duckdb_progress

if TYPE_CHECKING:
    from airflow.sdk import Context

log = logging.getLogger(__name__)


class DuckDBTransformOperator(LakeOperator):
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
                                    f"COPY ({sql}) TO {sql_str(out / f'part-{index:05d}.parquet')} "
                                    "(FORMAT parquet)"
                                )
                        self._select_bucket(duck, readers, None, buckets)
                    else:
                        out = work / f"{name}.parquet"
                        with duckdb_progress(duck, f"transform {name}"):
                            duck.execute(f"COPY ({sql}) TO {sql_str(out)} (FORMAT parquet)")
                    duck.execute(f'CREATE VIEW "{name}" AS SELECT * FROM {reader_sql(out, "parquet")}')
                    counts[name] = count_rows(duck, f'"{name}"')
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
        rows = max(count_rows(duck, f'"{name}"') for name in self.bucket_by)
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
