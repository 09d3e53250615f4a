"""The sandbox's simulated controllers, observed through the official client as a user would."""

from __future__ import annotations

import pytest

from harness.kube import wait_for
from sandbox.manifests import daemonset, deployment, job, statefulset


def rolled_out(apps, name: str) -> bool:
    d = apps.read_namespaced_deployment(name, "default")
    s = d.status
    return bool(
        s.observed_generation == d.metadata.generation
        and s.updated_replicas == d.spec.replicas
        and s.replicas == d.spec.replicas
        and s.available_replicas == d.spec.replicas
    )


def set_image(apps, name: str, image: str) -> None:
    apps.patch_namespaced_deployment(
        name, "default", {"spec": {"template": {"spec": {"containers": [{"name": name, "image": image}]}}}}
    )


def progressing(apps, name: str):
    conditions = apps.read_namespaced_deployment(name, "default").status.conditions or []
    return next((c for c in conditions if c.type == "Progressing"), None)


@pytest.mark.parametrize(("surge", "unavailable"), [(1, 0), (0, 1), ("50%", "25%")])
def test_rolling_update_honours_max_surge_and_max_unavailable(apps, core, surge, unavailable) -> None:
    from kubernetes import watch

    replicas = 4
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}
    apps.create_namespaced_deployment("default", deployment("roll", replicas=replicas, strategy=strategy))
    wait_for(lambda: rolled_out(apps, "roll"), what="first rollout")
    max_pods = replicas + (2 if surge == "50%" else surge)
    min_ready = replicas - (1 if unavailable == "25%" else unavailable)

    pods = {p.metadata.name: p for p in core.list_namespaced_pod("default", label_selector="app=roll").items}
    since = core.list_namespaced_pod("default").metadata.resource_version
    set_image(apps, "roll", "nginx:1.28")
    seen_max, seen_min_ready = 0, replicas
    stream = watch.Watch()
    for event in stream.stream(
        core.list_namespaced_pod,
        "default",
        label_selector="app=roll",
        resource_version=since,
        timeout_seconds=30,
    ):
        pod = event["object"]
        if event["type"] == "DELETED":
            pods.pop(pod.metadata.name, None)
        else:
            pods[pod.metadata.name] = pod
        ready = sum(
            1
            for p in pods.values()
            if any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])
        )
        seen_max, seen_min_ready = max(seen_max, len(pods)), min(seen_min_ready, ready)
        images = {p.spec.containers[0].image for p in pods.values()}
        if images == {"nginx:1.28"} and len(pods) == replicas and ready == replicas:
            stream.stop()
    assert seen_max <= max_pods
    assert seen_min_ready >= min_ready
    assert seen_max > replicas or seen_min_ready < replicas  # it really rolled, not all at once
    wait_for(lambda: rolled_out(apps, "roll"), what="second rollout")


def test_revisions_pod_template_hash_and_history_limit(apps, core) -> None:
    apps.create_namespaced_deployment("default", deployment("hist", replicas=2, revisionHistoryLimit=2))
    for tag in ("1.28", "1.29", "1.30"):
        wait_for(lambda: rolled_out(apps, "hist"), what="rollout")
        set_image(apps, "hist", f"nginx:{tag}")
    wait_for(lambda: rolled_out(apps, "hist"), what="last rollout")
    rss = apps.list_namespaced_replica_set("default", label_selector="app=hist").items
    revisions = sorted(int(rs.metadata.annotations["deployment.kubernetes.io/revision"]) for rs in rss)
    assert revisions == [2, 3, 4]  # revision 1 fell out of the history (limit 2 + the live one)
    live = next(rs for rs in rss if rs.spec.replicas == 2)
    pod_hash = live.metadata.labels["pod-template-hash"]
    assert live.metadata.name == f"hist-{pod_hash}"
    assert live.spec.selector.match_labels["pod-template-hash"] == pod_hash
    assert live.metadata.owner_references[0].kind == "Deployment"
    pods = core.list_namespaced_pod("default", label_selector=f"app=hist,pod-template-hash={pod_hash}").items
    assert len(pods) == 2
    deploy = apps.read_namespaced_deployment("hist", "default")
    assert deploy.metadata.annotations["deployment.kubernetes.io/revision"] == "4"


