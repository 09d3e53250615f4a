"""Terraform tasks: plan a saved plan, apply exactly that plan, read outputs, look for drift.

The workflow Atlantis and HCP Terraform made familiar, as Airflow tasks::

    TerraformPlanOperator -> [ApprovalOperator] -> TerraformApplyOperator -> TerraformOutputOperator

* The plan task runs ``init`` and ``plan -out`` in a fresh working copy of the module and stores the
  plan file where every worker can read it (Airflow's ObjectStoragePath: by default
  ``file://$AIRFLOW_HOME/podium/plans``, ``s3://...`` in production), under
  ``<dag_id>/<run_id>/<environment>.tfplan``. It returns the plan's summary and its SHA-256. With no
  changes it returns ``has_changes: False`` and skips every task after it.
* The apply task downloads the plan, refuses it unless its SHA-256 is the one the plan task returned
  (the one the approval showed), then applies exactly that file. Terraform itself refuses a stale plan
  (the state changed since the plan): the task fails with a PermanentError, nothing applied. A retry
  after a crash recognises a plan it already applied (a marker beside the plan, or the state holding
  what the plan planned), so nothing is applied twice.
* The output task puts ``output -json``'s non-sensitive values into XCom; sensitive outputs appear by
  name only.
* The drift task runs ``plan -refresh-only -detailed-exitcode`` (exit 2: drift) and names the drifted
  resources and their changed attributes; with ``fail_on_drift`` the task fails, so failure callbacks
  (podium's notifiers) alert.

The decisions are pure functions of :mod:`podium.stack.plan`; Terraform runs through
:class:`podium.hooks.terraform.TerraformHook`.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.bases.skipmixin import SkipMixin
from airflow.sdk.exceptions import AirflowSkipException

from podium.exceptions import PermanentError
from podium.hooks.terraform import TerraformCommandFailed, TerraformHook, TerraformWorkspace
from podium.stack.plan import (
    check_digest,
    plan_digest,
    plan_key,
    plan_was_applied,
    sensitive_values,
    split_outputs,
    summarize_drift,
    summarize_plan,
)

if TYPE_CHECKING:
    from airflow.sdk import Context, ObjectStoragePath

PLAN_FILE = "podium.tfplan"
STALE = "Saved plan is stale"


def default_plan_store() -> str:
    from airflow.configuration import AIRFLOW_HOME

    return f"file://{Path(AIRFLOW_HOME).absolute()}/podium/plans"


def plan_store_path(uri: str, conn_id: str | None = None) -> ObjectStoragePath:
    """An ObjectStoragePath for ``uri`` (a plain path is a local folder)."""
    from airflow.sdk import ObjectStoragePath

    if "://" not in uri:
        uri = f"file://{Path(uri).absolute()}"
    return ObjectStoragePath(uri, conn_id=conn_id)


class _TerraformOperator(BaseOperator):
    """What every Terraform task shares: the module, its environment, backend and variables.

    :param module: the Terraform module's folder (templated)
    :param environment: the environment's name: part of the plan's key and of the local state's path
        (templated)
    :param variables: input variables (templated); sensitive ones belong in the connection
    :param backend: the backend type, default ``local`` (templated)
    :param backend_config: non-secret backend settings (templated). For the local backend, ``path``
        defaults to ``$AIRFLOW_HOME/podium/terraform/state/<state_name>.tfstate``.
    :param state_name: the local state's file name, default ``<dag_id>`` (templated)
    :param terraform_conn_id: the Terraform connection (templated)
    :param lock_timeout: how long to wait for the state lock another run holds (``-lock-timeout``,
        default ``120s``); still locked then: a TransientError naming the holder, and Airflow retries
        (templated)
    """

    template_fields: Sequence[str] = (
        "module",
        "environment",
        "variables",
        "backend",
        "backend_config",
        "state_name",
        "terraform_conn_id",
        "lock_timeout",
    )
    ui_color = "#ede7f6"

    def __init__(
        self,
        *,
        module: str,
        environment: str = "default",
        variables: Mapping[str, Any] | None = None,
        backend: str = "local",
        backend_config: Mapping[str, Any] | None = None,
        state_name: str | None = None,
        terraform_conn_id: str = TerraformHook.default_conn_name,
        lock_timeout: str = "120s",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.lock_timeout = lock_timeout
        self.module = module
        self.environment = environment
        self.variables = dict(variables or {})
        self.backend = backend
        self.backend_config = dict(backend_config or {})
        self.state_name = state_name
        self.terraform_conn_id = terraform_conn_id

    def hook(self) -> TerraformHook:
        self._hook = TerraformHook(self.terraform_conn_id)
        return self._hook

    def on_kill(self) -> None:
        hook: TerraformHook | None = getattr(self, "_hook", None)
        if hook is not None:
            hook.cancel()

    def module_path(self) -> Path:
        from podium.settings import include_dir

        path = Path(self.module)
        return path if path.is_absolute() else include_dir() / path

    def _backend_config(self, hook: TerraformHook) -> dict[str, Any]:
        config = dict(self.backend_config)
        if self.backend == "local" and "path" not in config:
            name = self.state_name or f"{self.dag_id}"
            state = hook.home() / "state" / f"{name}.tfstate"
            state.parent.mkdir(parents=True, exist_ok=True)
            config["path"] = str(state)
        return config

    @contextlib.contextmanager
    def initialized(
        self, hook: TerraformHook, *, with_variables: bool = True
    ) -> Iterator[TerraformWorkspace]:
        """A working copy of the module with ``init`` done."""
        with hook.working_copy(
            self.module_path(),
            variables=self.variables if with_variables else None,
            backend=self.backend,
            backend_config=self._backend_config(hook),
            lock_timeout=self.lock_timeout,
        ) as workspace:
            workspace.init()
            yield workspace


class TerraformPlanOperator(_TerraformOperator, SkipMixin):
    """``init`` + ``plan -out``: store the plan file, return its summary and SHA-256.

    Returns ``{"has_changes", "sha256", "plan_uri", "environment", "summary": {add, change, destroy,
    resources, replacements, headline, ...}}``. With no changes and ``skip_when_unchanged`` (default),
    every downstream task is skipped: nothing to approve, nothing to apply.

    :param plan_store: base URI of the plan store (templated); default
        ``file://$AIRFLOW_HOME/podium/plans``; e.g. ``s3://bucket/podium/plans``
    :param plan_store_conn_id: the connection ObjectStoragePath uses for it (templated)
    :param destroy: plan the destruction of everything (templated)
    :param skip_when_unchanged: skip the downstream tasks when the plan has no changes
    :param destroy_approval_task_id: an approval task only a destroy needs (environments without
        approval): skipped when the plan is not a destroy
    """

    template_fields: Sequence[str] = (
        *_TerraformOperator.template_fields,
        "plan_store",
        "plan_store_conn_id",
        "destroy",
    )
    inherits_from_skipmixin = True

    def __init__(
        self,
        *,
        plan_store: str | None = None,
        plan_store_conn_id: str | None = None,
        destroy: bool | str = False,
        skip_when_unchanged: bool = True,
        destroy_approval_task_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.plan_store = plan_store
        self.plan_store_conn_id = plan_store_conn_id
        self.destroy = destroy
        self.skip_when_unchanged = skip_when_unchanged
        self.destroy_approval_task_id = destroy_approval_task_id

    def execute(self, context: Context) -> dict[str, Any]:
        hook = self.hook()
        destroy = self.destroy in (True, "True", "true")
        if destroy:
            self.log.warning("planning the DESTRUCTION of every resource of %s", self.environment)
        with self.initialized(hook) as workspace:
            has_changes = workspace.plan(PLAN_FILE, destroy=destroy)
            summary = summarize_plan(workspace.show_json(PLAN_FILE))
            data = (workspace.workdir / PLAN_FILE).read_bytes()
        digest = plan_digest(data)
        target = plan_store_path(self.plan_store or default_plan_store(), self.plan_store_conn_id)
        target = target / plan_key(self.dag_id, context["run_id"], self.environment)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        self.log.info("%s", summary.text())
        self.log.info(
            "plan %s stored at %s (SHA-256 %s)", "with changes" if has_changes else "", target, digest
        )
        result = {
            "has_changes": has_changes,
            "sha256": digest,
            "plan_uri": str(target),
            "environment": self.environment,
            "destroy": destroy,
            "summary": summary.as_dict(),
        }
        skipped = []
        if not has_changes and self.skip_when_unchanged:
            self.log.info("no changes: skipping every task after the plan")
            skipped = list(context["task"].get_flat_relatives(upstream=False))
        elif self.destroy_approval_task_id and not destroy:
            self.log.info("not a destroy: no approval needed, skipping %s", self.destroy_approval_task_id)
            skipped = [
                task
                for task in context["task"].get_direct_relatives(upstream=False)
                if task.task_id == self.destroy_approval_task_id
            ]
        if skipped:
            context["ti"].xcom_push(key="return_value", value=result)  # skip() ends the task
            self.skip(ti=context["ti"], tasks=skipped)
        return result


class TerraformApplyOperator(_TerraformOperator):
    """Apply exactly the plan the plan task stored, after checking its SHA-256.

    :param plan_task_id: the plan task whose XCom names the plan file and its digest
    :param expected_sha256: the digest to require (templated); default: the plan task's. An approval
        that carried the digest can pass it here.
    :param plan_store_conn_id: the connection for the plan store (templated)
    """

    template_fields: Sequence[str] = (
        *_TerraformOperator.template_fields,
        "expected_sha256",
        "plan_store_conn_id",
    )

    def __init__(
        self,
        *,
        plan_task_id: str = "plan",
        expected_sha256: str | None = None,
        plan_store_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.plan_task_id = plan_task_id
        self.expected_sha256 = expected_sha256
        self.plan_store_conn_id = plan_store_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        plan = context["ti"].xcom_pull(task_ids=self.plan_task_id) or {}
        if not plan.get("plan_uri"):
            raise PermanentError(f"task {self.plan_task_id!r} returned no plan: nothing to apply")
        if not plan.get("has_changes"):
            raise AirflowSkipException("the plan has no changes: nothing to apply")
        expected = self.expected_sha256 or plan.get("sha256")
        stored = plan_store_path(plan["plan_uri"], self.plan_store_conn_id)
        if not stored.exists():
            raise PermanentError(f"the plan file {stored} is gone: nothing was applied; run the DAG again")
        data = stored.read_bytes()
        digest = plan_digest(data)
        check_digest(expected, digest, where=str(stored))
        applied_marker = stored.with_name(stored.name + ".applied")
        if _marker_sha256(applied_marker) == digest:
            self.log.info("plan %s was applied by an earlier try; nothing to do", digest)
            return {"applied": True, "already_applied": True, "sha256": digest}
        already = self._apply(data, digest, stored)
        applied_marker.write_text(
            json.dumps({"sha256": digest, "run_id": context["run_id"], "at": datetime.now(UTC).isoformat()})
        )
        return {"applied": True, "already_applied": already, "sha256": digest}

    def _apply(self, data: bytes, digest: str, stored: ObjectStoragePath) -> bool:
        """Apply ``data``; True when an earlier try had applied it already (recognised from the state)."""
        hook = self.hook()
        applying_marker = stored.with_name(stored.name + ".applying")
        earlier_try = _marker_sha256(applying_marker) == digest  # this very plan was being applied
        with self.initialized(hook, with_variables=False) as workspace:
            (workspace.workdir / PLAN_FILE).write_bytes(data)
            applying_marker.write_text(json.dumps({"sha256": digest}))
            result = workspace.apply(PLAN_FILE)
            if result.returncode == 0:
                return False
            if STALE not in result.tail:
                raise TerraformCommandFailed(result)
            if earlier_try and plan_was_applied(workspace.show_json(PLAN_FILE), workspace.show_json()):
                self.log.info("an earlier try applied this plan (the state holds what it planned)")
                return True
        raise PermanentError(
            f"the plan {digest[:12]} is stale: the state changed after it was planned (another apply "
            "ran in between). Terraform applied nothing. Run the DAG again to plan from the current state."
        )


def _marker_sha256(marker: ObjectStoragePath) -> str | None:
    """The plan digest a marker beside the plan file records (None: no marker)."""
    if not marker.exists():
        return None
    recorded = json.loads(marker.read_text()).get("sha256")
    return str(recorded) if recorded else None


class TerraformOutputOperator(_TerraformOperator):
    """``output -json`` into XCom: ``{"outputs": {name: value}, "sensitive": [names]}``.

    Sensitive outputs' values never reach XCom or the log; their names are listed. The same goes into
    the extra of an event of every Asset in ``outlets`` (with ``environment`` and ``run_id``).
    """

    def execute(self, context: Context) -> dict[str, Any]:
        hook = self.hook()
        with self.initialized(hook, with_variables=False) as workspace:
            raw = workspace.outputs()
        outputs, sensitive = split_outputs(raw)
        hook.mask(sensitive_values(raw))  # whatever logs them later (a callback, a notifier) masks them
        self.log.info("outputs: %s", ", ".join(sorted(outputs)) or "none")
        if sensitive:
            self.log.info("sensitive outputs (values withheld): %s", ", ".join(sensitive))
        result: dict[str, Any] = {"outputs": outputs, "sensitive": sensitive}
        for outlet in self.outlets:  # e.g. the stack's Asset: releases read the outputs from its events
            context["outlet_events"][outlet].extra = {
                "environment": self.environment,
                "run_id": context["run_id"],
                **result,
            }
        return result


class TerraformDriftOperator(_TerraformOperator):
    """``plan -refresh-only -detailed-exitcode``: exit 2 means the infrastructure drifted.

    Returns ``{"drifted", "resources": [{address, action, attributes}], "text"}``; with
    ``fail_on_drift`` (default) a drift fails the task (PermanentError naming every drifted resource
    and attribute), so the DAG's failure callbacks alert.

    :param fail_on_drift: fail the task when drift is found
    """

    def __init__(self, *, fail_on_drift: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fail_on_drift = fail_on_drift

    def execute(self, context: Context) -> dict[str, Any]:
        hook = self.hook()
        with self.initialized(hook) as workspace:
            changed = workspace.plan(PLAN_FILE, refresh_only=True)
            drift = summarize_drift(workspace.show_json(PLAN_FILE)) if changed else summarize_drift({})
        self.log.info("%s", drift.text())
        if drift.drifted and self.fail_on_drift:
            raise PermanentError(drift.text())
        return drift.as_dict()
