"""Pure logic for describing Airflow connections without revealing secrets (no I/O, no Airflow)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Connection ids as Airflow's UI and CLI accept them.
CONN_ID_PATTERN = r"^[A-Za-z0-9_.\-]{1,250}$"
_CONN_ID = re.compile(CONN_ID_PATTERN)

# Extra keys whose values are safe to show; everything else is listed by name only.
_SHOWN_EXTRA_KEYS = frozenset({"region_name", "endpoint_url", "namespace", "cluster_context", "in_cluster"})


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
) -> ConnectionReport:
    """Describe a found connection. Credentials are left out; other extra keys show as ``"***"``."""
    shown = {
        key: (value if key in _SHOWN_EXTRA_KEYS and not isinstance(value, dict | list) else "***")
        for key, value in sorted((extra or {}).items())
    }
    return ConnectionReport(
        conn_id=conn_id,
        found=True,
        conn_type=conn_type,
        host=_strip_userinfo(host),
        port=port,
        schema=schema,
        extra=shown,
    )


def _strip_userinfo(host: str | None) -> str | None:
    """Hosts are sometimes written as URLs with credentials (``https://user:pw@host``): drop them."""
    if host and "@" in host:
        scheme, sep, rest = host.partition("://")
        rest = rest.rsplit("@", 1)[-1] if sep else host.rsplit("@", 1)[-1]
        return f"{scheme}://{rest}" if sep else rest
    return host


def missing_connection(conn_id: str) -> ConnectionReport:
    return ConnectionReport(conn_id=conn_id, found=False)
