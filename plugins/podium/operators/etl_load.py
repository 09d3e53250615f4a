"""Load steps: replace lake partitions and warehouse tables' intervals by staged files, then publish."""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from podium.etl.loads import TableLoad
from podium.operators.etl import LakeOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from podium.hooks.warehouse import WarehouseHook

log = logging.getLogger(__name__)


class LakePartitionOperator(LakeOperator):
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


class WarehouseLoadOperator(LakeOperator):
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
