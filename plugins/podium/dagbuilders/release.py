"""Build one Airflow DAG per (release, environment) from a validated release spec.

``release__<name>__<environment>``::

    plan -> [approve] -> <service> groups in dependency order -> rollback -> report -> outcome

Each service is a TaskGroup: its pre-deploy Jobs, the rollout, the health check and the smoke test.
Independent services run in parallel. ``rollback``, ``report`` and ``outcome`` run whatever happened
(trigger rule all_done): rollback acts only when a service task failed, outcome fails the run then.
"""

from __future__ import annotations

import functools
import itertools
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Asset, Param, TaskGroup

from podium.operators.release import (
    ReleaseOutcomeOperator,
    ReleasePlanOperator,
    ReleaseReportOperator,
    ReleaseRollbackOperator,
    ReleaseRolloutOperator,
)
from podium.operators.release_checks import ReleaseCheckOperator, ReleaseJobOperator
from podium.release.graph import topological_order
from podium.release.spec import IMAGE_TAG, Environment, HealthCheck, Release, Service, load_release
from podium.settings import include_dir

START = datetime(2026, 1, 1)


def dag_id(release: str, environment: str) -> str:
    return f"release__{release}__{environment}"


def tag_param(service: str) -> str:
    """The trigger-form field of a service's image tag (``tag_storefront_web``)."""
    return "tag_" + service.replace("-", "_")


def ledger_asset(release: str, environment: str) -> Asset:
    """The Asset whose events are the release ledger of one environment.

    The ``x-`` scheme marks a custom URI scheme: Airflow looks up no provider normalizer for it (a
    lookup imports every provider's asset handlers, boto3 included: ~0.8 s per DAG file parse).
    """
    return Asset(
        name=f"podium-release/{release}/{environment}",
        uri=f"x-podium-release://{release}/{environment}",
        group="podium-release",
    )


def _relative(base: Path, file: str) -> str:
    """A spec-relative file as operators load it: relative to include/ when it is inside it."""
    path = os.path.normpath(os.path.join(base, file))
    include = _include_prefix()
    return path[len(include) :] if path.startswith(include) else path


@functools.cache
def _include_prefix() -> str:
    return os.path.normpath(include_dir().absolute()) + os.sep


def _images(service: Service) -> dict[str, str]:
    tag = "{{ params['" + tag_param(service.name) + "'] }}"
    return {container: f"{repository}:{tag}" for container, repository in service.images.items()}


def _params(release: Release) -> dict[str, Param]:
    names = [s.name for s in release.services]
    params: dict[str, Param] = {
        "services": Param(
            names,
            type="array",
            items={"type": "string", "enum": names},
            uniqueItems=True,
            minItems=1,
            title="Services",
            description="Services to release. Services they depend on are added automatically.",
        ),
        "dry_run": Param(
            False,
            type="boolean",
            title="Dry run",
            description="Server-side dry run: log what would change, change nothing.",
        ),
    }
    for service in release.services:
        params[tag_param(service.name)] = Param(
            service.tag,
            type="string",
            pattern=IMAGE_TAG,
            title=f"{service.name} image tag",
            description=f"Tag of {', '.join(sorted(set(service.images.values())))}",
        )
    return params


def _doc(release: Release, env: Environment, order: list[str], spec: Path) -> str:
    rows = "\n".join(
        f"| {name} | {release.service(name).tag} | {', '.join(release.service(name).depends_on) or '-'} |"
        for name in order
    )
    approval = "a human approves the plan first (Airflow HITL); " if env.approval else ""
    return f"""### Release `{release.name}` to `{env.name}`
{release.description}

Spec: `{spec.name}`. Namespace `{env.namespace}` through connection `{env.kubernetes_conn_id}`;
{approval}services roll in dependency order, independent ones in parallel. If anything fails, every
service this run changed is rolled back in reverse dependency order and the run fails. The `report`
task logs and returns the table (service, from, to, result, duration) and records it in the ledger,
the Asset `x-podium-release://{release.name}/{env.name}`. `dry_run` changes nothing.

| service | default tag | depends on |
| --- | --- | --- |
{rows}
"""


def _check(task_id: str, check: HealthCheck, service: Service, common: dict[str, Any], base: Path) -> Any:
    job: str | None = getattr(check, "job", None)
    if job is not None:
        return ReleaseJobOperator(
            task_id=task_id,
            service=service.name,
            job=_relative(base, job),
            image_overrides=_images(service),
            timeout=check.timeout,
            **common,
        )
    return ReleaseCheckOperator(
        task_id=task_id,
        service=service.name,
        url=check.url,
        service_name=check.service,
        port=check.port,
        path=check.path,
        expected_status=check.expected_status,
        check_timeout=check.timeout,
        **common,
    )


