"""Small manifest builders for sandbox tests."""

from __future__ import annotations

from typing import Any


def deployment(name: str, image: str = "nginx:1.27", replicas: int = 3, **spec: Any) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": name, "image": image, "ports": [{"containerPort": 8080}]}]},
            },
            **spec,
        },
    }


def _workload(kind: str, name: str, image: str, **spec: Any) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": name, "image": image}]},
            },
            **spec,
        },
    }


def statefulset(name: str, image: str = "redis:7", replicas: int = 3, partition: int = 0) -> dict[str, Any]:
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"partition": partition}}
    return _workload("StatefulSet", name, image, replicas=replicas, serviceName=name, updateStrategy=strategy)


def daemonset(name: str, image: str = "fluentbit:3") -> dict[str, Any]:
    return _workload("DaemonSet", name, image)


def job(name: str, image: str = "migrate:1", backoff_limit: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": backoff_limit,
            "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": name, "image": image}]}},
        },
    }
