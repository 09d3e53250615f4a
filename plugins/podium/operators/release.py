"""The tasks of a release DAG (built by podium.dagbuilders.release from a release spec).

plan -> [approve] -> per service: pre-deploy Jobs -> rollout -> health -> smoke -> rollback -> report
-> outcome. Every service task first asks the plan whether its service is part of this run (the
trigger form can pick a subset) and skips when it is not.
"""

from __future__ import annotations

import hashlib
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, overload

from airflow.sdk import BaseOperator
from airflow.sdk.bases.skipmixin import SkipMixin
from airflow.sdk.exceptions import AirflowSkipException

from podium.exceptions import PermanentError
from podium.kube.workloads import WORKLOAD_API
from podium.kubernetes.actions import load_manifest, rollback_workload, workload_history
from podium.operators.kubernetes import KubernetesBaseOperator, KubernetesRolloutOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from podium.hooks.kubernetes import PodiumKubernetesHook

FAILED = ("failed", "upstream_failed")


def _plan(context: Context, plan_task_id: str) -> dict[str, Any]:
    return context["ti"].xcom_pull(task_ids=plan_task_id) or {}


def _skip_unless_selected(context: Context, plan_task_id: str | None, service: str) -> dict[str, Any]:
    """The plan, after checking that ``service`` is part of this run (no plan task: always part)."""
    if plan_task_id is None:
        return {}
    plan = _plan(context, plan_task_id)
    if service not in plan.get("selected", ()):
        raise AirflowSkipException(f"service {service} is not part of this release run")
    return plan


def _documents(
    operator: BaseOperator,
    context: Context,
    manifest: str,
    images: Mapping[str, str] | None,
    replicas: int | None,
) -> list[dict[str, Any]]:
    from podium.release.plan import desired_documents

    documents = load_manifest(manifest, lambda text: operator.render_template(text, context))
    try:
        return desired_documents(documents, images or {}, replicas, manifest)
    except (KeyError, ValueError) as error:
        raise PermanentError(str(error.args[0])) from error


