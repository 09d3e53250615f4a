"""ConnectionCheckOperator: report what a set of Airflow connections points at, without secrets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from podium.connections import describe_connection, missing_connection, report_line, validate_conn_ids
from podium.exceptions import PermanentError

if TYPE_CHECKING:
    from airflow.sdk import Context


class ConnectionCheckOperator(BaseOperator):
    """Look up Airflow connections and report, for each, whether it exists and where it points.

    Useful as the first task of a release or pipeline, and on its own to check a new deployment's
    connections. Passwords, tokens and credential-bearing extras are never logged or returned: URLs
    (in the host, the schema or the shown extras, nested ones too) lose their userinfo and query
    values, extras whose key looks secret are masked (see :mod:`podium.redact`), and the log line is
    made from the redacted report only.

    :param conn_ids: connection ids to look up (templated; a list, or one id).
    :param require_all: fail the task (without retries) when any connection is missing (templated).
    :return: one dict per connection: conn_id, found, conn_type, host, port, schema, extra.
    """

    template_fields: Sequence[str] = ("conn_ids", "require_all")
    ui_color = "#e8f4f8"

    def __init__(self, *, conn_ids: list[str] | str, require_all: bool | str = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conn_ids = conn_ids
        self.require_all = require_all

    def execute(self, context: Context) -> list[dict[str, Any]]:
        from airflow.sdk import BaseHook
        from airflow.sdk.exceptions import AirflowNotFoundException

        try:
            conn_ids = validate_conn_ids(self.conn_ids)
        except ValueError as error:
            raise PermanentError(f"{self.task_id}: {error}") from error

        reports = []
        for conn_id in conn_ids:
            try:
                conn = BaseHook.get_connection(conn_id)
            except AirflowNotFoundException:
                report = missing_connection(conn_id)
            else:
                report = describe_connection(
                    conn_id,
                    conn_type=conn.conn_type,
                    host=conn.host,
                    port=conn.port,
                    schema=conn.schema,
                    extra=_extra_of(conn),
                    secrets=[conn.password],
                )
            self.log.info("%s", report_line(report))
            reports.append(report)

        missing = [report.conn_id for report in reports if not report.found]
        if missing and _truthy(self.require_all):
            raise PermanentError(f"missing Airflow connection(s): {', '.join(missing)}")
        return [report.as_dict() for report in reports]


def _extra_of(conn: Any) -> dict[str, Any]:
    try:
        extra = conn.extra_dejson
    except ValueError:  # extra that is not JSON: show nothing of it
        return {}
    return extra if isinstance(extra, dict) else {}


def _truthy(value: bool | str) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes", "on"}
    return bool(value)
