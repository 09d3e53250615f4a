"""The tasks of a release DAG (built by podium.dagbuilders.release from a release spec).

plan -> [approve] -> per service: pre-deploy Jobs -> rollout -> health -> smoke -> rollback -> report
-> outcome. Every service task first asks the plan whether its service is part of this run (the
trigger form can pick a subset) and skips when it is not. This module holds the plan, the rollout, the
rollback, the report and the outcome; the Job and HTTP check tasks are in
:mod:`podium.operators.release_checks`. Their decisions are pure functions of
:mod:`podium.release.rules`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, overload

from airflow.sdk import BaseOperator
from airflow.sdk.bases.skipmixin import SkipMixin
from airflow.sdk.exceptions import AirflowSkipException

from podium.exceptions import PermanentError
from podium.kube.workloads import WORKLOAD_API
from podium.kubernetes.actions import load_manifest, record_known_good, rollback_workload, workload_history
from podium.operators.kubernetes import KubernetesBaseOperator, KubernetesRolloutOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from podium.hooks.kubernetes import PodiumKubernetesHook


def plan_of(context: Context, plan_task_id: str) -> dict[str, Any]:
    """The plan task's XCom (empty when it did not run)."""
    return context["ti"].xcom_pull(task_ids=plan_task_id) or {}


def skip_unless_selected(context: Context, plan_task_id: str | None, service: str) -> dict[str, Any]:
    """The plan, after checking that ``service`` is part of this run (no plan task: always part)."""
    if plan_task_id is None:
        return {}
    plan = plan_of(context, plan_task_id)
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


def refuse_deferrable(kwargs: dict[str, Any], why: str) -> None:
    """For tasks that never defer: ``deferrable=True`` is an error, not a setting silently ignored
    (``[operators] default_deferrable`` does not apply to them)."""
    if kwargs.pop("deferrable", False):
        raise ValueError(f"{kwargs.get('task_id')}: deferrable=True is not supported: {why}")


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

    The selection is the trigger form's ``services`` plus everything they depend on. For each service
    it records the live workload (images, revision, and the name of the ReplicaSet or
    ControllerRevision holding its template) and its rollback target (the live version if it is fully
    rolled out, else its last known good one; the log says when a service is mid-change), which is what
    the rollback returns to. With ``params.dry_run`` it sends every change to the API server as a
    server-side dry run, logs the diff, returns it, and skips every other task: nothing changes.

    It waits for nothing, so it never defers (``deferrable=True`` is refused).

    :param services: ``{name: {"depends_on", "kind", "name", "manifests", "images", "replicas"}}`` in
        dependency order; ``images`` are templated (the tags come from the trigger form).
    """

    template_fields: Sequence[str] = ("services", "namespace", "kubernetes_conn_id")
    ui_color = "#e8f0fe"
    inherits_from_skipmixin = True

    def __init__(self, *, services: dict[str, dict[str, Any]], **kwargs: Any) -> None:
        refuse_deferrable(kwargs, "the plan waits for nothing")
        super().__init__(deferrable=False, **kwargs)
        self.services = services

    def execute(self, context: Context) -> dict[str, Any]:
        import datetime as dt

        from podium.kube.known_good import timestamp
        from podium.release.plan import snapshot, target_workload
        from podium.release.rules import select_services

        params = context["params"]
        graph = {name: list(s["depends_on"]) for name, s in self.services.items()}
        selection = select_services(params.get("services"), graph)
        error = selection.error(graph)
        if error:
            raise PermanentError(error)
        selected, added = list(selection.selected), list(selection.added)
        self.log.info("releasing %s", ", ".join(selected))
        if added:
            self.log.info("added because selected services depend on them: %s", ", ".join(added))

        hook = self.hook()
        namespace = self.resolve_namespace(hook)
        dry_run = bool(params.get("dry_run"))
        now = timestamp(dt.datetime.now(dt.UTC))
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
            state = snapshot(live, workload_history(hook, live) if live else [], now=now)
            snapshots[name] = {"kind": kind, "name": workload, "namespace": namespace, **state}
            self.log.info(
                "%s: %s/%s %s", name, kind.lower(), workload, state["images"] or "does not exist yet"
            )
            if name in selected:
                self._log_target(name, state["target"])
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

    def _log_target(self, service: str, recorded: dict[str, Any]) -> None:
        """Say what a failure of this release returns ``service`` to, and whether the release starts on
        an unfinished change of it (before anything changes)."""
        from podium.kube.known_good import RollbackTarget

        target = RollbackTarget.from_dict(recorded)
        if target.first_rollout:
            return
        if target.unfinished:
            self.log.warning("%s: %s", service, target.unfinished_text())
        self.log.info("%s: rollback target: %s", service, target.describe())

    def _dry_run(
        self,
        hook: PodiumKubernetesHook,
        namespace: str,
        selected: list[str],
        desired: dict[str, list[dict[str, Any]]],
        snapshots: dict[str, Any],
    ) -> dict[str, str]:
        from podium.kube.manifests import diff, ref_text, with_namespace
        from podium.release.plan import set_images

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
        skip_unless_selected(context, self.plan_task_id, self.service)
        if self.image_overrides is not None:
            self.manifest = _documents(self, context, self.manifest, self.image_overrides, self.replicas)
        return super().execute(context)


def task_states(context: Context) -> dict[str, dict[str, Any]]:
    """task_id -> {"state", "duration"} of this run's finished tasks."""
    ti = context["ti"]
    return {
        crumb["task_id"]: crumb
        for crumb in ti.get_task_breadcrumbs(dag_id=ti.dag_id, run_id=ti.run_id)  # type: ignore[attr-defined]
        if crumb.get("map_index", -1) == -1
    }