@overload
def _unmarked(obj: dict[str, Any]) -> dict[str, Any]: ...
@overload
def _unmarked(obj: None) -> None: ...
def _unmarked(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    """``obj`` without podium's bookkeeping annotations (rollout id, previous revision), for diffs."""
    if not obj:
        return obj
    meta = dict(obj.get("metadata") or {})
    meta["annotations"] = {
        k: v for k, v in (meta.get("annotations") or {}).items() if not k.startswith("podium.dev/")
    }
    return {**obj, "metadata": meta}


class ReleasePlanOperator(KubernetesBaseOperator, SkipMixin):
    """Decide what this run releases and record what runs now; with ``dry_run``, diff and stop there.

    The selection is the trigger form's ``services`` plus everything they depend on. For each selected
    service it records the live workload (images, revision, and the name of the ReplicaSet or
    ControllerRevision holding its template), which is what the rollback returns to. With
    ``params.dry_run`` it sends every change to the API server as a server-side dry run, logs the diff,
    returns it, and skips every other task: nothing changes.

    :param services: ``{name: {"depends_on", "kind", "name", "manifests", "images", "replicas"}}`` in
        dependency order; ``images`` are templated (the tags come from the trigger form).
    """

    template_fields: Sequence[str] = ("services", "namespace", "kubernetes_conn_id")
    ui_color = "#e8f0fe"
    inherits_from_skipmixin = True

    def __init__(self, *, services: dict[str, dict[str, Any]], **kwargs: Any) -> None:
        super().__init__(deferrable=False, **kwargs)
        self.services = services

    def execute(self, context: Context) -> dict[str, Any]:
        from podium.release.graph import with_dependencies
        from podium.release.plan import snapshot, target_workload

        params = context["params"]
        graph = {name: list(s["depends_on"]) for name, s in self.services.items()}
        asked = list(params.get("services") or graph)
        unknown = sorted(set(asked) - set(graph))
        if unknown:
            raise PermanentError(f"unknown services {unknown}; this release has {sorted(graph)}")
        chosen = with_dependencies(asked, graph)
        selected = [name for name in graph if name in chosen]
        added = sorted(chosen - set(asked))
        self.log.info("releasing %s", ", ".join(selected))
        if added:
            self.log.info("added because selected services depend on them: %s", ", ".join(added))

        hook = self.hook()
        namespace = self.resolve_namespace(hook)
        dry_run = bool(params.get("dry_run"))
        snapshots: dict[str, Any] = {}
        desired: dict[str, list[dict[str, Any]]] = {}
        for name in graph:  # every service, selected or not: the report and the ledger show all
            service = self.services[name]
            if service.get("manifests"):
                desired[name] = _documents(
                    self, context, service["manifests"], service["images"], service.get("replicas")
                )
                target = target_workload(desired[name], service["manifests"])
                kind, workload = target["kind"], target["metadata"]["name"]
            else:
                kind, workload = service["kind"], service["name"]
            live = hook.get(WORKLOAD_API[kind], kind, workload, namespace)
            state = snapshot(live, workload_history(hook, live) if live else [])
            snapshots[name] = {"kind": kind, "name": workload, "namespace": namespace, **state}
            self.log.info(
                "%s: %s/%s %s", name, kind.lower(), workload, state["images"] or "does not exist yet"
            )
        plan = {"selected": selected, "added": added, "snapshot": snapshots, "dry_run": dry_run}
        if dry_run:
            plan["diffs"] = self._dry_run(hook, namespace, selected, desired, snapshots)
            self.log.info("dry run: nothing was changed; skipping every other task")
            # skip() ends the task (it raises to hand the skips over), so the plan is pushed first
            context["ti"].xcom_push(key="return_value", value=plan)
            self.skip(ti=context["ti"], tasks=list(context["task"].get_flat_relatives(upstream=False)))
        else:
            hook.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        return plan

    def _dry_run(
        self,
        hook: PodiumKubernetesHook,
        namespace: str,
        selected: list[str],
        desired: dict[str, list[dict[str, Any]]],
        snapshots: dict[str, Any],
    ) -> dict[str, str]:
        from podium.release.plan import set_images
        from podium.rollout.manifests import diff, ref_text, with_namespace

        diffs: dict[str, str] = {}
        namespace_exists = hook.get("v1", "Namespace", namespace, None) is not None
        for name in selected:
            service, snap = self.services[name], snapshots[name]
            parts = []
            if name in desired:
                for doc in desired[name]:
                    doc = with_namespace(doc, namespace)
                    meta = doc["metadata"]
                    live = hook.get(doc["apiVersion"], doc["kind"], meta["name"], meta.get("namespace"))
                    # the server cannot dry-run into a namespace that does not exist yet
                    proposed = hook.apply(doc, dry_run=True) if namespace_exists else doc
                    parts.append(diff(_unmarked(live), _unmarked(proposed), ref_text(doc)))
            else:
                live = hook.get(WORKLOAD_API[snap["kind"]], snap["kind"], snap["name"], namespace)
                if live is None:
                    raise PermanentError(
                        f"{name}: {snap['kind'].lower()}/{snap['name']} does not exist in {namespace}"
                    )
                parts.append(
                    diff(live, set_images(live, service["images"]), f"{snap['kind'].lower()}/{name}")
                )
            text = "\n".join(p for p in parts if p)
            diffs[name] = text
            self.log.info("%s: %s\n%s", name, "would change" if text else "no change", text)
        return diffs


class ReleaseRolloutOperator(KubernetesRolloutOperator):
    """A service's rollout inside a release: its images (tag from the trigger form) on its workload.

    Unlike a standalone rollout it does not roll back on failure: the release's rollback task returns
    every service this run changed, in reverse dependency order, once everything has stopped.

    :param service: the service's name in the release spec.
    :param image_overrides: ``{container: image}`` (templated) set on the workload of ``manifest``.
    :param replicas: replicas set on the workload of ``manifest``.
    """

    template_fields: Sequence[str] = (*KubernetesRolloutOperator.template_fields, "image_overrides")

    def __init__(
        self,
        *,
        service: str,
        plan_task_id: str = "plan",
        manifest: str | None = None,
        workload: str | None = None,
        image_overrides: dict[str, str],
        replicas: int | None = None,
        **kwargs: Any,
    ) -> None:
        if manifest is not None:
            super().__init__(manifest=manifest, rollback_on_failure=False, **kwargs)
            self.image_overrides: dict[str, str] | None = image_overrides
        else:
            super().__init__(workload=workload, images=image_overrides, rollback_on_failure=False, **kwargs)
            self.image_overrides = None
        self.service = service
        self.plan_task_id = plan_task_id
        self.replicas = replicas

    def execute(self, context: Context) -> Any:
        _skip_unless_selected(context, self.plan_task_id, self.service)
        if self.image_overrides is not None:
            self.manifest = _documents(self, context, self.manifest, self.image_overrides, self.replicas)
        return super().execute(context)


def _job_name(base: str, context: Context) -> str:
    """One Job per (run, task): retries of a run find their Job, another run starts a new one."""
    ti = context["ti"]
    digest = hashlib.sha1(f"{ti.dag_id}/{ti.run_id}/{ti.task_id}".encode()).hexdigest()[:8]
    return f"{base[:54].rstrip('-')}-{digest}"


def describe_job_pods(pods: Sequence[Mapping[str, Any]]) -> str:
    """Why a Job's pods failed, in words: pod, phase, container and reason."""
    parts = []
    for pod in pods:
        status = pod.get("status") or {}
        reasons = []
        for container in status.get("containerStatuses") or []:
            state = container.get("state") or {}
            for key in ("terminated", "waiting"):
                if state.get(key):
                    detail = state[key]
                    code = f" exit code {detail['exitCode']}" if "exitCode" in detail else ""
                    reasons.append(f"{container.get('name')} {detail.get('reason') or key}{code}")
        parts.append(f"pod {pod['metadata']['name']} {status.get('phase', '?')}: {', '.join(reasons) or '-'}")
    return "; ".join(parts) or "no pods"


class ReleaseJobOperator(KubernetesBaseOperator):
    """Run a Kubernetes Job (a pre-deploy migration or a smoke test) to completion.

    The Job is named after the manifest's Job plus a hash of (DAG, run, task), so a retry finds and
    waits for the same Job and a new run starts a new one. Containers named like the service's
    containers run the service's new images. Fails naming the Job's pods and reasons.

    :param job: a manifest (path relative to include/) holding one Job (templated).
    :param image_overrides: ``{container: image}`` to set on the Job's containers of those names.
    """

    template_fields: Sequence[str] = ("job", "image_overrides", "namespace", "timeout", "kubernetes_conn_id")
    ui_color = "#fff4cc"

    def __init__(
        self,
        *,
        service: str,
        job: str,
        plan_task_id: str | None = "plan",
        image_overrides: dict[str, str] | None = None,
        poll_interval: float = 2,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.service = service
        self.job = job
        self.plan_task_id = plan_task_id
        self.image_overrides = image_overrides
        self.poll_interval = poll_interval

    def execute(self, context: Context) -> dict[str, Any]:
        from podium.rollout.manifests import with_namespace

        _skip_unless_selected(context, self.plan_task_id, self.service)
        hook = self.hook()
        namespace = self.resolve_namespace(hook)
        jobs = [
            d
            for d in load_manifest(self.job, lambda text: self.render_template(text, context))
            if d.get("kind") == "Job"
        ]
        if len(jobs) != 1:
            raise PermanentError(f"{self.job} must hold exactly one Job (found {len(jobs)})")
        doc = with_namespace(jobs[0], namespace)
        containers = ((doc.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or []
        for container in containers:
            if container.get("name") in (self.image_overrides or {}):
                container["image"] = (self.image_overrides or {})[container["name"]]
        name = _job_name(doc["metadata"]["name"], context)
        doc["metadata"]["name"] = name
        if hook.get("batch/v1", "Job", name, namespace) is None:
            hook.apply(doc)
            self.log.info("created job/%s in %s", name, namespace)
        else:
            self.log.info("job/%s exists (an earlier try of this run): waiting for it", name)
        deadline = time.monotonic() + float(self.timeout)
        while True:
            live = hook.get("batch/v1", "Job", name, namespace) or {}
            conditions = {
                c.get("type"): c
                for c in (live.get("status") or {}).get("conditions") or []
                if c.get("status") == "True"
            }
            if "Complete" in conditions:
                self.log.info("job/%s completed", name)
                return {"job": name, "namespace": namespace, "result": "Complete"}
            if "Failed" in conditions or time.monotonic() > deadline:
                pods = hook.list("v1", "Pod", namespace, f"job-name={name}")
                failure = conditions.get("Failed") or {}
                why = (
                    f"failed ({failure.get('reason', '')}: {failure.get('message', '')})"
                    if failure
                    else f"did not complete within {self.timeout}s"
                )
                raise PermanentError(f"job/{name} in {namespace} {why}; {describe_job_pods(pods)}")
            time.sleep(self.poll_interval)


class ReleaseCheckOperator(KubernetesBaseOperator):
    """An HTTP health check or smoke test: GET until the expected status answers, or fail at the timeout.

    Give ``url`` (reached from the worker) or ``service`` (reached through the Kubernetes API server's
    service proxy: the same path works against any cluster the connection reaches).

    :param url: an http(s) URL (templated).
    :param service: a Service in the namespace (templated).
    :param port: the Service's port, number or name.
    :param path: the request path for ``service``.
    :param expected_status: the status that passes.
    :param check_timeout: seconds to keep trying.
    """

    template_fields: Sequence[str] = ("url", "service_name", "path", "namespace", "kubernetes_conn_id")
    ui_color = "#d9f2d9"

    def __init__(
        self,
        *,
        service: str,
        url: str | None = None,
        service_name: str | None = None,
        port: int | str | None = None,
        path: str = "/",
        expected_status: int = 200,
        check_timeout: float = 120,
        plan_task_id: str | None = "plan",
        poll_interval: float = 2,
        **kwargs: Any,
    ) -> None:
        super().__init__(deferrable=False, **kwargs)
        if (url is None) == (service_name is None):
            raise ValueError(f"{kwargs.get('task_id')}: give url= or service_name=")
        self.service = service
        self.url = url
        self.service_name = service_name
        self.port = port
        self.path = path
        self.expected_status = expected_status
        self.check_timeout = check_timeout
        self.plan_task_id = plan_task_id
        self.poll_interval = poll_interval

    def _get(self, hook: PodiumKubernetesHook | None, namespace: str) -> tuple[int, str]:
        if self.url is not None:
            try:
                with urllib.request.urlopen(self.url, timeout=10) as response:
                    return int(response.status), response.read(2048).decode("utf-8", "replace")
            except urllib.error.HTTPError as error:
                return int(error.code), error.read(2048).decode("utf-8", "replace")
            except (urllib.error.URLError, OSError) as error:
                return 0, str(getattr(error, "reason", error))
        assert hook is not None
        assert self.service_name is not None
        return hook.service_get(self.service_name, namespace, port=self.port, path=self.path)

    def execute(self, context: Context) -> dict[str, Any]:
        _skip_unless_selected(context, self.plan_task_id, self.service)
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise PermanentError(f"url must be http(s): {self.url!r}")
        hook = self.hook() if self.service_name is not None else None
        namespace = self.resolve_namespace(hook) if hook is not None else ""
        what = (
            self.url or f"service/{self.service_name}{':' + str(self.port) if self.port else ''}{self.path}"
        )
        deadline = time.monotonic() + float(self.check_timeout)
        attempts = 0
        while True:
            attempts += 1
            status, body = self._get(hook, namespace)
            if status == self.expected_status:
                self.log.info("%s answered %s (attempt %d)", what, status, attempts)
                return {"target": what, "status": status, "attempts": attempts}
            if time.monotonic() + self.poll_interval > deadline:
                raise PermanentError(
                    f"{what} answered {status or 'nothing'} (expected {self.expected_status}) for "
                    f"{self.check_timeout:g}s, {attempts} attempts; last answer: {body.strip()[:300]}"
                )
            self.log.info(
                "%s answered %s; trying again in %ss", what, status or "nothing", self.poll_interval
            )
            time.sleep(self.poll_interval)


def _states(context: Context) -> dict[str, dict[str, Any]]:
    """task_id -> {"state", "duration"} of this run's finished tasks."""
    ti = context["ti"]
    return {
        crumb["task_id"]: crumb
        for crumb in ti.get_task_breadcrumbs(dag_id=ti.dag_id, run_id=ti.run_id)  # type: ignore[attr-defined]
        if crumb.get("map_index", -1) == -1
    }


class ReleaseRollbackOperator(KubernetesBaseOperator):
    """When any service task failed: return every service this run changed, in reverse dependency order.

    "Changed" means the workload no longer runs the template recorded by the plan (compared by the name
    of its ReplicaSet/ControllerRevision, which rollbacks do not renumber). Each is rolled back and
    waited for before the next. Services the run created have no earlier revision: they are left and
    reported. Retrying converges: services already back are "unchanged".

    :param order: the services in dependency order.
    :param service_tasks: service -> its task ids.
    """

    ui_color = "#ffd9b3"

    def __init__(
        self,
        *,
        order: list[str],
        service_tasks: dict[str, list[str]],
        plan_task_id: str = "plan",
        **kwargs: Any,
    ) -> None:
        super().__init__(deferrable=False, **kwargs)
        self.order = order
        self.service_tasks = service_tasks
        self.plan_task_id = plan_task_id

    def execute(self, context: Context) -> list[dict[str, Any]]:
        from podium.release.plan import history_name, revision_named
        from podium.triggers.kubernetes import KubernetesRolloutTrigger, run_inline

        plan = _plan(context, self.plan_task_id)
        if not plan:
            raise AirflowSkipException("the plan did not run: nothing was changed")
        states = _states(context)
        failed = sorted(
            task_id
            for tasks in self.service_tasks.values()
            for task_id in tasks
            if (states.get(task_id) or {}).get("state") in FAILED
        )
        if not failed:
            raise AirflowSkipException("no service task failed: nothing to roll back")
        self.log.info("failed: %s; rolling back what this run changed", ", ".join(failed))
        hook = self.hook()
        results: list[dict[str, Any]] = []
        errors: list[str] = []
        for service in reversed(self.order):
            if service not in plan["selected"]:
                continue
            snap = plan["snapshot"][service]
            kind, name, namespace = snap["kind"], snap["name"], snap["namespace"]
            entry: dict[str, Any] = {"service": service, "workload": f"{kind.lower()}/{name}"}
            live = hook.get(WORKLOAD_API[kind], kind, name, namespace)
            if live is None:
                entry["action"] = "absent"
            elif not snap["exists"]:
                entry["action"] = "created by this run: no earlier revision, left in place"
            else:
                objects = workload_history(hook, live)
                if history_name(live, objects) == snap["history"]:
                    entry["action"] = "unchanged"
                else:
                    revision = revision_named(live, objects, snap["history"] or "")
                    if revision is None:
                        errors.append(
                            f"{service}: the revision before the release ({snap['history']}) is gone"
                        )
                        entry["action"] = "failed: previous revision gone"
                    else:
                        rollback_workload(hook, live, revision, self.log)
                        event = run_inline(
                            KubernetesRolloutTrigger(
                                kind=kind,
                                name=name,
                                namespace=namespace,
                                kubernetes_conn_id=self.kubernetes_conn_id,
                                timeout_at=time.time() + float(self.timeout),
                                pod_grace_seconds=float(self.pod_grace_seconds),
                            )
                        )
                        if event["status"] == "success":
                            entry["action"] = "rolled back"
                        else:
                            entry["action"] = f"rollback did not complete: {event['message']}"
                            errors.append(f"{service}: {entry['action']}")
                        entry["revision"] = revision
            self.log.info("%s: %s", service, entry["action"])
            results.append(entry)
        if errors:
            raise PermanentError("rollback incomplete: " + "; ".join(errors))
        return results


class ReleaseReportOperator(BaseOperator):
    """Log and return the release table (service, from, to, result, duration); record it in the ledger.

    The ledger is the release's Asset (``x-podium-release://<release>/<environment>``): each run adds an
    Asset event whose extra holds the run, its result and, per service, the version that runs now.
    """

    ui_color = "#f0f0f0"

    def __init__(
        self,
        *,
        release: str,
        environment: str,
        order: list[str],
        service_tasks: dict[str, list[str]],
        rollout_tasks: dict[str, str],
        plan_task_id: str = "plan",
        rollback_task_id: str = "rollback",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.release = release
        self.environment = environment
        self.order = order
        self.service_tasks = service_tasks
        self.rollout_tasks = rollout_tasks
        self.plan_task_id = plan_task_id
        self.rollback_task_id = rollback_task_id

    def execute(self, context: Context) -> list[dict[str, Any]]:
        from podium.release.plan import report_table, version_of

        ti = context["ti"]
        plan = _plan(context, self.plan_task_id)
        states = _states(context)
        rollback = {r["service"]: r for r in ti.xcom_pull(task_ids=self.rollback_task_id) or []}
        rows: list[dict[str, Any]] = []
        for service in self.order:
            snap = (plan.get("snapshot") or {}).get(service) or {}
            before = version_of(snap.get("images") or {}) if snap.get("exists") else "-"
            tasks = [states.get(t) or {} for t in self.service_tasks[service]]
            task_states = [t.get("state") for t in tasks]
            duration = sum(float(t.get("duration") or 0) for t in tasks) or None
            after = before
            if service not in plan.get("selected", ()):
                result = "not selected" if plan else "not started"
            elif "failed" in task_states:
                result = "failed"
            elif "upstream_failed" in task_states or None in task_states:
                result = "not started"
            else:
                rolled = ti.xcom_pull(task_ids=self.rollout_tasks[service]) or {}
                after = version_of(rolled.get("images") or {})
                same = rolled.get("revision") == snap.get("revision") and snap.get("exists")
                result = "unchanged" if same else "released"
            action = (rollback.get(service) or {}).get("action", "")
            if action == "rolled back":
                result += ", rolled back"
                after = before
            rows.append(
                {"service": service, "from": before, "to": after, "result": result, "duration": duration}
            )
        self.log.info(
            "release %s to %s, run %s:\n%s", self.release, self.environment, ti.run_id, report_table(rows)
        )
        failed = any(r["result"].startswith("failed") or "rolled back" in r["result"] for r in rows)
        for outlet in self.outlets:
            context["outlet_events"][outlet].extra = {
                "release": self.release,
                "environment": self.environment,
                "run_id": ti.run_id,
                "result": "failed" if failed else "succeeded",
                "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "services": {
                    r["service"]: {"version": r["to"], "from": r["from"], "result": r["result"]}
                    for r in rows
                    if r["to"] != "-"
                },
            }
        return rows


class ReleaseOutcomeOperator(BaseOperator):
    """The run's verdict: fails when any service failed (after the rollback has run and been reported)."""

    ui_color = "#f0f0f0"

    def __init__(self, *, report_task_id: str = "report", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.report_task_id = report_task_id

    def execute(self, context: Context) -> None:
        rows = context["ti"].xcom_pull(task_ids=self.report_task_id)
        if rows is None:
            raise PermanentError("the report did not run: see the failed tasks of this run")
        bad = [r for r in rows if r["result"].startswith("failed") or "rolled back" in r["result"]]
        if bad:
            raise PermanentError(
                "release failed: "
                + "; ".join(f"{r['service']} {r['result']}" for r in bad)
                + " (the failing task's log says which pod and why)"
            )
        self.log.info("release succeeded")
