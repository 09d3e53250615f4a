"""What podium's ETL operators share: the lake connection, DuckDB's memory limit, publishing.

The operators, one module per step: :mod:`.etl_extract` (object storage, SQL, HTTP APIs into Parquet
staging), :mod:`.etl_transform` (DuckDB SQL), :mod:`.etl_quality` (the quality gate) and
:mod:`.etl_load` (lake partitions, warehouse tables).

Publishing is Airflow's own: a load task's ``outlets`` are the Assets of the tables it writes; their
events carry the partition and row counts (:meth:`LakeOperator.annotate_outlets`).

Every path is relative to the lake (the ``lake`` connection, see :mod:`podium.hooks.lake`) and is
templated, so a DAG keys them by the run's data interval (``{{ data_interval_start | ds }}``), never by
run id: a rerun of an interval overwrites its own staging files and replaces its own partitions.

DuckDB runs in-process with core features only (Parquet, CSV and JSON readers and writers are core;
no extension is ever installed or loaded) and a memory limit, spilling to local disk beyond it
(:mod:`podium.warehouse.duckdb_session`).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from podium.settings import include_dir

if TYPE_CHECKING:
    from airflow.sdk import Asset, Context

    from podium.hooks.lake import LakeHook

log = logging.getLogger(__name__)


class LakeOperator(BaseOperator):
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
