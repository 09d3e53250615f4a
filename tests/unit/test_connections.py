from __future__ import annotations

import pytest

from podium.connections import describe_connection, missing_connection, validate_conn_ids


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("kubernetes_default", ["kubernetes_default"]),
        (["a", "b.c", "d-e", "a"], ["a", "b.c", "d-e"]),
        (("x",), ["x"]),
    ],
)
def test_validate_conn_ids_accepts(given: object, expected: list[str]) -> None:
    assert validate_conn_ids(given) == expected


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ([], "non-empty list"),
        (None, "non-empty list"),
        (["ok", "has space"], r"conn_ids\[1\]: 'has space'"),
        (["ok", 3], r"conn_ids\[1\]: 3"),
        (["x" * 251], r"conn_ids\[0\]"),
    ],
)
def test_validate_conn_ids_refuses(given: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_conn_ids(given)


def test_describe_connection_never_shows_secrets() -> None:
    report = describe_connection(
        "aws_default",
        conn_type="aws",
        host="https://AKIA:secret@s3.local:9000",
        port=None,
        schema=None,
        extra={
            "region_name": "eu-west-1",
            "aws_secret_access_key": "s3cr3t",
            "endpoint_url": "http://127.0.0.1:5000",
            "service_config": {"sts": {"endpoint_url": "x"}},
        },
    ).as_dict()
    assert report == {
        "conn_id": "aws_default",
        "found": True,
        "conn_type": "aws",
        "host": "https://s3.local:9000",
        "port": None,
        "schema": None,
        "extra": {
            "aws_secret_access_key": "***",
            "endpoint_url": "http://127.0.0.1:5000",
            "region_name": "eu-west-1",
            "service_config": {"sts": {"endpoint_url": "x"}},
        },
    }
    assert "s3cr3t" not in repr(report)
    assert "secret@" not in repr(report)


@pytest.mark.parametrize(
    ("host", "shown"),
    [("db.local", "db.local"), ("user:pw@db.local", "db.local"), (None, None), ("", "")],
)
def test_host_userinfo_is_dropped(host: str | None, shown: str | None) -> None:
    report = describe_connection("c", conn_type="postgres", host=host, port=5432, schema="x", extra=None)
    assert report.host == shown


def test_missing_connection() -> None:
    assert missing_connection("nope").as_dict()["found"] is False
