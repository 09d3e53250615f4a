"""Redaction of what a connection report shows: tables of cases for each pure function."""

from __future__ import annotations

import json

import pytest

from podium.connections import ConnectionReport, describe_connection, missing_connection, report_line
from podium.redact import (
    MASK,
    is_secret_key,
    redact_host,
    redact_text,
    redact_url,
    redact_value,
    scrub,
)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://minio.internal:9000", "https://minio.internal:9000"),
        ("https://user:s3cr3t@minio.internal:9000", "https://minio.internal:9000"),
        ("https://AKIA@minio.internal", "https://minio.internal"),
        ("https://user:@minio.internal/", "https://minio.internal/"),
        ("http://u:p@proxy:3128", "http://proxy:3128"),
        ("postgres://etl:pw@db:5432/shop?sslmode=require", "postgres://db:5432/shop?sslmode=***"),
        (
            "https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIA%2F1&X-Amz-Signature=ab12",
            "https://b.s3.amazonaws.com/k?X-Amz-Credential=***&X-Amz-Signature=***",
        ),
        (
            "https://acct.blob.core.windows.net/c?sv=2022&sig=abc%3D",
            "https://acct.blob.core.windows.net/c?sv=***&sig=***",
        ),
        (
            "https://api.internal/v1?token=t0k&password=pw&empty=",
            "https://api.internal/v1?token=***&password=***&empty=",
        ),
        ("https://api.internal/v1?rawtoken", "https://api.internal/v1?***"),
        ("https://app.internal/cb#access_token=t0k", "https://app.internal/cb#***"),
        ("https://[::1]:8080/a?b=c", "https://[::1]:8080/a?b=***"),
        # unencoded "@ / ? #" in the password: everything up to the last "@" is dropped
        ("https://u:p@ss@minio.internal", "https://minio.internal"),
        ("https://u:p/ss@minio.internal/bucket", "https://minio.internal/bucket"),
        ("https://u:p@ss/w#rd@minio.internal:9000/x", "https://minio.internal:9000/x"),
        ("https://u:p?ss@minio.internal", "https://minio.internal"),
        # an "@" in the path of a plain host is not userinfo
        ("https://registry.example/@scope/pkg", "https://registry.example/@scope/pkg"),
        # not a URL: left alone
        ("minio.internal", "minio.internal"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize(
    ("host", "shown"),
    [
        ("db.local", "db.local"),
        ("user:pw@db.local", "db.local"),
        ("user@db.local", "db.local"),
        ("user:p/w@db.local", "db.local"),
        ("db.local?password=pw", "db.local?password=***"),
        ("https://AKIA:s3cr3t@s3.local:9000", "https://s3.local:9000"),
        ("https://hooks.internal/services?token=t0k", "https://hooks.internal/services?token=***"),
    ],
)
def test_redact_host(host: str, shown: str) -> None:
    assert redact_host(host) == shown


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("warehouse", "warehouse"),
        ("https://u:pw@minio:9000/?token=t0k", "https://minio:9000/?token=***"),
        # a quote in the password of a value that is one URL
        ("https://u:p'w\"d@minio:9000", "https://minio:9000"),
        ("connect to postgres://u:pw@db/x now", "connect to postgres://db/x now"),
        ("etl:pw@db:5432/shop", "db:5432/shop"),
        ("host=db password=hunter22 user=etl", "host=db password=*** user=etl"),
        ('{"token": "t0k", "url": "https://a:b@c/?sig=1"}', '{"token": "***", "url": "https://c/?sig=***"}'),
        ("Authorization: Bearer t0k3n", "Authorization: ***"),
        (
            "client-key-data: LS0tS0VZ\nserver: https://u:p@k8s.internal:6443\ntoken: t0k\n",
            "client-key-data: ***\nserver: https://k8s.internal:6443\ntoken: ***\n",
        ),
        ("see https://secret-store.internal:9000 ok", "see https://secret-store.internal:9000 ok"),
        ("ops@example.com", "ops@example.com"),
    ],
)
def test_redact_text(text: str, shown: str) -> None:
    assert redact_text(text) == shown


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "PASSWORD",
        "passphrase",
        "aws_secret_access_key",
        "apiKey",
        "api-key",
        "X-Amz-Signature",
        "sig",
        "client_key_data",
        "private_key",
        "oauth2_token",
        "aws_session_token",
        "Cookie",
        "Authorization",
        "auth_type",
        "credentials",
        "pin",
        "key_file",
    ],
)
def test_secret_keys(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize(
    "key",
    [
        "endpoint_url",
        "region_name",
        "namespace",
        "cluster_context",
        "in_cluster",
        "service_config",
        "proxies",
        "https",
        "addressing_style",
        "design",
        "spinner",
        "sslmode",
        "kube_config",
    ],
)
def test_keys_that_are_not_secret(key: str) -> None:
    assert not is_secret_key(key)


def test_redact_value_masks_secret_keys_at_any_depth_and_redacts_every_string() -> None:
    value = {
        "s3": {
            "endpoint_url": "https://u:pw@minio:9000/?X-Amz-Signature=abc",
            "aws_session_token": {"nested": "anything"},
            "addressing_style": "path",
            "max_attempts": 3,
        },
        "endpoints": ["http://a:b@one:1", "http://two:2"],
        "verify": False,
    }
    assert redact_value(value) == {
        "s3": {
            "endpoint_url": "https://minio:9000/?X-Amz-Signature=***",
            "aws_session_token": MASK,
            "addressing_style": "path",
            "max_attempts": 3,
        },
        "endpoints": ["http://one:1", "http://two:2"],
        "verify": False,
    }


@pytest.mark.parametrize(
    ("value", "secrets", "shown"),
    [
        ({"a": "x hunter22 y"}, ["hunter22"], {"a": "x *** y"}),
        (["p%40ss%2Fw0rd"], ["p@ss/w0rd"], ["***"]),
        ({"a": "p@ss/w0rd"}, ["p@ss/w0rd"], {"a": "***"}),
        # secrets shorter than MIN_SCRUBBED_LENGTH, and none, change nothing
        ({"a": "etl.db.local"}, ["etl", None, ""], {"a": "etl.db.local"}),
        ({"n": 5, "b": True}, ["hunter22"], {"n": 5, "b": True}),
    ],
)
def test_scrub(value: object, secrets: list[str | None], shown: object) -> None:
    assert scrub(value, secrets) == shown


PASSWORD = "Pa55-w0rd-in-every-place"


def test_describe_connection_redacts_every_url_and_secret_key() -> None:
    report = describe_connection(
        "minio",
        conn_type="aws",
        host=f"https://admin:{PASSWORD}@minio.internal:9000?token={PASSWORD}",
        port=None,
        schema=f"https://admin:{PASSWORD}@minio.internal/schema",
        extra={
            "endpoint_url": f"https://admin:{PASSWORD}@minio.internal:9000/?X-Amz-Signature={PASSWORD}",
            "service_config": {
                "s3": {"endpoint_url": f"https://admin:{PASSWORD}@s3.internal", "addressing_style": "path"},
                "sts": {"aws_secret_access_key": PASSWORD},
            },
            "proxies": {"https": f"http://proxy-user:{PASSWORD}@proxy.internal:3128"},
            "region_name": "eu-west-1",
            "aws_secret_access_key": PASSWORD,
            "kube_config": f"users:\n- user: {{token: {PASSWORD}}}\n",
        },
        secrets=[PASSWORD],
    )
    assert report.as_dict() == {
        "conn_id": "minio",
        "found": True,
        "conn_type": "aws",
        "host": "https://minio.internal:9000?token=***",
        "port": None,
        "schema": "https://minio.internal/schema",
        "extra": {
            "aws_secret_access_key": MASK,
            "endpoint_url": "https://minio.internal:9000/?X-Amz-Signature=***",
            "kube_config": MASK,
            "proxies": {"https": "http://proxy.internal:3128"},
            "region_name": "eu-west-1",
            "service_config": {
                "s3": {"endpoint_url": "https://s3.internal", "addressing_style": "path"},
                "sts": {"aws_secret_access_key": MASK},
            },
        },
    }
    assert PASSWORD not in json.dumps(report.as_dict())
    assert PASSWORD not in report_line(report)


def test_the_password_is_scrubbed_where_no_rule_finds_it() -> None:
    # a digits-only password with a "/" reads as a port and a path: only scrub catches it
    report = describe_connection(
        "c",
        conn_type="http",
        host="https://u:12345/678@h",
        port=None,
        schema=None,
        extra=None,
        secrets=["12345/678"],
    )
    assert report.host == "https://u:***@h"


@pytest.mark.parametrize(
    ("report", "line"),
    [
        (
            describe_connection(
                "warehouse",
                conn_type="postgres",
                host="etl:pw@db.internal",
                port=5432,
                schema="shop",
                extra={"sslmode": "require", "region_name": "eu-west-1"},
            ),
            "warehouse                found    postgres db.internal port=5432 schema=shop "
            'extra={"region_name": "eu-west-1", "sslmode": "***"}',
        ),
        (
            describe_connection("k8s", conn_type="kubernetes", host=None, port=None, schema=None, extra=None),
            "k8s                      found    kubernetes",
        ),
        (missing_connection("absent"), "absent                   MISSING"),
    ],
)
def test_report_line_is_made_of_the_redacted_report(report: ConnectionReport, line: str) -> None:
    assert report_line(report) == line