class ReleaseRollbackOperator(KubernetesBaseOperator):
    """When any service task failed: return every service of this run to its rollback target, in
    reverse dependency order.

    The plan recorded each service's rollback target before anything changed: the version it ran if
    that was fully rolled out, else its last known good version (a release started on top of a crashed
    or failed one returns to the last version that was healthy, not to the unfinished one). A workload
    that no longer runs its target (compared by the name of its ReplicaSet/ControllerRevision, which
    rollbacks do not renumber) is rolled back and waited for before the next, and the version is then
    recorded as its last known good. Services the run created, or that were never healthy, have nothing
    to return to: they are left and reported. Retrying converges: services already back are
    "unchanged". The decisions are :func:`podium.release.rules.rollback_decision`'s.

    The waits run inline in the worker (the rollout trigger, one service after the other, so the
    order holds): this task never defers. ``deferrable=True`` is refused, and ``[operators]
    default_deferrable`` does not apply to it.

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
        refuse_deferrable(kwargs, "the rollback waits for each service in turn, in the worker")
        super().__init__(deferrable=False, **kwargs)
        self.order = order
        self.service_tasks = service_tasks
        self.plan_task_id = plan_task_id

    def execute(self, context: Context) -> list[dict[str, Any]]:
        from podium.release.rules import failed_tasks

        plan = plan_of(context, self.plan_task_id)
        if not plan:
            raise AirflowSkipException("the plan did not run: nothing was changed")
        failed = failed_tasks(self.service_tasks, task_states(context))
        if not failed:
            raise AirflowSkipException("no service task failed: nothing to roll back")
        self.log.info(
            "failed: %s; returning every service of this run to its rollback target", ", ".join(failed)
        )
        hook = self.hook()
        ti = context["ti"]
        rollout_id = f"{ti.dag_id}/{ti.run_id}/{ti.task_id}"
        results: list[dict[str, Any]] = []
        errors: list[str] = []
        for service in reversed(self.order):
            if service not in plan["selected"]:
                continue
            entry, error = self._roll_back(hook, service, plan["snapshot"][service], rollout_id)
            if error:
                errors.append(error)
            self.log.info("%s: %s", service, entry["action"])
            results.append(entry)
        if errors:
            raise PermanentError("rollback incomplete: " + "; ".join(errors))
        return results

    def _roll_back(
        self, hook: PodiumKubernetesHook, service: str, snap: dict[str, Any], rollout_id: str
    ) -> tuple[dict[str, Any], str | None]:
        """Return one service to the rollback target the plan recorded; its report entry and error."""
        from podium.release.rules import rollback_decision, rollback_outcome

        kind, name, namespace = snap["kind"], snap["name"], snap["namespace"]
        live = hook.get(WORKLOAD_API[kind], kind, name, namespace)
        history = workload_history(hook, live) if live is not None and snap["exists"] else []
        decision = rollback_decision(service, snap, live, history)
        if live is not None and decision.revision is not None:
            if decision.why:
                self.log.info("%s: %s", service, decision.why)
            rollback_workload(hook, live, decision.revision, self.log)
            event = self._wait_inline(kind, name, namespace)
            decision = rollback_outcome(service, decision, event["status"], event["message"])
            if event["status"] == "success":
                self._record(hook, kind, name, namespace, rollout_id)
        entry: dict[str, Any] = {
            "service": service,
            "workload": f"{kind.lower()}/{name}",
            "action": decision.action,
        }
        if decision.revision is not None:
            entry["revision"] = decision.revision
        if decision.version is not None:
            entry["version"] = decision.version
        return entry, decision.error

    def _record(
        self, hook: PodiumKubernetesHook, kind: str, name: str, namespace: str, rollout_id: str
    ) -> None:
        live = hook.get(WORKLOAD_API[kind], kind, name, namespace)
        if live is not None:
            record_known_good(hook, live, rollout_id, self.log)

    def _wait_inline(self, kind: str, name: str, namespace: str) -> dict[str, Any]:
        from podium.triggers.kubernetes import KubernetesRolloutTrigger, run_inline

        return run_inline(
            KubernetesRolloutTrigger(
                kind=kind,
                name=name,
                namespace=namespace,
                kubernetes_conn_id=self.kubernetes_conn_id,
                timeout_at=time.time() + float(self.timeout),
                pod_grace_seconds=float(self.pod_grace_seconds),
            )
        )


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
        from podium.release.plan import report_table
        from podium.release.rules import ledger_entry, report_rows

        ti = context["ti"]
        plan = plan_of(context, self.plan_task_id)
        selected = plan.get("selected") or ()
        rows = report_rows(
            self.order,
            plan,
            task_states(context),
            self.service_tasks,
            rollouts={s: ti.xcom_pull(task_ids=self.rollout_tasks[s]) for s in self.order if s in selected},
            rollbacks={r["service"]: r for r in ti.xcom_pull(task_ids=self.rollback_task_id) or []},
        )
        self.log.info(
            "release %s to %s, run %s:\n%s", self.release, self.environment, ti.run_id, report_table(rows)
        )
        finished_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        for outlet in self.outlets:
            context["outlet_events"][outlet].extra = ledger_entry(
                self.release, self.environment, ti.run_id, rows, finished_at
            )
        return rows


class ReleaseOutcomeOperator(BaseOperator):
    """The run's verdict: fails when any service failed (after the rollback has run and been reported)."""

    ui_color = "#f0f0f0"

    def __init__(self, *, report_task_id: str = "report", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.report_task_id = report_task_id

    def execute(self, context: Context) -> None:
        from podium.release.rules import outcome_error

        rows = context["ti"].xcom_pull(task_ids=self.report_task_id)
        if rows is None:
            raise PermanentError("the report did not run: see the failed tasks of this run")
        error = outcome_error(rows)
        if error:
            raise PermanentError(error)
        self.log.info("release succeeded")
