"""Manifests: parsing (dict, list, YAML text), the order to apply them in, references and diffs."""

from __future__ import annotations

import copy
import difflib
from collections.abc import Mapping
from typing import Any

Obj = dict[str, Any]

# Apply in an order that never references what does not exist yet (as Helm and Argo CD do).
APPLY_ORDER = {
    "Namespace": 0,
    "CustomResourceDefinition": 1,
    "ServiceAccount": 2,
    "Secret": 2,
    "ConfigMap": 2,
    "PersistentVolumeClaim": 2,
    "StorageClass": 2,
    "ClusterRole": 3,
    "ClusterRoleBinding": 3,
    "Role": 3,
    "RoleBinding": 3,
    "Service": 4,
    "DaemonSet": 5,
    "Deployment": 5,
    "StatefulSet": 5,
    "ReplicaSet": 5,
    "Pod": 5,
    "Job": 5,
    "CronJob": 5,
    "HorizontalPodAutoscaler": 6,
    "PodDisruptionBudget": 6,
    "Ingress": 6,
    "NetworkPolicy": 6,
}
UNKNOWN_ORDER = 7
CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "CustomResourceDefinition",
        "ClusterRole",
        "ClusterRoleBinding",
        "StorageClass",
        "PersistentVolume",
        "Node",
    }
)
VOLATILE_METADATA = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink")


class ManifestError(ValueError):
    """A manifest that cannot be applied; the message names the document and the field."""


def parse_manifests(source: Any, *, origin: str = "manifest") -> list[Obj]:
    """Documents from a dict, a list of dicts, or YAML text (several documents allowed).

    Empty documents are skipped; ``kind: List`` is flattened. Each document must name apiVersion,
    kind and metadata.name.
    """
    documents: list[Obj] = []
    for doc in _load(source, origin):
        if isinstance(doc, Mapping) and doc.get("kind") == "List":
            documents.extend(copy.deepcopy(dict(item)) for item in doc.get("items") or [])
        else:
            documents.append(doc)
    for index, doc in enumerate(documents):
        _check_document(doc, f"{origin}: document {index + 1}")
        documents[index] = copy.deepcopy(dict(doc))
    if not documents:
        raise ManifestError(f"{origin}: no documents")
    return documents


def _load(source: Any, origin: str) -> list[Any]:
    """The documents of ``source`` before any check: YAML text parsed, a dict or a list taken as is."""
    if isinstance(source, str):
        import yaml

        from podium.yaml_errors import describe_yaml_error

        try:
            return [doc for doc in yaml.safe_load_all(source) if doc is not None]
        except yaml.YAMLError as error:
            # names where the parser noticed and where the unclosed construct opened
            raise ManifestError(f"{origin}: not valid YAML: {describe_yaml_error(error)}") from error
    if isinstance(source, Mapping):
        return [source]
    if isinstance(source, list | tuple):
        return list(source)
    raise ManifestError(
        f"{origin}: expected a dict, a list of dicts or YAML text, got {type(source).__name__}"
    )


def _check_document(doc: Any, where: str) -> None:
    if not isinstance(doc, Mapping):
        raise ManifestError(f"{where}: expected a mapping, got {type(doc).__name__}")
    for key in ("apiVersion", "kind"):
        if not isinstance(doc.get(key), str) or not doc.get(key):
            raise ManifestError(f"{where}: {key} is required")
    name = (doc.get("metadata") or {}).get("name")
    if not isinstance(name, str) or not name:
        raise ManifestError(f"{where} ({doc['kind']}): metadata.name is required")


def sort_for_apply(documents: list[Obj]) -> list[Obj]:
    """Stable sort by kind: namespaces and CRDs first, config and RBAC, services, workloads, the rest."""
    return sorted(documents, key=lambda doc: APPLY_ORDER.get(doc["kind"], UNKNOWN_ORDER))


def with_namespace(doc: Obj, namespace: str | None) -> Obj:
    """The document with ``namespace`` filled in where it names none (never for cluster-scoped kinds)."""
    doc = copy.deepcopy(doc)
    if doc["kind"] not in CLUSTER_SCOPED and namespace and not doc["metadata"].get("namespace"):
        doc["metadata"]["namespace"] = namespace
    return doc


def ref(doc: Mapping[str, Any]) -> dict[str, str | None]:
    meta = doc.get("metadata") or {}
    return {
        "apiVersion": doc.get("apiVersion"),
        "kind": doc.get("kind"),
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
    }


def ref_text(doc: Mapping[str, Any]) -> str:
    meta = doc.get("metadata") or {}
    where = f" -n {meta['namespace']}" if meta.get("namespace") else ""
    return f"{str(doc.get('kind', '')).lower()}/{meta.get('name')}{where}"


def comparable(obj: Mapping[str, Any] | None) -> Obj:
    """An object without the fields the server owns, for diffs and equality."""
    if not obj:
        return {}
    result = {k: copy.deepcopy(v) for k, v in obj.items() if k != "status"}
    meta = {k: v for k, v in (result.get("metadata") or {}).items() if k not in VOLATILE_METADATA}
    annotations = {
        k: v for k, v in (meta.get("annotations") or {}).items() if k != "deployment.kubernetes.io/revision"
    }
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    result["metadata"] = meta
    return result


def diff(live: Mapping[str, Any] | None, proposed: Mapping[str, Any], name: str) -> str:
    """A unified diff of the object as it is and as it would be ("" when nothing would change)."""
    import yaml

    before = yaml.safe_dump(comparable(live), sort_keys=True).splitlines() if live else []
    after = yaml.safe_dump(comparable(proposed), sort_keys=True).splitlines()
    return "\n".join(difflib.unified_diff(before, after, f"live/{name}", f"proposed/{name}", lineterm=""))
