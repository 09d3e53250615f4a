"""Kubernetes operators: apply manifests, roll out (rolling back on failure), roll back, scale.

Every wait runs the same KubernetesRolloutTrigger: in the triggerer when ``deferrable=True`` (no
worker slot held), inline in the worker otherwise. The verdicts are podium.kube.status's, the
same as `kubectl rollout status`, plus early failure when pods of the new revision are stuck.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from podium.exceptions import PermanentError, TransientError
from podium.kube.workloads import WORKLOAD_API, parse_workload, workload_text
from podium.kubernetes.actions import (
    carried_target,
    load_manifest,
    record_known_good,
    rollback_to_version,
    rollback_workload,
    run_rollback_target,
    workload_history,
)
from podium.settings import default_deferrable

if TYPE_CHECKING:
    from airflow.sdk import Context
    from airflow.triggers.base import BaseTrigger

    from podium.hooks.kubernetes import PodiumKubernetesHook
    from podium.triggers.kubernetes import KubernetesRolloutTrigger


class KubernetesBaseOperator(BaseOperator):
    """What podium's Kubernetes operators share: connection, namespace, waiting, deferral.

    Every wait goes through :meth:`wait`: one :class:`~podium.triggers.kubernetes.KubernetesRolloutTrigger`,
    deferred to the triggerer when ``deferrable`` (default ``[operators] default_deferrable``), run
    inline in the worker otherwise.

    :param kubernetes_conn_id: a cncf.kubernetes connection (templated).
    :param namespace: default: the connection's namespace, else ``default`` (templated).
    :param timeout: seconds to wait (templated where the operator lists it).
    :param pod_grace_seconds: how long a new pod may be stuck before the rollout fails early.
    :param deferrable: wait in the triggerer instead of a worker slot.
    """

    def __init__(
        self,
        *,
        kubernetes_conn_id: str = "kubernetes_default",
        namespace: str | None = None,
        timeout: float = 600,
        pod_grace_seconds: float = 60,
        deferrable: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.kubernetes_conn_id = kubernetes_conn_id
        self.namespace = namespace
        self.timeout = timeout
        self.pod_grace_seconds = pod_grace_seconds
        self.deferrable = default_deferrable() if deferrable is None else deferrable

    def hook(self) -> PodiumKubernetesHook:
        from podium.hooks.kubernetes import PodiumKubernetesHook

        return PodiumKubernetesHook(conn_id=self.kubernetes_conn_id)

    def resolve_namespace(self, hook: PodiumKubernetesHook) -> str:
        return self.namespace or hook.get_namespace() or "default"

    def wait(
        self,
        context: Context,
        target: dict[str, str],
        method_name: str,
        *,
        replicas_between: list[int] | None = None,
        **carry: Any,
    ) -> Any:
        """Wait for the target's rollout, then continue in ``method_name(context, event)``.

        ``target`` and ``carry`` come back in ``event["carry"]`` (the trigger echoes them) whether the
        trigger ran in the triggerer or inline.
        """
        from podium.triggers.kubernetes import KubernetesRolloutTrigger

        trigger: KubernetesRolloutTrigger = KubernetesRolloutTrigger(
            kind=target["kind"],
            name=target["name"],
            namespace=target["namespace"],
            kubernetes_conn_id=self.kubernetes_conn_id,
            timeout_at=time.time() + float(self.timeout),
            pod_grace_seconds=float(self.pod_grace_seconds),
            replicas_between=replicas_between,
            carry={"target": target, **carry},
        )
        return self.defer_or_run(context, trigger, method_name, float(self.timeout))

    def defer_or_run(self, context: Context, trigger: BaseTrigger, method_name: str, seconds: float) -> Any:
        """The one wait pattern: defer ``trigger`` to the triggerer when ``deferrable``, else run it
        inline in the worker; either way ``method_name(context, event)`` resumes with its event.

        A deferred trigger holds an early event until ``[podium] defer_settle_seconds`` after the
        deferral (:func:`podium.settings.defer_settle_seconds` says why); ``seconds`` is the wait's
        own timeout, the deferral's is 120 s longer.
        """
        from podium.triggers.kubernetes import run_inline

        if self.deferrable:
            from podium.settings import defer_settle_seconds

            trigger.not_before = time.time() + defer_settle_seconds()  # type: ignore[attr-defined]
            self.defer(trigger=trigger, method_name=method_name, timeout=timedelta(seconds=seconds + 120))
        return getattr(self, method_name)(context, run_inline(trigger))


class KubernetesApplyOperator(KubernetesBaseOperator):
    """Server-side apply manifests (field manager ``podium``) in a safe order.

    Namespaces and CRDs first, then config and RBAC, Services, workloads, and the rest. With
    ``dry_run=True`` the server validates every document and the task logs a diff of what would
    change; nothing is changed.

    :param manifest: a dict, a list of dicts, YAML text (several documents allowed) or a path relative
        to include/ (templated; files are Jinja-rendered with the task context).
    :param namespace: for documents that name none (templated); default: the connection's, else default.
    :param dry_run: server-side dry run and a readable diff (templated).
    :return: references (apiVersion, kind, name, namespace) of what was applied.
    """

    template_fields: Sequence[str] = ("manifest", "namespace", "server_dry_run", "kubernetes_conn_id")
    ui_color = "#d5e8f7"

    def __init__(self, *, manifest: Any, dry_run: bool | str = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.manifest = manifest
        self.server_dry_run = dry_run  # BaseOperator.dry_run is a method

    def execute(self, context: Context) -> list[dict[str, Any]]:
        from podium.kube.manifests import diff, ref, ref_text, sort_for_apply, with_namespace

        hook = self.hook()
        namespace = self.resolve_namespace(hook)
        documents = [
            with_namespace(d, namespace)
            for d in sort_for_apply(
                load_manifest(self.manifest, lambda text: self.render_template(text, context))
            )
        ]
        dry_run = str(self.server_dry_run).lower() in ("true", "1", "yes")
        new_namespaces: set[str] = set()
        for doc in documents:
            meta = doc["metadata"]
            if not dry_run:
                hook.apply(doc)
                self.log.info("applied %s", ref_text(doc))
                continue
            if meta.get("namespace") in new_namespaces:
                # the server cannot dry-run into a namespace that only this bundle creates
                self.log.info(
                    "%s: would be created (in the new namespace %s)\n%s",
                    ref_text(doc),
                    meta["namespace"],
                    diff(None, doc, ref_text(doc)),
                )
                continue
            live = hook.get(doc["apiVersion"], doc["kind"], meta["name"], meta.get("namespace"))
            proposed = hook.apply(doc, dry_run=True)
            if live is None and doc["kind"] == "Namespace":
                new_namespaces.add(meta["name"])
            change = diff(live, proposed, ref_text(doc))
            state = "would be created" if live is None else ("would change" if change else "unchanged")
            self.log.info("%s: %s\n%s", ref_text(doc), state, change)
        return [ref(doc) for doc in documents]


class KubernetesRolloutOperator(KubernetesBaseOperator):
    """Roll a workload out and wait: it is either fully rolled out, or rolled back and the task says why.

    Give ``manifest`` (applied as KubernetesApplyOperator does; it must hold exactly one Deployment,
    StatefulSet or DaemonSet, or name it with ``workload``) or ``workload`` plus ``images`` to roll an
    existing workload to new images. On failure (progress deadline, pods of the new revision stuck in
    CrashLoopBackOff/ImagePullBackOff/... beyond ``pod_grace_seconds``, or ``timeout``) it rolls back to
    its rollback target, waits for that, and fails naming pods and reasons, the version it returned to
    and why.

    The rollback target is decided before anything changes (:func:`podium.kube.known_good.rollback_target`):
    the version live when the run starts if that is fully rolled out; otherwise (the run starts on an
    unfinished change, and says so in its log) the workload's last known good version, the one the
    last successful rollout or rollback recorded in ``podium.dev/last-known-good``; none on a first
    rollout (it fails without rolling back). A success records the version it made healthy there.

    Retries are safe: the rollback target of the first try is kept in the workload's annotations; a
    target already rolled out succeeds without re-applying, one in progress is waited for.

    :param manifest: dict, list, YAML text or path relative to include/ (templated).
    :param workload: ``deployment/NAME`` (``statefulset/``, ``daemonset/``) (templated).
    :param images: ``{container: image}`` to set on ``workload`` (templated).
    :param namespace: default: the connection's namespace, else ``default`` (templated).
    :param timeout: seconds to wait for the rollout (templated).
    :param rollback_on_failure: roll back when the rollout fails.
    :param pod_grace_seconds: how long a new pod may be stuck before the rollout fails early.
    :param deferrable: wait in the triggerer instead of a worker slot.
    :return: ``{"kind", "name", "namespace", "revision", "previous_revision", "images"}``.
    """

    template_fields: Sequence[str] = (
        "manifest",
        "workload",
        "images",
        "namespace",
        "timeout",
        "kubernetes_conn_id",
    )
    ui_color = "#c6e2ff"

    def __init__(
        self,
        *,
        manifest: Any = None,
        workload: str | None = None,
        images: dict[str, str] | None = None,
        rollback_on_failure: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if manifest is None and not (workload and images):
            raise ValueError(f"{kwargs.get('task_id')}: give manifest=, or workload= with images=")
        if manifest is not None and images:
            raise ValueError(f"{kwargs.get('task_id')}: give manifest= or images=, not both")
        self.manifest = manifest
        self.workload = workload
        self.images = images
        self.rollback_on_failure = rollback_on_failure

    def _target(self, documents: list[dict[str, Any]]) -> dict[str, Any]:
        wanted = parse_workload(self.workload) if self.workload else None
        candidates = [
            d
            for d in documents
            if d["kind"] in WORKLOAD_API and (wanted is None or (d["kind"], d["metadata"]["name"]) == wanted)
        ]
        if len(candidates) != 1:
            found = ", ".join(f"{d['kind'].lower()}/{d['metadata']['name']}" for d in candidates) or "none"
            raise PermanentError(
                f"the manifest must hold exactly one workload to roll out (found: {found}); "
                "name it with workload="
            )
        return candidates[0]

    def _documents(self, context: Context, namespace: str) -> list[dict[str, Any]]:
        from podium.kube.manifests import sort_for_apply, with_namespace

        if self.manifest is None:
            return []
        return [
            with_namespace(d, namespace)
            for d in sort_for_apply(
                load_manifest(self.manifest, lambda text: self.render_template(text, context))
            )
        ]

    def _apply(
        self,
        hook: PodiumKubernetesHook,
        documents: list[dict[str, Any]],
        target_doc: dict[str, Any],
        live: dict[str, Any] | None,
        marks: dict[str, str],
    ) -> None:
        from podium.kube.manifests import comparable

        for doc in documents:
            if doc is target_doc:
                doc["metadata"].setdefault("annotations", {}).update(marks)
                proposed = hook.apply(doc, dry_run=True)
                if live is not None and comparable(proposed) == comparable(live):
                    self.log.info(
                        "%s/%s already matches the manifest: not re-applying",
                        doc["kind"].lower(),
                        doc["metadata"]["name"],
                    )
                    continue
            hook.apply(doc)
            self.log.info("applied %s/%s", doc["kind"].lower(), doc["metadata"]["name"])

    def _set_images(
        self,
        hook: PodiumKubernetesHook,
        live: dict[str, Any] | None,
        target: dict[str, str],
        marks: dict[str, str],
    ) -> None:
        from podium.kube.revisions import images_of, images_patch

        kind, name, namespace = target["kind"], target["name"], target["namespace"]
        if live is None:
            raise PermanentError(
                f"{kind.lower()}/{name} does not exist in namespace {namespace}: images= "
                "rolls an existing workload; give manifest= to create it"
            )
        wanted = dict(self.images or {})
        try:
            patch = images_patch(live, wanted)
        except KeyError as error:
            raise PermanentError(f"{kind.lower()}/{name}: {error.args[0]}") from error
        annotations = (live.get("metadata") or {}).get("annotations") or {}
        current = {k: v for k, v in images_of(live).items() if k in wanted}
        if current != wanted or any(annotations.get(k) != v for k, v in marks.items()):
            patch["metadata"] = {"annotations": marks}
            hook.patch(WORKLOAD_API[kind], kind, name, namespace, patch)
            self.log.info("set %s/%s images: %s", kind.lower(), name, wanted)

    def execute(self, context: Context) -> Any:
        hook = self.hook()
        namespace = self.resolve_namespace(hook)
        ti = context["ti"]
        rollout_id = f"{ti.dag_id}/{ti.run_id}/{ti.task_id}"
        documents = self._documents(context, namespace)
        target_doc = self._target(documents) if documents else None
        if target_doc is not None:
            kind, name = target_doc["kind"], target_doc["metadata"]["name"]
            namespace = target_doc["metadata"].get("namespace") or namespace
        else:
            kind, name = parse_workload(str(self.workload))
        target = {"kind": kind, "name": name, "namespace": namespace}
        live = hook.get(WORKLOAD_API[kind], kind, name, namespace)
        what = workload_text(kind, name, namespace)
        rollback, marks = run_rollback_target(hook, live, rollout_id, what, self.log)
        if target_doc is not None:
            self._apply(hook, documents, target_doc, live, marks)
        else:
            self._set_images(hook, live, target, marks)
        return self.wait(
            context,
            target,
            "execute_complete",
            previous_revision=rollback.version.revision if rollback.version else None,
            rollback_target=rollback.as_dict(),
            rollout_id=rollout_id,
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        from podium.kube.revisions import current_revision, images_of

        carry = event["carry"]
        target, previous_revision = carry["target"], carry["previous_revision"]
        hook = self.hook()
        what = workload_text(target["kind"], target["name"], target["namespace"])
        live = hook.get(WORKLOAD_API[target["kind"]], target["kind"], target["name"], target["namespace"])
        if event["status"] == "success":
            self.log.info("%s: %s", what, event["message"])
            assert live is not None
            record_known_good(hook, live, carry.get("rollout_id"), self.log)
            return {
                **target,
                "revision": current_revision(live, workload_history(hook, live)),
                "previous_revision": previous_revision,
                "images": images_of(live),
            }
        failure = event["message"]
        if event.get("transient"):
            # the Kubernetes API kept failing: the rollout's fate is unknown, so nothing is rolled
            # back; Airflow's retry resumes this same rollout (its id is on the workload)
            raise TransientError(f"waiting for the rollout of {what} failed: {failure}")
        self.log.error("rollout of %s failed: %s", what, failure)
        if not self.rollback_on_failure or live is None:
            raise PermanentError(f"rollout of {what} failed: {failure}")
        rollback = carried_target(hook, live, carry)
        if rollback.version is None:
            raise PermanentError(f"rollout of {what} failed: {failure}. {rollback.nothing_to_roll_back_to()}")
        self.log.info("%s: %s", what, rollback.describe())
        try:
            revision = rollback_to_version(hook, live, rollback.version, self.log)
        except PermanentError as error:
            raise PermanentError(
                f"rollout of {what} failed: {failure}. {rollback.reason()}; {error}"
            ) from error
        return self.wait(
            context,
            target,
            "rollback_complete",
            failure=failure,
            rollback_target=rollback.as_dict(),
            revision=revision,
            rollout_id=carry.get("rollout_id"),
        )

    def rollback_complete(self, context: Context, event: dict[str, Any]) -> Any:
        from podium.kube.known_good import RollbackTarget

        carry = event["carry"]
        target, failure, revision = carry["target"], carry["failure"], carry["revision"]
        rollback = RollbackTarget.from_dict(carry["rollback_target"])
        what = workload_text(target["kind"], target["name"], target["namespace"])
        why = rollback.describe(revision)
        if event["status"] == "success":
            hook = self.hook()
            live = hook.get(WORKLOAD_API[target["kind"]], target["kind"], target["name"], target["namespace"])
            if live is not None:
                record_known_good(hook, live, carry.get("rollout_id"), self.log)
            raise PermanentError(
                f"rollout of {what} failed: {failure}. {why}. Rolled back to revision {revision}."
            )
        raise PermanentError(
            f"rollout of {what} failed: {failure}. {why}. The rollback to revision {revision} "
            f"did not complete either: {event['message']}"
        )


class KubernetesRollbackOperator(KubernetesBaseOperator):
    """Roll a workload back (`kubectl rollout undo` semantics) and wait for it; once it is rolled out,
    the version it returned to is recorded as the workload's last known good.

    :param workload: ``deployment/NAME``, ``statefulset/NAME`` or ``daemonset/NAME`` (templated).
    :param to_revision: the revision to return to; default: the one before the current (templated).
    :param wait: wait until the rollback has rolled out.
    :return: ``{"kind", "name", "namespace", "revision"}``.
    """

    template_fields: Sequence[str] = ("workload", "to_revision", "namespace", "timeout", "kubernetes_conn_id")
    ui_color = "#ffd9b3"

    def __init__(
        self, *, workload: str, to_revision: int | str | None = None, wait: bool = True, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        if "{{" not in workload:
            parse_workload(workload)  # a malformed workload is a DAG import error, not a runtime one
        self.workload = workload
        self.to_revision = to_revision
        self.wait_for_rollout = wait

    def execute(self, context: Context) -> Any:
        hook = self.hook()
        kind, name = parse_workload(self.workload)
        namespace = self.resolve_namespace(hook)
        live = hook.get(WORKLOAD_API[kind], kind, name, namespace)
        if live is None:
            raise PermanentError(f"{kind.lower()}/{name} does not exist in namespace {namespace}")
        revision = rollback_workload(
            hook, live, int(self.to_revision) if self.to_revision else None, self.log
        )
        target = {"kind": kind, "name": name, "namespace": namespace}
        if not self.wait_for_rollout:
            return {**target, "revision": revision}
        return self.wait(context, target, "execute_complete", revision=revision)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        target, revision = event["carry"]["target"], event["carry"]["revision"]
        if event["status"] != "success":
            raise PermanentError(
                f"rollback of {target['kind'].lower()}/{target['name']} to revision {revision} "
                f"did not complete: {event['message']}"
            )
        hook = self.hook()
        live = hook.get(WORKLOAD_API[target["kind"]], target["kind"], target["name"], target["namespace"])
        if live is not None:
            ti = context["ti"]
            record_known_good(hook, live, f"{ti.dag_id}/{ti.run_id}/{ti.task_id}", self.log)
        return {**target, "revision": revision}


class KubernetesScaleOperator(KubernetesBaseOperator):
    """Scale a Deployment or StatefulSet and wait for the replicas to be ready.

    Replicas go through the /scale subresource. When a HorizontalPodAutoscaler targets the workload,
    scaling it directly would be undone by the HPA, so its minReplicas/maxReplicas are patched instead
    (and the log says so): ``replicas`` becomes the minimum, the maximum is raised to it if needed.

    :param workload: ``deployment/NAME`` or ``statefulset/NAME`` (templated).
    :param replicas: the replica count (templated).
    :param min_replicas: with an HPA, its minimum (default: ``replicas``) (templated).
    :param max_replicas: with an HPA, its maximum (default: unchanged, at least the minimum) (templated).
    :return: ``{"kind", "name", "namespace", "replicas", "hpa"}``.
    """

    template_fields: Sequence[str] = (
        "workload",
        "replicas",
        "min_replicas",
        "max_replicas",
        "namespace",
        "timeout",
        "kubernetes_conn_id",
    )
    ui_color = "#d9f2d9"

    def __init__(
        self,
        *,
        workload: str,
        replicas: int | str,
        min_replicas: int | str | None = None,
        max_replicas: int | str | None = None,
        wait: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if "{{" not in workload and parse_workload(workload)[0] == "DaemonSet":
            raise ValueError(
                f"{kwargs.get('task_id')}: a DaemonSet runs one pod per node and cannot be scaled"
            )
        self.workload = workload
        self.replicas = replicas
        self.min_replicas = min_replicas
        self.max_replicas = max_replicas
        self.wait_for_replicas = wait

    def execute(self, context: Context) -> Any:
        hook = self.hook()
        kind, name = parse_workload(self.workload)
        namespace = self.resolve_namespace(hook)
        replicas = int(self.replicas)
        if replicas < 0:
            raise PermanentError(f"replicas must be >= 0, got {replicas}")
        hpas = [
            h
            for h in hook.list("autoscaling/v2", "HorizontalPodAutoscaler", namespace)
            if (h["spec"].get("scaleTargetRef") or {}).get("kind") == kind
            and (h["spec"].get("scaleTargetRef") or {}).get("name") == name
        ]
        target = {"kind": kind, "name": name, "namespace": namespace}
        if hpas:
            hpa = hpas[0]
            low = int(self.min_replicas) if self.min_replicas is not None else replicas
            high = max(
                int(self.max_replicas) if self.max_replicas is not None else hpa["spec"]["maxReplicas"], low
            )
            self.log.info(
                "HorizontalPodAutoscaler %s controls %s/%s: setting its minReplicas=%s maxReplicas=%s "
                "instead of scaling the workload directly",
                hpa["metadata"]["name"],
                kind.lower(),
                name,
                low,
                high,
            )
            hook.patch(
                "autoscaling/v2",
                "HorizontalPodAutoscaler",
                hpa["metadata"]["name"],
                namespace,
                {"spec": {"minReplicas": low, "maxReplicas": high}},
                content_type="application/merge-patch+json",
            )
            bounds, hpa_name = [low, high], hpa["metadata"]["name"]
        else:
            hook.scale(WORKLOAD_API[kind], kind, name, namespace, replicas)
            self.log.info("scaled %s/%s to %s replicas", kind.lower(), name, replicas)
            bounds, hpa_name = [replicas, replicas], None
        if not self.wait_for_replicas:
            return {**target, "replicas": replicas, "hpa": hpa_name}
        return self.wait(context, target, "execute_complete", replicas_between=bounds, hpa=hpa_name)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        target, hpa = event["carry"]["target"], event["carry"]["hpa"]
        if event["status"] != "success":
            raise PermanentError(
                f"scaling {target['kind'].lower()}/{target['name']} did not complete: {event['message']}"
            )
        live = self.hook().get(
            WORKLOAD_API[target["kind"]], target["kind"], target["name"], target["namespace"]
        )
        return {**target, "replicas": int(((live or {}).get("spec") or {}).get("replicas", 0)), "hpa": hpa}
