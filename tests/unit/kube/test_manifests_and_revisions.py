from __future__ import annotations

import pytest

from podium.kube.manifests import ManifestError, diff, parse_manifests, ref, sort_for_apply, with_namespace
from podium.kube.revisions import (
    history,
    images_patch,
    rollback_patch,
    template_of,
    undo_target,
)

MULTI = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec: {replicas: 1}
---
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Service, metadata: {name: web}}
- {apiVersion: v1, kind: ConfigMap, metadata: {name: settings}}
"""


def test_parse_multi_document_yaml_and_lists() -> None:
    docs = parse_manifests(MULTI)
    assert [(d["kind"], d["metadata"]["name"]) for d in docs] == [
        ("Deployment", "web"),
        ("Namespace", "shop"),
        ("Service", "web"),
        ("ConfigMap", "settings"),
    ]
    assert [d["kind"] for d in sort_for_apply(docs)] == ["Namespace", "ConfigMap", "Service", "Deployment"]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("kind: [", "manifest: not valid YAML"),
        ("", "manifest: no documents"),
        ("- 1", "document 1: expected a mapping, got list"),
        ({"kind": "Service", "metadata": {"name": "x"}}, "document 1: apiVersion is required"),
        (
            [{"apiVersion": "v1", "kind": "Service", "metadata": {}}],
            r"document 1 \(Service\): metadata.name is required",
        ),
        (42, "expected a dict, a list of dicts or YAML text, got int"),
    ],
)
def test_broken_manifests_name_the_document_and_field(source, message) -> None:
    with pytest.raises(ManifestError, match=message):
        parse_manifests(source)


def test_namespace_is_filled_in_only_where_it_belongs() -> None:
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}}
    assert with_namespace(deployment, "shop")["metadata"]["namespace"] == "shop"
    assert "namespace" not in deployment["metadata"]  # the input is left alone
    pinned = {**deployment, "metadata": {"name": "web", "namespace": "other"}}
    assert with_namespace(pinned, "shop")["metadata"]["namespace"] == "other"
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
    assert "namespace" not in with_namespace(namespace, "shop")["metadata"]
    assert ref(with_namespace(deployment, "shop")) == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "web",
        "namespace": "shop",
    }


def test_diff_ignores_server_owned_fields() -> None:
    live = {
        "kind": "ConfigMap",
        "metadata": {"name": "c", "resourceVersion": "9", "uid": "u", "managedFields": [{}]},
        "data": {"a": "1"},
        "status": {},
    }
    assert diff(live, {"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}}, "c") == ""
    changed = diff(live, {"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "2"}}, "c")
    assert "-  a: '1'" in changed
    assert "+  a: '2'" in changed


def rs(name, revision, image, owner="d1"):
    return {
        "kind": "ReplicaSet",
        "metadata": {
            "name": name,
            "annotations": {"deployment.kubernetes.io/revision": str(revision)},
            "ownerReferences": [{"uid": owner}],
        },
        "spec": {
            "template": {
                "metadata": {"labels": {"app": "web", "pod-template-hash": name[-3:]}},
                "spec": {"containers": [{"name": "web", "image": image}]},
            }
        },
    }


def test_history_and_undo_semantics() -> None:
    deploy = {"metadata": {"uid": "d1"}}
    sets = [
        rs("web-aaa", 1, "v1"),
        rs("web-bbb", 2, "v2"),
        rs("web-ccc", 4, "v4"),
        rs("x-ddd", 7, "x", owner="o"),
    ]
    revisions = history(deploy, sets)
    assert sorted(revisions) == [1, 2, 4]
    assert undo_target(revisions, current=4) == 2
    assert undo_target(revisions, current=4, to_revision=1) == 1
    with pytest.raises(LookupError, match="unable to find specified revision 3 in history"):
        undo_target(revisions, current=4, to_revision=3)
    with pytest.raises(LookupError, match="nothing to roll back to"):
        undo_target([1], current=1)
    template = template_of(revisions[2])
    assert template["metadata"]["labels"] == {"app": "web"}  # pod-template-hash removed
    assert rollback_patch(template) == [{"op": "replace", "path": "/spec/template", "value": template}]


def test_controller_revision_template() -> None:
    revision = {
        "kind": "ControllerRevision",
        "revision": 3,
        "data": {"spec": {"template": {"$patch": "replace", "spec": {"containers": []}}}},
    }
    assert template_of(revision) == {"spec": {"containers": []}}


def test_images_patch_names_only_known_containers() -> None:
    workload = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [{"name": "web", "image": "a"}],
                    "initContainers": [{"name": "migrate", "image": "m"}],
                }
            }
        }
    }
    assert images_patch(workload, {"web": "b", "migrate": "m2"}) == {
        "spec": {
            "template": {
                "spec": {
                    "containers": [{"name": "web", "image": "b"}],
                    "initContainers": [{"name": "migrate", "image": "m2"}],
                }
            }
        }
    }
    with pytest.raises(KeyError, match="no container named sidecar"):
        images_patch(workload, {"sidecar": "x"})
