"""DuckDBTransformOperator run for real (dag.test()): buckets give the rows of one pass, a file each."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from harness.etl_helpers import read_parquet, run_task

STAGING = "_staging/transform/date=2026-01-03"
# one row per id: the earliest version of each; a window over the key, as orders_clean.sql has
DEDUPE = """
    SELECT id, version, amount FROM events
    QUALIFY row_number() OVER (PARTITION BY id ORDER BY version) = 1
    ORDER BY id
"""
TOTALS = "SELECT count(*) AS ids, sum(amount) AS amount FROM latest"


@pytest.fixture
def events(lake: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """5,000 ids, most sent once, every 7th three times (versions 0..2), the rows shuffled."""
    import duckdb

    monkeypatch.setenv(
        "AIRFLOW_CONN_LAKE", json.dumps({"conn_type": "fs", "extra": {"path": f"file://{lake}"}})
    )
    source = lake / "landing" / "events.parquet"
    source.parent.mkdir(parents=True)
    with duckdb.connect() as duck:
        duck.execute(
            f"""COPY (
                SELECT 'id-' || lpad(i::VARCHAR, 6, '0') AS id, v AS version, (i * 31 + v) % 1000 AS amount
                FROM range(5000) AS t(i), range(3) AS s(v)
                WHERE v = 0 OR i % 7 = 0
                ORDER BY hash(i * 3 + v)
            ) TO '{source}' (FORMAT parquet)"""
        )
    return source


def transform(**kwargs):
    from podium.operators.etl_transform import DuckDBTransformOperator

    return DuckDBTransformOperator(
        task_id="transform",
        inputs={"events": "landing/events.parquet"},
        outputs={"latest": DEDUPE, "totals": TOTALS},
        staging=STAGING,
        **kwargs,
    )


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_bucketed_output_has_the_rows_of_one_pass_in_a_file_per_bucket(events, lake, airflow_db):
    state, whole = run_task(lambda: transform())
    assert state == "success"
    unbucketed = read_parquet(lake / STAGING / "latest.parquet")
    totals = read_parquet(lake / STAGING / "totals.parquet")
    assert len(unbucketed) == whole["latest"] == 5000
    assert all(version == 0 for _, version, _ in unbucketed)

    # 5,000 + 2 * 715 = 6,430 rows in buckets of about 1,600: 4 buckets
    bucketed: dict = {"bucket_by": {"events": "id"}, "bucketed": ["latest"], "rows_per_bucket": 1600}
    state, counts = run_task(lambda: transform(**bucketed))
    assert state == "success"
    folder = lake / STAGING / "latest"
    assert sorted(p.name for p in folder.iterdir()) == [f"part-{i:05d}.parquet" for i in range(4)]
    # duplicates always share a bucket: each id once, its earliest version, as without buckets
    assert read_parquet(folder) == unbucketed
    assert counts == whole
    # the unbucketed aggregate after it reads all buckets
    assert read_parquet(lake / STAGING / "totals.parquet") == totals
    assert all(len(read_parquet(part)) < 5000 for part in folder.iterdir())

    first = digests(folder)
    state, _ = run_task(lambda: transform(**bucketed))
    assert state == "success"
    assert digests(folder) == first  # a rerun writes the same bytes
    assert not list((lake / STAGING).glob(".*"))  # no temporary or old folder left behind

    # a lake partition takes the folder's files, in order, beside a single staged file
    from podium.operators.etl_load import LakePartitionOperator

    state, done = run_task(
        lambda: LakePartitionOperator(
            task_id="publish",
            partitions=[
                {
                    "partition": "curated/events/date=2026-01-03",
                    "sources": [f"{STAGING}/latest", f"{STAGING}/totals.parquet"],
                }
            ],
        )
    )
    assert state == "success"
    assert done == {"curated/events/date=2026-01-03": 5}
    partition = lake / "curated" / "events" / "date=2026-01-03"
    assert list(digests(partition).values()) == [
        *first.values(),
        *digests_of([lake / STAGING / "totals.parquet"]),
    ]


def digests_of(files: list[Path]) -> list[str]:
    return [hashlib.sha256(p.read_bytes()).hexdigest() for p in files]


def test_one_bucket_when_the_rows_fit(events, lake, airflow_db):
    # 6,430 rows, about 5,000 a bucket: the nearest count is one bucket
    state, _ = run_task(
        lambda: transform(bucket_by={"events": "id"}, bucketed=["latest"], rows_per_bucket=5000)
    )
    assert state == "success"
    assert [p.name for p in (lake / STAGING / "latest").iterdir()] == ["part-00000.parquet"]
    assert len(read_parquet(lake / STAGING / "latest")) == 5000


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"bucket_by": {"events": "id"}}, "bucket_by and bucketed go together"),
        ({"bucketed": ["latest"]}, "bucket_by and bucketed go together"),
        ({"bucket_by": {"evnts": "id"}, "bucketed": ["latest"]}, "bucket_by names no input: evnts"),
        ({"bucket_by": {"events": "id"}, "bucketed": ["lastest"]}, "bucketed names no output: lastest"),
        ({"bucket_by": {"events": "id"}, "bucketed": ["latest"], "rows_per_bucket": 0}, "at least 1"),
    ],
)
def test_bucket_settings_are_checked_when_the_dag_is_parsed(kwargs, message):
    with pytest.raises(ValueError, match=message):
        transform(**kwargs)
