"""Pure logic for describing Airflow connections without revealing secrets (no I/O, no Airflow)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from podium.redact import MASK, is_secret_key, redact_host, redact_text, redact_value, scrub

# Connection ids as Airflow's UI and CLI accept them.
CONN_ID_PATTERN = r"^[A-Za-z0-9_.\-]{1,250}$"
_CONN_ID = re.compile(CONN_ID_PATTERN)

# Extra keys whose values are shown (redacted: no userinfo, query values or secret-named keys in them);
# everything else is listed by name only.
_SHOWN_EXTRA_KEYS = frozenset(
    {"region_name", "endpoint_url", "namespace", "cluster_context", "in_cluster", "service_config", "proxies"}
)


@dataclass(frozen=True)
class ConnectionReport:
    """What a connection points at, fit for a log line or XCom: never a password or token."""

    conn_id: str
    found: bool
    conn_type: str | None = None
    host: str | None = None
    port: int | None = None
    schema: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "conn_id": self.conn_id,
            "found": self.found,
            "conn_type": self.conn_type,
            "host": self.host,
            "port": self.port,
            "schema": self.schema,
            "extra": dict(self.extra),
        }


def validate_conn_ids(conn_ids: Any) -> list[str]:
    """Return ``conn_ids`` as a list of valid connection ids, or raise ValueError naming the bad one."""
    if isinstance(conn_ids, str):
        conn_ids = [conn_ids]
    if not isinstance(conn_ids, list | tuple) or not conn_ids:
        raise ValueError(f"conn_ids must be a non-empty list of connection ids, got {conn_ids!r}")
    for index, conn_id in enumerate(conn_ids):
        if not isinstance(conn_id, str) or not _CONN_ID.match(conn_id):
            raise ValueError(f"conn_ids[{index}]: {conn_id!r} is not a valid connection id")
    return list(dict.fromkeys(conn_ids))


def describe_connection(
    conn_id: str,
    *,
    conn_type: str | None,
    host: str | None,
    port: int | None,
    schema: str | None,
    extra: Mapping[str, Any] | None,
    secrets: Iterable[str | None] = (),
) -> ConnectionReport:
    """Describe a found connection. Login and password are left out; so is anything secret elsewhere.

    ``host``, ``schema`` and the shown extras lose URL userinfo, query values and fragments (see
    :mod:`podium.redact`); extras not known to be safe, and any whose key looks secret, show as
    ``"***"``. ``secrets`` (the connection's password) are masked wherever they still occur.
    """
    shown = {
        key: redact_value(value) if key in _SHOWN_EXTRA_KEYS and not is_secret_key(key) else MASK
        for key, value in sorted((extra or {}).items())
    }
    report: dict[str, Any] = scrub(
        {
            "host": redact_host(host) if host else host,
            "schema": redact_text(schema) if schema else schema,
            "extra": shown,
        },
        secrets,
    )
    return ConnectionReport(
        conn_id=conn_id,
        found=True,
        conn_type=conn_type,
        host=report["host"],
        port=port,
        schema=report["schema"],
        extra=report["extra"],
    )


def report_line(report: ConnectionReport) -> str:
    """One log line for ``report``, built from its redacted fields only (never from the connection)."""
    if not report.found:
        return f"{report.conn_id:<24} MISSING"
    line = f"{report.conn_id:<24} found    {report.conn_type} {report.host or ''}".rstrip()
    if report.port is not None:
        line += f" port={report.port}"
    if report.schema:
        line += f" schema={report.schema}"
    if report.extra:
        line += " extra=" + json.dumps(report.extra, sort_keys=True, default=str)
    return line


def missing_connection(conn_id: str) -> ConnectionReport:
    return ConnectionReport(conn_id=conn_id, found=False)