def test_rollback_reuses_the_old_replicaset_and_bumps_its_revision(apps) -> None:
    apps.create_namespaced_deployment("default", deployment("undo", replicas=2))
    wait_for(lambda: rolled_out(apps, "undo"), what="rollout 1")
    (first,) = apps.list_namespaced_replica_set("default", label_selector="app=undo").items
    set_image(apps, "undo", "nginx:1.28")
    wait_for(lambda: rolled_out(apps, "undo"), what="rollout 2")
    # what `kubectl rollout undo` sends: the old ReplicaSet's template, as Go serialises it
    from kubernetes.client import ApiClient

    template = ApiClient().sanitize_for_serialization(first.spec.template)
    template["metadata"]["creationTimestamp"] = None
    template["spec"]["containers"][0]["resources"] = {}
    del template["metadata"]["labels"]["pod-template-hash"]
    apps.patch_namespaced_deployment(
        "undo", "default", [{"op": "replace", "path": "/spec/template", "value": template}]
    )
    wait_for(lambda: rolled_out(apps, "undo"), what="rollback")
    rss = {
        rs.metadata.name: rs
        for rs in apps.list_namespaced_replica_set("default", label_selector="app=undo").items
    }
    assert len(rss) == 2, "the rollback must re-use the old ReplicaSet, not create a third"
    assert rss[first.metadata.name].metadata.annotations["deployment.kubernetes.io/revision"] == "3"
    assert rss[first.metadata.name].spec.replicas == 2


def test_crash_and_pull_failures_show_in_pod_status_and_events(kube, apps, core) -> None:
    kube.mark_image("registry.local/broken:1", "crash")
    manifest = deployment("fates", replicas=1)
    manifest["spec"]["template"]["spec"]["containers"] = [
        {"name": "app", "image": "shop:2.0-crash"},
        {"name": "puller", "image": "shop:2.0-nopull"},
        {"name": "marked", "image": "registry.local/broken:1"},
        {"name": "fine", "image": "shop:2.0"},
    ]
    apps.create_namespaced_deployment("default", manifest)

    def reasons() -> dict[str, str | None]:
        pods = core.list_namespaced_pod("default", label_selector="app=fates").items
        if not pods:
            return {}
        return {
            s.name: (s.state.waiting.reason if s.state.waiting else ("running" if s.state.running else None))
            for s in pods[0].status.container_statuses
        }

    first = wait_for(
        lambda: (r := reasons()) and r.get("puller") == "ErrImagePull" and r, what="ErrImagePull"
    )
    assert first["puller"] == "ErrImagePull"
    kube.advance(5)
    final = wait_for(
        lambda: (
            (r := reasons())
            and r.get("app") == "CrashLoopBackOff"
            and r.get("puller") == "ImagePullBackOff"
            and r
        ),
        what="back-offs",
    )
    assert final == {
        "app": "CrashLoopBackOff",
        "puller": "ImagePullBackOff",
        "marked": "CrashLoopBackOff",
        "fine": "running",
    }
    pod = core.list_namespaced_pod("default", label_selector="app=fates").items[0]
    assert pod.status.phase == "Pending"  # an image that cannot be pulled keeps the pod pending
    statuses = {s.name: s for s in pod.status.container_statuses}
    assert statuses["app"].restart_count >= 1
    assert statuses["app"].last_state.terminated.reason == "Error"
    events = core.list_namespaced_event(
        "default", field_selector=f"involvedObject.name={pod.metadata.name}"
    ).items
    messages = {(e.reason, e.message) for e in events}
    pod_ref = f"{pod.metadata.name}_default({pod.metadata.uid})"  # the kubelet's format.Pod
    assert ("BackOff", f"Back-off restarting failed container app in pod {pod_ref}") in messages
    reference = "docker.io/library/shop:2.0-nopull"
    assert (
        "Failed",
        'Failed to pull image "shop:2.0-nopull": rpc error: code = NotFound desc = failed to pull and '
        f'unpack image "{reference}": failed to resolve reference "{reference}": {reference}: not found',
    ) in messages
    assert all(e.involved_object.kind == "Pod" for e in events)


def test_failing_pods_hit_the_progress_deadline(kube, apps, core) -> None:
    apps.create_namespaced_deployment("default", deployment("stuck", replicas=2, progressDeadlineSeconds=30))
    wait_for(lambda: rolled_out(apps, "stuck"), what="rollout")
    set_image(apps, "stuck", "nginx:1.28-crash")
    wait_for(
        lambda: (
            progressing(apps, "stuck").reason == "ReplicaSetUpdated"
            or progressing(apps, "stuck").reason == "NewReplicaSetCreated"
        ),
        what="progressing",
    )
    assert progressing(apps, "stuck").status == "True"
    kube.advance(31)
    condition = wait_for(
        lambda: (c := progressing(apps, "stuck")) and c.reason == "ProgressDeadlineExceeded" and c,
        what="deadline",
    )
    assert condition.status == "False"
    assert condition.message.startswith('ReplicaSet "stuck-')
    assert condition.message.endswith('" has timed out progressing.')
    status = apps.read_namespaced_deployment("stuck", "default").status
    assert status.available_replicas == 2  # the old pods keep serving
    assert status.updated_replicas == 1
    events = core.list_namespaced_event("default", field_selector="involvedObject.name=stuck").items
    assert any(
        e.reason == "ScalingReplicaSet" and "Scaled up replica set stuck-" in e.message for e in events
    )


