"""ResourceQuota and Events in the sandbox, observed through the official client (and kubectl) as a
user would: a quota refusing pods shows as FailedCreate events and ReplicaFailure conditions, as in
a real cluster, and events can be listed and watched per object with field selectors."""

from __future__ import annotations

import json
import re

import pytest

from harness.kube import wait_for
from sandbox.manifests import daemonset, deployment, job, statefulset

QUOTA_MESSAGE = re.compile(
    r'pods "(?P<pod>[a-z0-9-]+)" is forbidden: exceeded quota: (?P<quota>[a-z-]+), '
    r"requested: pods=1, used: pods=(?P<used>\d+), limited: pods=(?P<hard>\d+)"
)


def _quota(core, hard: str, name: str = "pods-quota") -> None:
    core.create_namespaced_resource_quota(
        "default", {"metadata": {"name": name}, "spec": {"hard": {"pods": hard}}}
    )


def _condition(obj, kind: str):
    return next((c for c in obj.status.conditions or [] if c.type == kind), None)


def _events(core, **selectors: str):
    selector = ",".join(f"{field}={value}" for field, value in selectors.items())
    return core.list_namespaced_event("default", field_selector=selector).items


def _rolled_out(apps, name: str) -> bool:
    d = apps.read_namespaced_deployment(name, "default")
    s = d.status
    return bool(
        s.observed_generation == d.metadata.generation
        and s.updated_replicas == s.replicas == s.available_replicas == d.spec.replicas
    )


def test_a_quota_blocks_pods_until_it_is_deleted(kube, apps, core) -> None:
    from kubernetes.client.exceptions import ApiException

    _quota(core, "2")
    apps.create_namespaced_deployment("default", deployment("web", replicas=3))
    failure = wait_for(
        lambda: _condition(apps.read_namespaced_deployment("web", "default"), "ReplicaFailure"),
        what="ReplicaFailure on the deployment",
    )
    (rs,) = apps.list_namespaced_replica_set("default", label_selector="app=web").items
    rs_failure = _condition(rs, "ReplicaFailure")
    assert (rs_failure.status, rs_failure.reason) == ("True", "FailedCreate")
    refused = QUOTA_MESSAGE.fullmatch(rs_failure.message)
    assert refused, rs_failure.message
    assert refused["pod"].startswith(f"{rs.metadata.name}-")
    assert (refused["quota"], refused["used"], refused["hard"]) == ("pods-quota", "2", "2")
    # the deployment controller copies the new ReplicaSet's failure (sync.go's getReplicaFailures)
    assert (failure.status, failure.reason, failure.message) == ("True", "FailedCreate", rs_failure.message)
    assert failure.last_transition_time == rs_failure.last_transition_time
    assert len(core.list_namespaced_pod("default", label_selector="app=web").items) == 2
    quota = core.read_namespaced_resource_quota("pods-quota", "default")
    assert (quota.status.hard, quota.status.used) == ({"pods": "2"}, {"pods": "2"})

    # the replicaset controller's event, on the ReplicaSet, worded as its pod control words it
    failed = _events(
        core,
        **{
            "involvedObject.name": rs.metadata.name,
            "involvedObject.kind": "ReplicaSet",
            "reason": "FailedCreate",
        },
    )
    assert {e.type for e in failed} == {"Warning"}
    assert f"Error creating: {rs_failure.message}" in {e.message for e in failed}
    assert all(e.source.component == "replicaset-controller" for e in failed)
    # every retry names a new pod; from the 10th message on, client-go's recorder combines them
    combined = wait_for(
        lambda: [
            e
            for e in _events(core, **{"involvedObject.uid": rs.metadata.uid, "reason": "FailedCreate"})
            if e.message.startswith("(combined from similar events): Error creating: pods ")
        ],
        what="combined FailedCreate events",
    )
    assert len(combined) == 1
    assert len(_events(core, **{"involvedObject.uid": rs.metadata.uid, "reason": "FailedCreate"})) == 10

    # API clients are refused the same way (the admission plugin answers 403)
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_pod(
            "default",
            {"metadata": {"name": "extra"}, "spec": {"containers": [{"name": "x", "image": "busybox"}]}},
        )
    body = json.loads(caught.value.body)
    assert (caught.value.status, body["reason"]) == (403, "Forbidden")
    assert body["message"] == (
        'pods "extra" is forbidden: exceeded quota: pods-quota, '
        "requested: pods=1, used: pods=2, limited: pods=2"
    )

    core.delete_namespaced_resource_quota("pods-quota", "default")
    kube.advance(61)  # past the controller's retry backoff
    wait_for(lambda: _rolled_out(apps, "web"), what="rollout after the quota is gone")
    deploy = apps.read_namespaced_deployment("web", "default")
    assert _condition(deploy, "ReplicaFailure") is None
    assert _condition(deploy, "Progressing").reason == "NewReplicaSetAvailable"
    assert wait_for(
        lambda: (
            _condition(apps.read_namespaced_replica_set(rs.metadata.name, "default"), "ReplicaFailure")
            is None
        ),
        what="ReplicaFailure gone from the ReplicaSet",
    )


