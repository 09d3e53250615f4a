"""EmailAlertNotifier: a saga or task alert by e-mail, through the smtp provider, when configured.

The SMTP server, sender and recipients live in one Airflow connection of type ``smtp`` (default
``podium_alerts_smtp``): host, port, login/password, and extra ``from_email``, ``alert_to`` (a
comma-separated list), ``disable_tls``/``disable_ssl``. Without that connection nothing is sent and
the log says so: alerts by e-mail are opt-in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseNotifier

if TYPE_CHECKING:
    from airflow.sdk import Context

SUBJECT = (
    "[podium] {{ ti.dag_id }} failed"
    "{% if exception.summary %} at {{ exception.summary.failed_step }}{% endif %}"
)
HTML = """<p>Run <b>{{ run_id }}</b> of <b>{{ ti.dag_id }}</b> failed in task {{ ti.task_id }}.</p>
{% if exception.summary %}<p>Failed step: <b>{{ exception.summary.failed_step }}</b>
({{ exception.summary.step_error }})</p>
<p>Compensations that ran: {{ exception.summary.compensations_run | join(", ") or "none" }}</p>
{% if exception.summary.compensations_failed %}<p><b>Compensations that FAILED:
{{ exception.summary.compensations_failed | join(", ") }}</b></p>{% endif %}
{% else %}<p>{{ exception }}</p>{% endif %}"""


class EmailAlertNotifier(BaseNotifier):
    """Send an alert e-mail with the smtp provider's ``SmtpNotifier`` if the connection exists.

    :param smtp_conn_id: the ``smtp`` connection (templated).
    :param to: recipients; default: the connection's extra ``alert_to``.
    :param subject: Jinja subject (the failure's ``exception.summary`` holds a saga's summary).
    :param html_content: Jinja body.
    """

    template_fields: Sequence[str] = ("smtp_conn_id",)

    def __init__(
        self,
        *,
        smtp_conn_id: str = "podium_alerts_smtp",
        to: str | list[str] | None = None,
        subject: str = SUBJECT,
        html_content: str = HTML,
    ) -> None:
        super().__init__()
        self.smtp_conn_id = smtp_conn_id
        self.to = to
        self.subject = subject
        self.html_content = html_content

    def notify(self, context: Context) -> None:
        from airflow.sdk import BaseHook
        from airflow.sdk.exceptions import AirflowNotFoundException

        try:
            conn = BaseHook.get_connection(self.smtp_conn_id)
        except AirflowNotFoundException:
            self.log.info("no connection %s: e-mail alerts are not configured", self.smtp_conn_id)
            return
        to: Any = self.to or conn.extra_dejson.get("alert_to")
        if not to:
            self.log.warning("connection %s has no extra alert_to: no e-mail sent", self.smtp_conn_id)
            return
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        SmtpNotifier(
            to=to, smtp_conn_id=self.smtp_conn_id, subject=self.subject, html_content=self.html_content
        )(context)