def build_release_dag(release: Release, env: Environment, spec: Path) -> DAG:
    """The DAG of one environment of ``release`` (read from ``spec``)."""
    base = spec.parent.absolute()
    graph = {s.name: list(s.depends_on) for s in release.services}
    order = topological_order(graph)
    defaults = release.defaults
    common: dict[str, Any] = {"kubernetes_conn_id": env.kubernetes_conn_id, "namespace": env.namespace}
    services_arg: dict[str, dict[str, Any]] = {
        name: {
            "depends_on": graph[name],
            "kind": release.service(name).workload.kind,
            "name": release.service(name).workload.name,
            "manifests": _relative(base, manifests)
            if (manifests := release.service(name).workload.manifests)
            else None,
            "images": _images(release.service(name)),
            "replicas": env.replicas.get(name, release.service(name).replicas),
        }
        for name in order
    }
    with DAG(
        dag_id=dag_id(release.name, env.name),
        description=(release.description or f"release {release.name}")[:200],
        doc_md=_doc(release, env, order, spec),
        schedule=env.schedule,
        start_date=START,
        catchup=False,
        max_active_runs=1,
        tags=sorted({"podium", "release", release.name, env.name, *release.tags}),
        default_args={
            "owner": release.owner,
            "retries": defaults.retries,
            "retry_delay": timedelta(seconds=defaults.retry_delay),
        },
    ) as dag:
        plan = ReleasePlanOperator(task_id="plan", services=services_arg, **common)
        start: Any = plan
        if env.approval:
            from airflow.providers.standard.operators.hitl import ApprovalOperator

            approve = ApprovalOperator(
                task_id="approve",
                subject=f"Release {release.name} to {env.name}?",
                body=(
                    "Run {{ run_id }} releases "
                    "{{ ti.xcom_pull(task_ids='plan')['selected'] | join(', ') }}"
                    f" into namespace {env.namespace}. The plan task's log shows what runs now."
                ),
                ignore_downstream_trigger_rules=True,
            )
            plan >> approve
            start = approve
        groups: dict[str, TaskGroup] = {}
        service_tasks: dict[str, list[str]] = {}
        rollout_tasks: dict[str, str] = {}
        for name in order:
            service = release.service(name)
            with TaskGroup(group_id=name, tooltip=service.description) as group:
                chain: list[Any] = [
                    ReleaseJobOperator(
                        task_id=f"pre_{hook.name}",
                        service=name,
                        job=_relative(base, hook.job),
                        image_overrides=_images(service),
                        timeout=hook.timeout,
                        **common,
                    )
                    for hook in service.pre_deploy
                ]
                rollout = ReleaseRolloutOperator(
                    task_id="rollout",
                    service=name,
                    manifest=services_arg[name]["manifests"],
                    workload=f"{service.workload.kind}/{service.workload.name}"
                    if service.workload.kind
                    else None,
                    image_overrides=_images(service),
                    replicas=services_arg[name]["replicas"],
                    timeout=service.timeout or defaults.rollout_timeout,
                    pod_grace_seconds=defaults.pod_grace_seconds,
                    pool=env.pool_name,
                    **common,
                )
                chain.append(rollout)
                if service.health is not None:
                    chain.append(_check("health", service.health, service, common, base))
                if service.smoke is not None:
                    chain.append(_check("smoke", service.smoke, service, common, base))
                for upstream, downstream in itertools.pairwise(chain):
                    upstream >> downstream
            groups[name] = group
            service_tasks[name] = [task.task_id for task in chain]
            rollout_tasks[name] = rollout.task_id
            if service.depends_on:
                for dep in service.depends_on:
                    groups[dep] >> group
            else:
                start >> group
        rollback = ReleaseRollbackOperator(
            task_id="rollback",
            order=order,
            service_tasks=service_tasks,
            trigger_rule="all_done",
            timeout=defaults.rollout_timeout,
            pod_grace_seconds=defaults.pod_grace_seconds,
            pool=env.pool_name,
            retries=max(defaults.retries, 2),
            **common,
        )
        needed = {dep for deps in graph.values() for dep in deps}
        for name in order:
            if name not in needed:
                groups[name] >> rollback
        report = ReleaseReportOperator(
            task_id="report",
            release=release.name,
            environment=env.name,
            order=order,
            service_tasks=service_tasks,
            rollout_tasks=rollout_tasks,
            trigger_rule="all_done",
            outlets=[ledger_asset(release.name, env.name)],
        )
        # fails with PermanentError (no retry is spent) when the release failed
        outcome = ReleaseOutcomeOperator(task_id="outcome", trigger_rule="all_done")
        rollback >> report >> outcome
    # Params are added once the tasks exist: Airflow deep-copies the DAG's params into every operator
    # created inside the DAG, which is quadratic in the number of services (one tag field each). At
    # run time and in the trigger form, params come from the DAG (process_params merges DAG and task).
    dag.params.update(_params(release))
    return dag


def spec_path(spec: str | Path) -> Path:
    path = Path(spec)
    return path if path.is_absolute() else include_dir() / "releases" / path


def build_release_dags(spec: str | Path) -> list[DAG]:
    """One DAG per environment of the release spec at ``spec`` (relative to include/releases/)."""
    path = spec_path(spec)
    release = load_release(path)
    return [build_release_dag(release, env, path) for env in release.environments]


def release_dags(spec: str | Path, namespace: dict[str, Any]) -> list[DAG]:
    """Build the DAGs of the release spec ``spec`` (a path relative to include/releases/, or absolute)
    and register them in ``namespace`` (a DAG file's ``globals()``) so Airflow finds them."""
    dags = build_release_dags(spec)
    for dag in dags:
        namespace[dag.dag_id] = dag
    return dags
