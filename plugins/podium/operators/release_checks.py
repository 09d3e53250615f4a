"""The waiting tasks of a release DAG: pre-deploy and smoke Jobs, HTTP health checks and smoke tests.

Each waits through ONE trigger, as podium's Kubernetes operators do: deferred to the triggerer when
``deferrable`` (default ``[operators] default_deferrable``), run inline in the worker otherwise
(:func:`podium.triggers.kubernetes.run_inline`). Jobs wait in
:class:`~podium.triggers.kubernetes_job.KubernetesJobTrigger`, checks in
:class:`~podium.triggers.http_check.HttpCheckTrigger`; both resume in ``execute_complete``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from podium.exceptions import PermanentError, TransientError
from podium.kubernetes.actions import load_manifest
from podium.operators.kubernetes import KubernetesBaseOperator
from podium.operators.release import skip_unless_selected

if TYPE_CHECKING:
    from airflow.sdk import Context


class ReleaseJobOperator(KubernetesBaseOperator):
    """Run a Kubernetes Job (a pre-deploy migration or a smoke test) to completion.

    The Job is named after the manifest's Job plus a hash of (DAG, run, task), so a retry finds and
    waits for the same Job and a new run starts a new one. Containers named like the service's
    containers run the service's new images. Fails naming the Job's pods, containers, reasons and exit
    codes; when the Kubernetes API kept failing while waiting, fails as a TransientError so that a
    retry waits for the same Job.

    :param service: the service's name in the release spec.
    :param job: a manifest (path relative to include/, dict, list or YAML text) holding one Job
        (templated).
    :param plan_task_id: the plan task (None: no plan, always run).
    :param image_overrides: ``{container: image}`` to set on the Job's containers of those names
        (templated).
    :param timeout: seconds the Job may take (templated).
    :param poll_interval: seconds between reads of the Job.
    :param deferrable: wait in the triggerer instead of a worker slot (default ``[operators]
        default_deferrable``).
    :return: ``{"job", "namespace", "result": "Complete"}``.
    """

    template_fields: Sequence[str] = ("job", "image_overrides", "namespace", "timeout", "kubernetes_conn_id")
    ui_color = "#fff4cc"

    def __init__(
        self,
        *,
        service: str,
        job: Any,
        plan_task_id: str | None = "plan",
        image_overrides: dict[str, str] | None = None,
        poll_interval: float = 2,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.service = service
        self.job = job
        self.plan_task_id = plan_task_id
        self.image_overrides = image_overrides
        self.poll_interval = poll_interval

    def execute(self, context: Context) -> Any:
        from podium.kube.manifests import with_namespace
        from podium.release.checks import job_manifest, job_name
        from podium.triggers.kubernetes_job import KubernetesJobTrigger

        skip_unless_selected(context, self.plan_task_id, self.service)
        hook = self.hook()
        namespace = self.resolve_namespace(hook)
        documents = load_manifest(self.job, lambda text: self.render_template(text, context))
        origin = self.job if isinstance(self.job, str) and "\n" not in self.job else "the job manifest"
        try:
            doc = with_namespace(job_manifest(documents, self.image_overrides or {}, origin), namespace)
        except ValueError as error:
            raise PermanentError(str(error)) from error
        ti = context["ti"]
        name = job_name(doc["metadata"]["name"], ti.dag_id, ti.run_id, ti.task_id)
        doc["metadata"]["name"] = name
        if hook.get("batch/v1", "Job", name, namespace) is None:
            hook.apply(doc)
            self.log.info("created job/%s in %s", name, namespace)
        else:
            self.log.info("job/%s exists (an earlier try of this run): waiting for it", name)
        trigger = KubernetesJobTrigger(
            name=name,
            namespace=namespace,
            kubernetes_conn_id=self.kubernetes_conn_id,
            timeout_at=time.time() + float(self.timeout),
            poll_interval=float(self.poll_interval),
        )
        return self.defer_or_run(context, trigger, "execute_complete", float(self.timeout))

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        if event["status"] == "success":
            self.log.info("%s", event["message"])
            return {"job": event["job"], "namespace": event["namespace"], "result": "Complete"}
        if event.get("transient"):
            # the Job's fate is unknown; a retry of this task waits for the same Job
            raise TransientError(event["message"])
        raise PermanentError(event["message"])


class ReleaseCheckOperator(KubernetesBaseOperator):
    """An HTTP health check or smoke test: GET until the expected status answers, or fail at the timeout.

    Give ``url`` (reached from where the wait runs: the triggerer when deferred, else the worker) or
    ``service_name`` (reached through the Kubernetes API server's service proxy: the same path works
    against any cluster the connection reaches).

    :param service: the service's name in the release spec.
    :param url: an http(s) URL (templated).
    :param service_name: a Service in the namespace (templated).
    :param port: the Service's port, number or name.
    :param path: the request path for ``service_name`` (templated).
    :param expected_status: the status that passes.
    :param check_timeout: seconds to keep trying.
    :param plan_task_id: the plan task (None: no plan, always run).
    :param poll_interval: seconds between attempts.
    :param deferrable: wait in the triggerer instead of a worker slot (default ``[operators]
        default_deferrable``).
    :return: ``{"target", "status", "attempts"}``.
    """

    template_fields: Sequence[str] = ("url", "service_name", "path", "namespace", "kubernetes_conn_id")
    ui_color = "#d9f2d9"

    def __init__(
        self,
        *,
        service: str,
        url: str | None = None,
        service_name: str | None = None,
        port: int | str | None = None,
        path: str = "/",
        expected_status: int = 200,
        check_timeout: float = 120,
        plan_task_id: str | None = "plan",
        poll_interval: float = 2,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (url is None) == (service_name is None):
            raise ValueError(f"{kwargs.get('task_id')}: give url= or service_name=")
        self.service = service
        self.url = url
        self.service_name = service_name
        self.port = port
        self.path = path
        self.expected_status = expected_status
        self.check_timeout = check_timeout
        self.plan_task_id = plan_task_id
        self.poll_interval = poll_interval

    def execute(self, context: Context) -> Any:
        from podium.triggers.http_check import HttpCheckTrigger

        skip_unless_selected(context, self.plan_task_id, self.service)
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise PermanentError(f"url must be http(s): {self.url!r}")
        namespace = self.resolve_namespace(self.hook()) if self.service_name is not None else "default"
        trigger = HttpCheckTrigger(
            url=self.url,
            service_name=self.service_name,
            namespace=namespace,
            port=self.port,
            path=self.path,
            expected_status=int(self.expected_status),
            kubernetes_conn_id=self.kubernetes_conn_id,
            timeout_at=time.time() + float(self.check_timeout),
            poll_interval=float(self.poll_interval),
        )
        return self.defer_or_run(context, trigger, "execute_complete", float(self.check_timeout))

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        if event["status"] != "success":
            raise PermanentError(event["message"])
        self.log.info("%s", event["message"])
        return {"target": event["target"], "status": event["http_status"], "attempts": event["attempts"]}
