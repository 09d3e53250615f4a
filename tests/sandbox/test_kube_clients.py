"""The same sandbox through kubernetes_asyncio and Airflow's cncf.kubernetes hooks (via a connection)."""

from __future__ import annotations

import asyncio
import json

from harness.kube import wait_for
from sandbox.manifests import deployment, job


def test_kubernetes_asyncio_rollout_and_watch(kube) -> None:
    async def scenario() -> tuple[list[str], int]:
        from kubernetes_asyncio import client, config, watch

        api_client = await config.new_client_from_config(config_file=str(kube.kubeconfig))
        async with api_client:
            apps = client.AppsV1Api(api_client)
            created = await apps.create_namespaced_deployment("default", deployment("async-web", replicas=2))
            seen = []
            stream = watch.Watch()
            async for event in stream.stream(
                apps.list_namespaced_deployment,
                "default",
                field_selector="metadata.name=async-web",
                resource_version=created.metadata.resource_version,
                timeout_seconds=30,
            ):
                status = event["object"].status
                seen.append(event["type"])
                if status.available_replicas == 2 and status.updated_replicas == 2:
                    stream.stop()
            await apps.patch_namespaced_deployment_scale("async-web", "default", {"spec": {"replicas": 3}})
            scale = await apps.read_namespaced_deployment_scale("async-web", "default")
            return seen, scale.spec.replicas

    seen, replicas = asyncio.run(scenario())
    assert set(seen) == {"MODIFIED"}
    assert replicas == 3


def test_kubernetes_hook_through_an_airflow_connection(kube_conn: str) -> None:
    from airflow.providers.cncf.kubernetes.hooks.kubernetes import KubernetesHook

    hook = KubernetesHook(conn_id=kube_conn)
    assert hook.get_namespace() == "default"
    assert hook.test_connection()[0] is True
    hook.apps_v1_client.create_namespaced_deployment("default", deployment("hooked", replicas=2))
    status = wait_for(
        lambda: (d := hook.get_deployment_status("hooked", "default")).status.available_replicas == 2 and d,
        what="deployment available",
    )
    assert status.status.updated_replicas == 2
    raw = hook.get_namespaced_pod_list(namespace="default", label_selector="app=hooked")  # unparsed response
    assert len(json.loads(raw.data)["items"]) == 2
    hook.batch_v1_client.create_namespaced_job("default", job("hooked-job"))
    finished = hook.wait_until_job_complete("hooked-job", "default", job_poll_interval=0.2)
    assert hook.is_job_successful(finished) is True


def test_async_kubernetes_hook_through_an_airflow_connection(kube_conn: str) -> None:
    from airflow.providers.cncf.kubernetes.hooks.kubernetes import AsyncKubernetesHook, KubernetesHook

    KubernetesHook(conn_id=kube_conn).batch_v1_client.create_namespaced_job(
        "default", job("async-job", image="migrate:2-fail", backoff_limit=0)
    )

    async def scenario():
        hook = AsyncKubernetesHook(conn_id=kube_conn)
        finished = await hook.wait_until_job_complete("async-job", "default", poll_interval=0.2)
        pods = []
        async with hook.get_conn() as api_client:
            from kubernetes_asyncio import client

            listing = await client.CoreV1Api(api_client).list_namespaced_pod(
                "default", label_selector="job-name=async-job"
            )
            pods = listing.items
        pod = await hook.get_pod(pods[0].metadata.name, "default")
        return finished, pod

    finished, pod = asyncio.run(scenario())
    assert KubernetesHook.is_job_failed(finished) == "BackoffLimitExceeded"
    assert pod.status.phase == "Failed"
    assert pod.status.container_statuses[0].state.terminated.exit_code == 1
