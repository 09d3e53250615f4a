"""The data lake: a root URI from an Airflow connection, read and written through ObjectStoragePath.

Connection (default id ``lake``), conn_type ``fs``: extra ``{"path": "file:///srv/lake"}`` or
``{"path": "s3://bucket/prefix", "storage_conn_id": "aws_default"}``. Every path podium hands this hook
is relative to that root, so one connection moves a whole pipeline between a laptop and S3.

Partition replacement (:meth:`LakeHook.replace_dir`): the new partition is written beside the old one
(``.tmp-*``), then swapped in by renames. On a local file system readers see either the old or the new
partition, never a mix; a crash between the two renames leaves the partition absent (not half-written)
until the rerun. On S3 there is no rename: objects are copied from the temporary prefix and the old
ones deleted, so readers may briefly see both; a rerun converges to the same objects.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from airflow.sdk import BaseHook

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

log = logging.getLogger(__name__)


class LakeHook(BaseHook):
    """Paths in the lake named by the ``lake`` connection (conn_type ``fs``, extra ``path``)."""

    conn_name_attr = "lake_conn_id"
    default_conn_name = "lake"
    conn_type = "fs"
    hook_name = "podium lake"

    def __init__(self, lake_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.lake_conn_id = lake_conn_id

    @cached_property
    def root(self) -> ObjectStoragePath:
        from airflow.sdk import ObjectStoragePath

        extra = self.get_connection(self.lake_conn_id).extra_dejson
        uri = extra.get("path") or extra.get("root")
        if not uri:
            raise ValueError(f"connection {self.lake_conn_id!r} needs extra.path, e.g. file:///srv/lake")
        if "://" not in uri:
            uri = "file://" + os.path.abspath(uri)
        return ObjectStoragePath(uri, conn_id=extra.get("storage_conn_id"))

    def path(self, relative: str) -> ObjectStoragePath:
        """``relative`` under the lake root (a full URI such as ``s3://b/k`` is taken as is)."""
        from airflow.sdk import ObjectStoragePath

        if "://" in relative:
            return ObjectStoragePath(relative)
        return self.root / relative.lstrip("/")

    @staticmethod
    def local(path: ObjectStoragePath) -> Path | None:
        """The local file system path of ``path``, or None when it is remote."""
        if path.protocol in ("file", "local", ""):
            return Path(path.path)
        return None

    @contextlib.contextmanager
    def readable(self, relative: str) -> Iterator[Path]:
        """A local path to read ``relative`` (a file or a folder) from; remote data is downloaded."""
        path = self.path(relative)
        local = self.local(path)
        if local is not None:
            yield local
            return
        with tempfile.TemporaryDirectory(prefix="podium-lake-") as tmp:
            target = Path(tmp) / path.name
            if path.is_dir():
                target.mkdir()
                for remote in path.iterdir():
                    if remote.is_file():
                        remote.copy(f"file://{target / remote.name}")
            else:
                path.copy(f"file://{target}")
            yield target

    def put_file(self, local_file: Path, relative: str, *, move: bool = False) -> ObjectStoragePath:
        """Upload ``local_file`` to ``relative``, replacing it whole (a rename on local disks).

        ``move``: the caller is done with ``local_file``; on a local lake on the same file system it is
        renamed into place instead of copied.
        """
        path = self.path(relative)
        local = self.local(path)
        if local is not None:
            local.parent.mkdir(parents=True, exist_ok=True)
            tmp = local.with_name(f".tmp-{uuid.uuid4().hex}-{local.name}")
            _place(local_file, tmp, move=move)
            os.replace(tmp, local)
        else:
            from airflow.sdk import ObjectStoragePath

            ObjectStoragePath(f"file://{local_file}").copy(path)
        return path

    def replace_dir(self, local_dir: Path, relative: str, *, move: bool = False) -> ObjectStoragePath:
        """Replace the folder ``relative`` (a partition) by the files of ``local_dir``.

        ``move``: the caller is done with ``local_dir``; on a local lake on the same file system it is
        renamed into place instead of copied.
        """
        target = self.path(relative)
        local = self.local(target)
        token = uuid.uuid4().hex[:12]
        if local is not None:
            local.parent.mkdir(parents=True, exist_ok=True)
            staged = local.with_name(f".tmp-{token}-{local.name}")
            _place(local_dir, staged, move=move)
            old = local.with_name(f".old-{token}-{local.name}")
            if local.exists():
                os.rename(local, old)
            os.rename(staged, local)
            if old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
            elif old.exists():
                old.unlink()
            return target
        staged_remote = target.parent / f".tmp-{token}-{target.name}"
        for child in sorted(local_dir.iterdir()):
            self.put_file(child, str(staged_remote / child.name))
        if target.exists():
            for old_object in target.iterdir():
                old_object.unlink()
        for new_object in staged_remote.iterdir():
            new_object.copy(target / new_object.name)
            new_object.unlink()
        return target


def _place(source: Path, target: Path, *, move: bool) -> None:
    """Put the file or folder ``source`` at the new path ``target``: renamed when ``move`` allows and
    both are on one file system, else copied."""
    if move:
        try:
            os.rename(source, target)
            return
        except OSError:  # another file system (EXDEV)
            pass
    if source.is_dir():
        shutil.copytree(source, target)
    else:
        shutil.copyfile(source, target)
