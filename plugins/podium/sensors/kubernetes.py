"""KubernetesRolloutSensor: wait for an existing workload's rollout (poke, reschedule or deferrable)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator

from podium.exceptions import PermanentError, TransientError
from podium.kube.workloads import parse_workload
from podium.settings import default_deferrable

if TYPE_CHECKING:
    from airflow.sdk import Context


class KubernetesRolloutSensor(BaseSensorOperator):
    """Succeeds when the workload is rolled out; fails at once when its rollout has failed.

    :param workload: ``deployment/NAME``, ``statefulset/NAME`` or ``daemonset/NAME`` (templated).
    :param namespace: default: the connection's namespace, else ``default`` (templated).
    :param pod_grace_seconds: how long a new pod may be stuck before the rollout counts as failed.
    :param deferrable: wait in the triggerer (the sensor's ``timeout`` bounds the wait).
    """

    template_fields: Sequence[str] = ("workload", "namespace", "kubernetes_conn_id")
    ui_color = "#e0f0ff"

    def __init__(
        self,
        *,
        workload: str,
        kubernetes_conn_id: str = "kubernetes_default",
        namespace: str | None = None,
        pod_grace_seconds: float = 60,
        deferrable: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.workload = workload
        self.kubernetes_conn_id = kubernetes_conn_id
        self.namespace = namespace
        self.pod_grace_seconds = pod_grace_seconds
        self.deferrable = default_deferrable() if deferrable is None else deferrable

    def _target(self) -> tuple[str, str, str]:
        from podium.hooks.kubernetes import PodiumKubernetesHook

        kind, name = parse_workload(self.workload)
        namespace = self.namespace or PodiumKubernetesHook(conn_id=self.kubernetes_conn_id).get_namespace()
        return kind, name, namespace or "default"

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        from podium.settings import defer_settle_seconds
        from podium.triggers.kubernetes import KubernetesRolloutTrigger

        kind, name, namespace = self._target()
        trigger = KubernetesRolloutTrigger(
            kind=kind,
            name=name,
            namespace=namespace,
            kubernetes_conn_id=self.kubernetes_conn_id,
            timeout_at=time.time() + float(self.timeout),
            pod_grace_seconds=float(self.pod_grace_seconds),
            not_before=time.time() + defer_settle_seconds(),
        )
        self.defer(
            trigger=trigger,
            method_name="execute_complete",
            timeout=timedelta(seconds=float(self.timeout) + 120),
        )
        return None

    def poke(self, context: Context) -> bool:
        from podium.hooks.kubernetes import PodiumAsyncKubernetesHook
        from podium.kubernetes.waits import observe_once

        kind, name, namespace = self._target()
        hook = PodiumAsyncKubernetesHook(conn_id=self.kubernetes_conn_id)
        verdict = asyncio.run(
            observe_once(
                hook,
                kind=kind,
                name=name,
                namespace=namespace,
                pod_grace_seconds=float(self.pod_grace_seconds),
            )
        )
        if verdict is None:
            self.log.info("%s/%s does not exist in namespace %s yet", kind.lower(), name, namespace)
            return False
        self.log.info("%s", verdict.message)
        if verdict.state == "failed":
            raise PermanentError(
                f"rollout of {kind.lower()}/{name} in namespace {namespace} failed: {verdict.describe()}"
            )
        return verdict.state == "complete"

    def execute_complete(self, context: Context, event: dict[str, Any]) -> str:
        from airflow.sdk.exceptions import AirflowSensorTimeout

        if event["status"] == "success":
            return event["message"]
        if event["status"] == "timeout":
            raise AirflowSensorTimeout(event["message"])
        if event.get("transient"):
            raise TransientError(f"waiting for the rollout failed: {event['message']}")
        raise PermanentError(f"rollout failed: {event['message']}")
