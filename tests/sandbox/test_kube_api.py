"""API semantics of the sandbox, through the official `kubernetes` client over real HTTP."""

from __future__ import annotations

import json

import httpx
import pytest

from harness.kube import wait_for
from sandbox.manifests import deployment


def _error(call, *args, **kwargs):
    from kubernetes.client.exceptions import ApiException

    with pytest.raises(ApiException) as caught:
        call(*args, **kwargs)
    return caught.value.status, json.loads(caught.value.body)


def test_discovery(kube, api) -> None:
    client, api_client = api
    assert client.VersionApi(api_client).get_code().git_version.startswith("v1.32")
    groups = {g.name for g in client.ApisApi(api_client).get_api_versions().groups}
    assert {"apps", "batch", "autoscaling", "rbac.authorization.k8s.io"} <= groups
    resources = {r.name for r in client.AppsV1Api(api_client).get_api_resources().resources}
    assert {
        "deployments",
        "deployments/scale",
        "deployments/status",
        "statefulsets",
        "daemonsets",
    } <= resources


def test_object_metadata_semantics(apps, kube) -> None:
    created = apps.create_namespaced_deployment("default", deployment("shop"))
    meta = created.metadata
    assert meta.uid
    assert meta.creation_timestamp
    assert meta.generation == 1
    first_rv = int(meta.resource_version)

    same = apps.read_namespaced_deployment("shop", "default")
    assert same.metadata.uid == meta.uid

    # a spec change bumps generation and resourceVersion
    patched = apps.patch_namespaced_deployment("shop", "default", {"spec": {"replicas": 5}})
    assert patched.metadata.generation == 2
    assert int(patched.metadata.resource_version) > first_rv

    # a metadata-only change bumps resourceVersion but not generation
    labelled = apps.patch_namespaced_deployment("shop", "default", {"metadata": {"labels": {"team": "a"}}})
    assert labelled.metadata.generation == 2
    assert int(labelled.metadata.resource_version) > int(patched.metadata.resource_version)

    # status written by the controller does not bump generation
    wait_for(
        lambda: apps.read_namespaced_deployment_status("shop", "default").status.observed_generation == 2,
        what="observedGeneration 2",
    )
    assert apps.read_namespaced_deployment("shop", "default").metadata.generation == 2


def test_create_conflicts_and_missing_namespace(apps) -> None:
    apps.create_namespaced_deployment("default", deployment("dup"))
    status, body = _error(apps.create_namespaced_deployment, "default", deployment("dup"))
    assert (status, body["reason"]) == (409, "AlreadyExists")
    status, body = _error(apps.create_namespaced_deployment, "nowhere", deployment("x"))
    assert (status, body["message"]) == (404, 'namespaces "nowhere" not found')
    status, body = _error(apps.read_namespaced_deployment, "ghost", "default")
    assert (status, body["message"]) == (404, 'deployments.apps "ghost" not found')


def test_optimistic_concurrency(apps) -> None:
    first = apps.create_namespaced_deployment("default", deployment("occ"))
    stale = first.to_dict()
    apps.patch_namespaced_deployment("occ", "default", {"spec": {"replicas": 1}})
    from kubernetes.client import ApiClient

    body = ApiClient().sanitize_for_serialization(first)
    body["spec"]["replicas"] = 7
    status, response = _error(apps.replace_namespaced_deployment, "occ", "default", body)
    assert (status, response["reason"]) == (409, "Conflict")
    assert "the object has been modified" in response["message"]
    # with the current resourceVersion the replace goes through. The deployment controller writes the
    # object's status meanwhile, which moves the resourceVersion too: like client-go's
    # RetryOnConflict, read again and retry on a conflict.
    from kubernetes.client.exceptions import ApiException

    for attempt in range(10):
        current = apps.read_namespaced_deployment("occ", "default")
        body["metadata"]["resourceVersion"] = current.metadata.resource_version
        try:
            replaced = apps.replace_namespaced_deployment("occ", "default", body)
            break
        except ApiException as error:
            if error.status != 409 or attempt == 9:
                raise
    assert replaced.spec.replicas == 7
    assert stale["spec"]["replicas"] == 3