def test_statefulset_partitioned_rollout(apps, core) -> None:
    apps.create_namespaced_stateful_set("default", statefulset("db", partition=2))

    def status():
        return apps.read_namespaced_stateful_set("db", "default").status

    wait_for(lambda: status().ready_replicas == 3, what="3 ready pods")
    assert sorted(
        p.metadata.name for p in core.list_namespaced_pod("default", label_selector="app=db").items
    ) == ["db-0", "db-1", "db-2"]
    first_revision = status().current_revision
    apps.patch_namespaced_stateful_set(
        "db",
        "default",
        {"spec": {"template": {"spec": {"containers": [{"name": "db", "image": "redis:7.2"}]}}}},
    )
    wait_for(
        lambda: status().updated_replicas == 1 and status().ready_replicas == 3, what="partitioned update"
    )
    images = {
        p.metadata.name: p.spec.containers[0].image
        for p in core.list_namespaced_pod("default", label_selector="app=db").items
    }
    assert images == {"db-0": "redis:7", "db-1": "redis:7", "db-2": "redis:7.2"}
    assert status().current_revision == first_revision != status().update_revision

    apps.patch_namespaced_stateful_set(
        "db", "default", {"spec": {"updateStrategy": {"rollingUpdate": {"partition": 0}}}}
    )
    wait_for(
        lambda: (
            status().updated_replicas == 3
            and status().ready_replicas == 3
            and status().current_revision == status().update_revision
        ),
        what="full update",
    )
    revisions = apps.list_namespaced_controller_revision("default").items
    assert sorted(r.revision for r in revisions) == [1, 2]
    assert {r.metadata.name for r in revisions} == {first_revision, status().update_revision}


def test_daemonset_rollout_runs_one_pod_per_node(apps, core) -> None:
    apps.create_namespaced_daemon_set("default", daemonset("agent"))

    def status():
        return apps.read_namespaced_daemon_set("agent", "default").status

    wait_for(lambda: status().number_available == 3, what="3 agents")
    nodes = {p.spec.node_name for p in core.list_namespaced_pod("default", label_selector="app=agent").items}
    assert nodes == {"sandbox-node-1", "sandbox-node-2", "sandbox-node-3"}
    apps.patch_namespaced_daemon_set(
        "agent",
        "default",
        {"spec": {"template": {"spec": {"containers": [{"name": "agent", "image": "fluentbit:4"}]}}}},
    )
    wait_for(
        lambda: (
            status().updated_number_scheduled == 3
            and status().number_available == 3
            and status().observed_generation == 2
        ),
        what="daemonset rollout",
    )


@pytest.mark.parametrize(
    ("image", "condition", "reason"),
    [
        ("migrate:1", "Complete", None),
        ("migrate:1-fail", "Failed", "BackoffLimitExceeded"),
    ],
)
def test_jobs_succeed_or_fail(api, image, condition, reason) -> None:
    client, api_client = api
    batch = client.BatchV1Api(api_client)
    batch.create_namespaced_job("default", job("migrate", image=image, backoff_limit=1))

    def finished():
        conditions = batch.read_namespaced_job_status("migrate", "default").status.conditions or []
        return next((c for c in conditions if c.type in ("Complete", "Failed") and c.status == "True"), None)

    done = wait_for(finished, what="job to finish")
    assert (done.type, done.reason) == (condition, reason)
    status = batch.read_namespaced_job_status("migrate", "default").status
    if condition == "Complete":
        assert status.succeeded == 1
    else:
        assert status.failed == 2  # backoffLimit 1: the first failure is retried once


def test_services_get_a_cluster_ip_and_hpas_are_stored(api) -> None:
    client, api_client = api
    core = client.CoreV1Api(api_client)
    service = core.create_namespaced_service(
        "default",
        {"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}},
    )
    assert service.spec.cluster_ip.startswith("10.96.")
    assert service.spec.selector == {"app": "web"}
    autoscaling = client.AutoscalingV2Api(api_client)
    autoscaling.create_namespaced_horizontal_pod_autoscaler(
        "default",
        {
            "metadata": {"name": "web"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "minReplicas": 2,
                "maxReplicas": 6,
            },
        },
    )
    hpa = autoscaling.read_namespaced_horizontal_pod_autoscaler("web", "default")
    assert (hpa.spec.min_replicas, hpa.spec.max_replicas, hpa.status.desired_replicas) == (2, 6, 0)
