"""WebhookNotifier: POST a JSON summary of a failed (or finished) task or saga to an HTTP endpoint.

The URL is an Airflow connection of type ``http`` (host, schema, port; login/password become basic
auth; extra ``headers`` are sent too), so the endpoint and any credentials stay out of DAG files.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseNotifier

if TYPE_CHECKING:
    from airflow.sdk import Context

SUMMARY_KEYS = (
    "status",
    "failed_step",
    "failed_steps",
    "completed_steps",
    "compensations_run",
    "compensations_failed",
    "step_error",
)


def alert_payload(
    *,
    dag_id: str | None,
    run_id: str | None,
    task_id: str | None,
    try_number: int | None,
    error: BaseException | None,
    message: str | None = None,
) -> dict[str, Any]:
    """The JSON body: where it happened, what went wrong, and a saga's summary when there is one.

    Only these fields are sent: never the run's conf or params (they may hold payment tokens).
    """
    summary: Mapping[str, Any] = getattr(error, "summary", None) or {}
    payload: dict[str, Any] = {
        "dag_id": dag_id,
        "run_id": run_id,
        "task_id": task_id,
        "try_number": try_number,
        "error": f"{type(error).__name__}: {error}" if error is not None else None,
        "message": message,
    }
    payload.update({key: summary[key] for key in SUMMARY_KEYS if key in summary})
    return payload


class WebhookNotifier(BaseNotifier):
    """POST a JSON alert to the endpoint of an ``http`` connection.

    :param http_conn_id: the ``http`` connection holding the webhook's URL (templated).
    :param endpoint: path appended to the connection's URL (templated).
    :param message: free text added to the payload (templated).
    :param attempts: tries on a connection error or a 5xx/429 answer, backing off 1, 2, 4... s.
    :param timeout: seconds per request.
    :param skip_if_missing: when the connection does not exist, log it and send nothing (alerts
        opt-in, as on a laptop); otherwise that is an error.
    """

    template_fields: Sequence[str] = ("http_conn_id", "endpoint", "message")

    def __init__(
        self,
        *,
        http_conn_id: str = "podium_alerts",
        endpoint: str = "",
        message: str | None = None,
        attempts: int = 3,
        timeout: float = 10,
        skip_if_missing: bool = True,
    ) -> None:
        super().__init__()
        self.http_conn_id = http_conn_id
        self.endpoint = endpoint
        self.message = message
        self.attempts = max(1, attempts)
        self.timeout = timeout
        self.skip_if_missing = skip_if_missing

    def payload(self, context: Context) -> dict[str, Any]:
        ti = context.get("ti")
        return alert_payload(
            dag_id=getattr(ti, "dag_id", None),
            run_id=context.get("run_id"),
            task_id=getattr(ti, "task_id", None),
            try_number=getattr(ti, "try_number", None),
            error=context.get("exception"),  # type: ignore[arg-type]
            message=self.message,
        )

    def notify(self, context: Context) -> None:
        from airflow.providers.http.hooks.http import HttpHook
        from airflow.sdk import BaseHook
        from airflow.sdk.exceptions import AirflowNotFoundException

        try:
            BaseHook.get_connection(self.http_conn_id)
        except AirflowNotFoundException:
            if not self.skip_if_missing:
                raise
            self.log.info("no connection %s: webhook alerts are not configured", self.http_conn_id)
            return
        payload = self.payload(context)
        hook = HttpHook(method="POST", http_conn_id=self.http_conn_id)
        for attempt in range(1, self.attempts + 1):
            try:
                response = hook.run(
                    self.endpoint,
                    json=payload,
                    extra_options={"timeout": self.timeout, "check_response": False},
                )
            except Exception as error:  # connection refused, timeout: retried below
                problem = f"{type(error).__name__}: {error}"
            else:
                if response.status_code < 400:
                    self.log.info("webhook alert sent (HTTP %s)", response.status_code)
                    return
                problem = f"HTTP {response.status_code}"
                if response.status_code < 500 and response.status_code != 429:
                    break
            if attempt < self.attempts:
                time.sleep(2 ** (attempt - 1))
        raise RuntimeError(f"webhook alert to connection {self.http_conn_id} failed: {problem}")