def test_label_and_field_selectors(core) -> None:
    for name, labels in [
        ("a", {"tier": "web", "env": "prod"}),
        ("b", {"tier": "db", "env": "prod"}),
        ("c", {"tier": "web", "env": "dev"}),
        ("d", {"tier": "cache"}),
    ]:
        core.create_namespaced_config_map("default", {"metadata": {"name": name, "labels": labels}})

    def names(**kwargs) -> list[str]:
        return [cm.metadata.name for cm in core.list_namespaced_config_map("default", **kwargs).items]

    assert names(label_selector="tier=web") == ["a", "c"]
    assert names(label_selector="tier==web,env=prod") == ["a"]
    assert names(label_selector="tier!=web") == ["b", "d"]
    assert names(label_selector="tier in (db, cache)") == ["b", "d"]
    assert names(label_selector="tier notin (db,cache)") == ["a", "c"]
    assert names(label_selector="env") == ["a", "b", "c"]
    assert names(label_selector="!env") == ["d"]
    assert names(field_selector="metadata.name=b") == ["b"]
    assert names(field_selector="metadata.name!=b") == ["a", "c", "d"]
    assert [ns.metadata.name for ns in core.list_namespace(field_selector="metadata.name=default").items] == [
        "default"
    ]


def test_patch_types(apps, kube) -> None:
    manifest = deployment("multi")
    manifest["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "envoy:1.30"})
    apps.create_namespaced_deployment("default", manifest)
    url = f"{kube.url}/apis/apps/v1/namespaces/default/deployments/multi"

    def patch(content_type: str, body) -> dict:
        response = httpx.patch(url, content=json.dumps(body), headers={"Content-Type": content_type})
        assert response.status_code == 200, response.text
        return response.json()

    # strategic merge: one container patched by name, its sibling kept
    result = patch(
        "application/strategic-merge-patch+json",
        {"spec": {"template": {"spec": {"containers": [{"name": "multi", "image": "nginx:1.28"}]}}}},
    )
    containers = result["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [
        ("multi", "nginx:1.28"),
        ("sidecar", "envoy:1.30"),
    ]
    assert containers[0]["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]

    # JSON merge patch: lists are replaced whole
    result = patch(
        "application/merge-patch+json",
        {"spec": {"template": {"spec": {"containers": [{"name": "only", "image": "busybox"}]}}}},
    )
    assert [c["name"] for c in result["spec"]["template"]["spec"]["containers"]] == ["only"]

    # JSON patch, including a failing test operation
    result = patch(
        "application/json-patch+json",
        [
            {"op": "replace", "path": "/spec/replicas", "value": 4},
            {"op": "add", "path": "/metadata/labels/x", "value": "y"},
        ],
    )
    assert (result["spec"]["replicas"], result["metadata"]["labels"]["x"]) == (4, "y")
    failed = httpx.patch(
        url,
        content=json.dumps([{"op": "test", "path": "/spec/replicas", "value": 9}]),
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert failed.status_code == 422

    # a stale resourceVersion in a patch is a conflict
    stale = httpx.patch(
        url,
        content=json.dumps({"metadata": {"resourceVersion": "1"}, "spec": {"replicas": 2}}),
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert stale.status_code == 409


def test_server_side_apply(kube, apps) -> None:
    url = f"{kube.url}/apis/apps/v1/namespaces/default/deployments/ssa"
    manifest = deployment("ssa")
    manifest["metadata"]["labels"]["owner"] = "podium"

    def apply(body, manager="podium", target=url, **params: str) -> httpx.Response:
        return httpx.patch(
            target,
            params={"fieldManager": manager, "force": "true", **params},
            content=json.dumps(body),
            headers={"Content-Type": "application/apply-patch+yaml"},
        )

    created = apply(manifest)
    assert created.status_code == 201
    assert [m["manager"] for m in created.json()["metadata"]["managedFields"]] == ["podium"]

    # another writer's field survives podium's next apply; a field podium stopped applying is removed
    apps.patch_namespaced_deployment("ssa", "default", {"metadata": {"annotations": {"other": "kept"}}})
    del manifest["metadata"]["labels"]["owner"]
    manifest["spec"]["replicas"] = 2
    updated = apply(manifest)
    assert updated.status_code == 200
    meta = updated.json()["metadata"]
    assert "owner" not in meta["labels"]
    assert meta["annotations"]["other"] == "kept"
    assert updated.json()["spec"]["replicas"] == 2
    assert meta["generation"] == 2

    # re-applying the same configuration changes nothing (the controller may write status meanwhile)
    assert apply(manifest).json()["metadata"]["generation"] == 2
    cm_url = f"{kube.url}/api/v1/namespaces/default/configmaps/settings"
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings"},
        "data": {"a": "1"},
    }
    first = apply(config_map, target=cm_url).json()
    second = apply(config_map, target=cm_url).json()
    assert second["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]

    # dry run changes nothing
    manifest["spec"]["replicas"] = 9
    assert apply(manifest, dryRun="All").json()["spec"]["replicas"] == 9
    assert apps.read_namespaced_deployment("ssa", "default").spec.replicas == 2

    assert apply(manifest, manager="").status_code == 422


def test_scale_and_status_subresources(apps) -> None:
    apps.create_namespaced_deployment("default", deployment("scaled", replicas=2))
    scale = apps.read_namespaced_deployment_scale("scaled", "default")
    assert (scale.kind, scale.spec.replicas, scale.status.selector) == ("Scale", 2, "app=scaled")
    apps.patch_namespaced_deployment_scale("scaled", "default", {"spec": {"replicas": 4}})
    assert apps.read_namespaced_deployment("scaled", "default").spec.replicas == 4
    wait_for(
        lambda: apps.read_namespaced_deployment_scale("scaled", "default").status.replicas == 4,
        what="4 replicas",
    )
    # status writes through the main resource are ignored; through /status they land
    apps.patch_namespaced_deployment("scaled", "default", {"status": {"replicas": 99}})
    assert apps.read_namespaced_deployment("scaled", "default").status.replicas != 99


def test_watch_from_resource_version_timeout_and_gone(kube, core) -> None:
    from kubernetes import watch

    start = core.list_namespaced_config_map("default").metadata.resource_version
    core.create_namespaced_config_map("default", {"metadata": {"name": "w1", "labels": {"k": "v"}}})
    core.patch_namespaced_config_map("w1", "default", {"data": {"a": "1"}})
    core.create_namespaced_config_map("default", {"metadata": {"name": "other"}})
    core.delete_namespaced_config_map("w1", "default")

    events = [
        (e["type"], e["object"].metadata.name)
        for e in watch.Watch().stream(
            core.list_namespaced_config_map,
            "default",
            resource_version=start,
            label_selector="k=v",
            timeout_seconds=1,
        )
    ]
    assert events == [("ADDED", "w1"), ("MODIFIED", "w1"), ("DELETED", "w1")]

    # without a resourceVersion a watch starts with the current state
    initial = [
        (e["type"], e["object"].metadata.name)
        for e in watch.Watch().stream(core.list_namespaced_config_map, "default", timeout_seconds=1)
    ]
    assert initial == [("ADDED", "other")]

    kube.compact()
    raw = httpx.get(
        f"{kube.url}/api/v1/namespaces/default/configmaps",
        params={"watch": "true", "resourceVersion": start},
        timeout=10,
    )
    event = json.loads(raw.text.splitlines()[0])
    assert event["type"] == "ERROR"
    assert event["object"]["code"] == 410
    assert event["object"]["reason"] == "Expired"


def test_delete_cascades_to_owned_objects(apps, core) -> None:
    apps.create_namespaced_deployment("default", deployment("gone", replicas=2))
    wait_for(
        lambda: len(core.list_namespaced_pod("default", label_selector="app=gone").items) == 2, what="pods"
    )
    apps.delete_namespaced_deployment("gone", "default")
    assert apps.list_namespaced_replica_set("default", label_selector="app=gone").items == []
    assert core.list_namespaced_pod("default", label_selector="app=gone").items == []
