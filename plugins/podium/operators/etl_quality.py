"""Quality gate: declarative checks over staged tables, evaluated by DuckDB before anything is published."""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from podium.etl.readers import reader_sql
from podium.exceptions import PermanentError
from podium.operators.etl import LakeOperator
from podium.warehouse.duckdb_session import duckdb_connect

if TYPE_CHECKING:
    from airflow.sdk import Context

log = logging.getLogger(__name__)


class DataQualityOperator(LakeOperator):
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