@pytest.mark.parametrize("scenario", ["new deployment", "rolling update"])
def test_no_creatable_pod_still_hits_the_progress_deadline(kube, apps, core, kubectl, scenario) -> None:
    if scenario == "new deployment":
        _quota(core, "0")
        apps.create_namespaced_deployment(
            "default", deployment("stuck", replicas=2, progressDeadlineSeconds=30)
        )
    else:  # the surge pod of a rolling update does not fit: the old pods keep serving
        apps.create_namespaced_deployment(
            "default", deployment("stuck", replicas=2, progressDeadlineSeconds=30)
        )
        wait_for(lambda: _rolled_out(apps, "stuck"), what="first rollout")
        _quota(core, "2")
        apps.patch_namespaced_deployment(
            "stuck",
            "default",
            {"spec": {"template": {"spec": {"containers": [{"name": "stuck", "image": "nginx:1.28"}]}}}},
        )
    failure = wait_for(
        lambda: _condition(apps.read_namespaced_deployment("stuck", "default"), "ReplicaFailure"),
        what="ReplicaFailure",
    )
    hard = "0" if scenario == "new deployment" else "2"
    assert QUOTA_MESSAGE.fullmatch(failure.message)["hard"] == hard
    assert _condition(apps.read_namespaced_deployment("stuck", "default"), "Progressing").status == "True"
    kube.advance(31)
    progressing = wait_for(
        lambda: (
            (c := _condition(apps.read_namespaced_deployment("stuck", "default"), "Progressing"))
            and c.reason == "ProgressDeadlineExceeded"
            and c
        ),
        what="ProgressDeadlineExceeded",
    )
    assert progressing.status == "False"
    deploy = apps.read_namespaced_deployment("stuck", "default")
    assert _condition(deploy, "ReplicaFailure").reason == "FailedCreate"
    assert (deploy.status.available_replicas or 0) == (0 if scenario == "new deployment" else 2)
    status = kubectl("rollout", "status", "deployment/stuck", "--timeout=10s", check=False)
    assert status.returncode == 1
    assert 'error: deployment "stuck" exceeded its progress deadline' in status.stderr
    described = kubectl("describe", "deployment", "stuck").stdout
    assert re.search(r"ReplicaFailure\s+True\s+FailedCreate", described)


def test_statefulset_daemonset_and_job_pods_are_refused_too(kube, apps, core, api) -> None:
    client, api_client = api
    _quota(core, "0")
    apps.create_namespaced_stateful_set("default", statefulset("db", replicas=1))
    apps.create_namespaced_daemon_set("default", daemonset("agent"))
    client.BatchV1Api(api_client).create_namespaced_job("default", job("migrate"))

    def refused(kind: str, name: str) -> list:
        return [
            e
            for e in _events(core, **{"involvedObject.kind": kind, "involvedObject.name": name})
            if e.reason == "FailedCreate"
        ]

    sts = wait_for(lambda: refused("StatefulSet", "db"), what="StatefulSet FailedCreate")
    assert sts[0].message == (
        'create Pod db-0 in StatefulSet db failed error: pods "db-0" is forbidden: exceeded quota: '
        "pods-quota, requested: pods=1, used: pods=0, limited: pods=0"
    )
    for kind, name in (("DaemonSet", "agent"), ("Job", "migrate")):
        events = wait_for(lambda kind=kind, name=name: refused(kind, name), what=f"{kind} FailedCreate")
        assert QUOTA_MESSAGE.fullmatch(events[0].message.removeprefix("Error creating: "))
        assert events[0].message.startswith(f'Error creating: pods "{name}-')
    assert core.list_namespaced_pod("default").items == []

    core.delete_namespaced_resource_quota("pods-quota", "default")
    kube.advance(61)
    wait_for(
        lambda: apps.read_namespaced_stateful_set("db", "default").status.ready_replicas == 1, what="db-0"
    )
    wait_for(
        lambda: apps.read_namespaced_daemon_set("agent", "default").status.number_ready == 3, what="agents"
    )


