"""The real kubectl against the sandbox: every command behaves as against a real cluster."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from sandbox.manifests import daemonset, deployment, statefulset


def write(tmp_path: Path, manifest: dict) -> str:
    path = tmp_path / f"{manifest['metadata']['name']}.yaml"
    path.write_text(yaml.safe_dump(manifest))
    return str(path)


def test_deployment_lifecycle(kubectl, kube, tmp_path: Path) -> None:
    manifest = write(tmp_path, deployment("web", image="nginx:1.27", progressDeadlineSeconds=30))

    assert (
        kubectl("apply", "--server-side", "-f", manifest).stdout.strip()
        == "deployment.apps/web serverside-applied"
    )
    status = kubectl("rollout", "status", "deployment/web", "--timeout=60s")
    assert status.stdout.strip().endswith('deployment "web" successfully rolled out')

    table = kubectl("get", "deployment", "web").stdout.splitlines()
    assert table[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert table[1].split()[:4] == ["web", "3/3", "3", "3"]
    wide = kubectl("get", "deployment", "web", "-o", "wide").stdout.splitlines()
    assert wide[0].split() == [
        "NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"
    ]  # fmt: skip
    assert wide[1].split()[-3:] == ["web", "nginx:1.27", "app=web"]
    replicasets = kubectl("get", "rs", "-l", "app=web", "-o", "wide").stdout.splitlines()
    assert replicasets[0].split()[-3:] == ["CONTAINERS", "IMAGES", "SELECTOR"]

    assert kubectl("set", "image", "deployment/web", "web=nginx:1.28-crash").stdout.strip() == (
        "deployment.apps/web image updated"
    )
    failed = kubectl("rollout", "status", "deployment/web", "--timeout=60s", check=False)
    assert failed.returncode == 1
    assert 'error: deployment "web" exceeded its progress deadline' in failed.stderr
    pods = kubectl("get", "pods", "-l", "app=web").stdout
    assert "CrashLoopBackOff" in pods

    assert kubectl("rollout", "undo", "deployment/web").stdout.strip() == "deployment.apps/web rolled back"
    back = kubectl("rollout", "status", "deployment/web", "--timeout=60s")
    assert back.stdout.strip().endswith('deployment "web" successfully rolled out')
    images = json.loads(kubectl("get", "deployment", "web", "-o", "json").stdout)
    assert images["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"

    history = kubectl("rollout", "history", "deployment/web").stdout.split()
    assert history[history.index("CHANGE-CAUSE") + 1 :] == ["2", "<none>", "3", "<none>"]
    revision = kubectl("rollout", "history", "deployment/web", "--revision=3").stdout
    assert revision.startswith("deployment.apps/web with revision #3\nPod Template:\n")
    assert "    Image:\tnginx:1.27\n" in revision
    assert "    Port:\t8080/TCP\n" in revision
    assert kubectl("get", "rs", "-l", "app=web", "-o", "name").stdout.count("replicaset.apps/web-") == 2

    assert kubectl("scale", "deployment/web", "--replicas=5").stdout.strip() == "deployment.apps/web scaled"
    kubectl("rollout", "status", "deployment/web", "--timeout=60s")
    assert kubectl("get", "deployment", "web").stdout.splitlines()[1].split()[1] == "5/5"

    assert kubectl("delete", "deployment", "web").stdout.strip() == 'deployment.apps "web" deleted'
    missing = kubectl("get", "deployment", "web", check=False)
    assert missing.returncode == 1
    assert 'Error from server (NotFound): deployments.apps "web" not found' in missing.stderr
    assert kubectl("get", "pods", "-l", "app=web", "-o", "name").stdout == ""


def test_client_side_apply_is_idempotent(kubectl, tmp_path: Path) -> None:
    manifest = write(tmp_path, deployment("api", replicas=2))
    assert kubectl("apply", "-f", manifest).stdout.strip() == "deployment.apps/api created"
    assert kubectl("apply", "-f", manifest).stdout.strip() == "deployment.apps/api unchanged"
    changed = deployment("api", replicas=2, image="nginx:1.28")
    assert kubectl("apply", "-f", write(tmp_path, changed)).stdout.strip() == "deployment.apps/api configured"
    kubectl("rollout", "status", "deployment/api", "--timeout=60s")


def test_statefulset_and_daemonset_rollout_status(kubectl, tmp_path: Path) -> None:
    kubectl("apply", "--server-side", "-f", write(tmp_path, statefulset("db")))
    done = kubectl("rollout", "status", "statefulset/db", "--timeout=60s").stdout
    assert "partitioned roll out complete: 3 new pods have been updated..." in done
    kubectl("apply", "--server-side", "-f", write(tmp_path, daemonset("agent")))
    done = kubectl("rollout", "status", "daemonset/agent", "--timeout=60s").stdout
    assert 'daemon set "agent" successfully rolled out' in done
    kubectl("set", "image", "daemonset/agent", "agent=fluentbit:4")
    done = kubectl("rollout", "status", "daemonset/agent", "--timeout=60s").stdout
    assert 'daemon set "agent" successfully rolled out' in done
    history = kubectl("rollout", "history", "daemonset/agent").stdout.split()
    assert history[history.index("CHANGE-CAUSE") + 1 :] == ["1", "<none>", "2", "<none>"]


def test_get_namespaces_events_and_yaml_output(kubectl, tmp_path: Path) -> None:
    namespaces = kubectl("get", "namespaces", "-o", "name").stdout.split()
    assert "namespace/default" in namespaces
    kubectl(
        "apply",
        "--server-side",
        "-f",
        write(tmp_path, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}),
    )
    manifest = deployment("cart", replicas=1)
    manifest["metadata"]["namespace"] = "shop"
    kubectl("apply", "--server-side", "-f", write(tmp_path, manifest))
    kubectl("rollout", "status", "-n", "shop", "deployment/cart", "--timeout=60s")
    live = yaml.safe_load(kubectl("get", "-n", "shop", "deployment", "cart", "-o", "yaml").stdout)
    assert live["metadata"]["namespace"] == "shop"
    assert live["status"]["availableReplicas"] == 1
    events = kubectl("get", "events", "-n", "shop").stdout
    assert "ScalingReplicaSet" in events
    assert "Scheduled" in events
