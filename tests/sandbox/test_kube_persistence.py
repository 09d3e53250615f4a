"""--state-file: the sandbox keeps its objects across a restart (what `make run` relies on)."""

from __future__ import annotations

from pathlib import Path

from harness.kube import KubeSandbox, wait_for
from sandbox.manifests import deployment


def apps_api(box: KubeSandbox):
    from kubernetes import client, config

    api_client = config.new_client_from_config(config_file=str(box.kubeconfig))
    return api_client, client.AppsV1Api(api_client), client.CoreV1Api(api_client)


def test_objects_survive_a_restart_and_the_controllers_carry_on(tmp_path: Path) -> None:
    state = tmp_path / "kubesim-state.json"
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    first = KubeSandbox(tmp_path / "one", extra_args=("--state-file", str(state)))
    try:
        api_client, apps, _core = apps_api(first)
        apps.create_namespaced_deployment("default", deployment("web", replicas=2))
        wait_for(lambda: apps.read_namespaced_deployment("web", "default").status.available_replicas == 2)
        before = apps.read_namespaced_deployment("web", "default")
        api_client.close()
    finally:
        first.stop()  # SIGTERM: the state is written on the way out
    assert state.is_file()

    second = KubeSandbox(tmp_path / "two", extra_args=("--state-file", str(state)))
    try:
        api_client, apps, core = apps_api(second)
        after = apps.read_namespaced_deployment("web", "default")
        assert after.metadata.uid == before.metadata.uid
        assert after.metadata.annotations == before.metadata.annotations
        assert after.status.available_replicas == 2
        pods = core.list_namespaced_pod("default", label_selector="app=web").items
        assert len(pods) == 2
        # resourceVersions go on from where they were, and the controllers act on restored objects
        apps.patch_namespaced_deployment("web", "default", {"spec": {"replicas": 3}})
        changed = apps.read_namespaced_deployment("web", "default")
        assert int(changed.metadata.resource_version) > int(before.metadata.resource_version)
        wait_for(lambda: apps.read_namespaced_deployment("web", "default").status.available_replicas == 3)
        api_client.close()
    finally:
        second.stop()


def test_without_a_state_file_every_start_is_empty(tmp_path: Path) -> None:
    box = KubeSandbox(tmp_path)
    try:
        api_client, apps, _core = apps_api(box)
        assert apps.list_namespaced_deployment("default").items == []
        api_client.close()
    finally:
        box.stop()