def test_kubelet_events_for_crashing_and_unpullable_containers(kube, apps, core) -> None:
    manifest = deployment("fates", replicas=1)
    manifest["spec"]["template"]["spec"]["containers"] = [
        {"name": "app", "image": "shop:2.0-crash"},
        {"name": "puller", "image": "registry.local/shop:2.0-nopull"},
    ]
    apps.create_namespaced_deployment("default", manifest)
    pod = wait_for(lambda: core.list_namespaced_pod("default", label_selector="app=fates").items, what="pod")[
        0
    ]
    ref = f"{pod.metadata.name}_default({pod.metadata.uid})"  # the kubelet's format.Pod
    image = "registry.local/shop:2.0-nopull"
    pull_error = (
        f'rpc error: code = NotFound desc = failed to pull and unpack image "{image}": '
        f'failed to resolve reference "{image}": {image}: not found'
    )

    def seen(container: str) -> set[tuple[str, str, str]]:
        events = _events(
            core,
            **{
                "involvedObject.uid": pod.metadata.uid,
                "involvedObject.fieldPath": f"spec.containers{{{container}}}",
            },
        )
        assert all((e.source.component, e.source.host) == ("kubelet", pod.spec.node_name) for e in events)
        return {(e.type, e.reason, e.message) for e in events}

    pulling = {
        ("Normal", "Pulling", f'Pulling image "{image}"'),
        ("Warning", "Failed", f'Failed to pull image "{image}": {pull_error}'),
        ("Warning", "Failed", "Error: ErrImagePull"),
    }
    wait_for(lambda: pulling <= seen("puller"), what="pull failure events")
    kube.advance(5)
    backing_off = {
        ("Normal", "BackOff", f'Back-off pulling image "{image}"'),
        ("Warning", "Failed", "Error: ImagePullBackOff"),
    }
    wait_for(lambda: backing_off <= seen("puller"), what="pull back-off events")
    crash = ("Warning", "BackOff", f"Back-off restarting failed container app in pod {ref}")
    wait_for(lambda: crash in seen("app"), what="crash back-off event")
    assert {
        ("Normal", "Started", "Started container app"),
        ("Normal", "Created", "Created container app"),
    } <= seen("app")
    statuses = {
        s.name: s for s in core.read_namespaced_pod(pod.metadata.name, "default").status.container_statuses
    }
    assert statuses["app"].state.waiting.message == f"back-off 10s restarting failed container=app pod={ref}"
    assert statuses["puller"].state.waiting.message == f'Back-off pulling image "{image}"'


def test_event_field_selectors_in_lists_and_watches(kube, apps, core) -> None:
    from kubernetes import watch
    from kubernetes.client.exceptions import ApiException

    since = core.list_namespaced_event("default").metadata.resource_version
    apps.create_namespaced_deployment("default", deployment("ok", replicas=1))
    apps.create_namespaced_deployment("default", deployment("crashy", replicas=1, image="shop:2.0-crash"))
    crashing = wait_for(lambda: _events(core, reason="BackOff", type="Warning"), what="a BackOff event")
    wait_for(lambda: _rolled_out(apps, "ok"), what="ok rolled out")
    every = core.list_namespaced_event("default").items
    assert len({e.involved_object.name for e in every}) >= 6  # 2 deployments, 2 replica sets, 2 pods

    def names(selector: str) -> list[str]:
        return [e.metadata.name for e in core.list_namespaced_event("default", field_selector=selector).items]

    def expected(keep) -> set[str]:
        return {e.metadata.name for e in every if keep(e)}

    pod = crashing[0].involved_object
    assert all(e.involved_object.uid == pod.uid for e in crashing)
    cases = {
        f"involvedObject.name={pod.name}": lambda e: e.involved_object.name == pod.name,
        f"involvedObject.uid={pod.uid}": lambda e: e.involved_object.uid == pod.uid,
        "involvedObject.kind=Deployment": lambda e: e.involved_object.kind == "Deployment",
        "involvedObject.kind==ReplicaSet,involvedObject.namespace=default": (
            lambda e: e.involved_object.kind == "ReplicaSet"
        ),
        "type=Warning": lambda e: e.type == "Warning",
        "reason=ScalingReplicaSet,involvedObject.name!=ok": (
            lambda e: e.reason == "ScalingReplicaSet" and e.involved_object.name != "ok"
        ),
        "involvedObject.kind=Pod,type!=Warning,source=kubelet": (
            lambda e: (
                e.involved_object.kind == "Pod" and e.type != "Warning" and e.source.component == "kubelet"
            )
        ),
    }
    for selector, keep in cases.items():
        selected = core.list_namespaced_event("default", field_selector=selector).items
        assert selected, selector
        assert all(keep(e) for e in selected), selector
        # the crashing pod's events keep coming: what was there before must be selected now
        assert expected(keep) <= {e.metadata.name for e in selected}, selector
    assert names("involvedObject.namespace=elsewhere") == []

    with pytest.raises(ApiException) as caught:
        core.list_namespaced_event("default", field_selector="involvedObject.color=blue")
    assert caught.value.status == 400
    assert json.loads(caught.value.body)["message"] == "field label not supported: involvedObject.color"

    # a watch with a field selector sees only the events it selects, from the replay on
    stream = watch.Watch()
    seen = []
    for event in stream.stream(
        core.list_namespaced_event,
        "default",
        field_selector="involvedObject.kind=ReplicaSet,reason=SuccessfulCreate",
        resource_version=since,
        timeout_seconds=2,
    ):
        seen.append(event["object"])
        if len({e.involved_object.name for e in seen}) == 2:
            stream.stop()
    assert {e.involved_object.kind for e in seen} == {"ReplicaSet"}
    assert {e.reason for e in seen} == {"SuccessfulCreate"}
    assert {e.involved_object.name.rsplit("-", 1)[0] for e in seen} == {"ok", "crashy"}
