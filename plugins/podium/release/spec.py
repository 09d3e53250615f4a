"""The release spec (``apiVersion: podium/v1``, ``kind: Release``): models, parsing and validation.

:func:`load_release` reads a YAML file and returns a validated :class:`Release`, or raises
:class:`~podium.exceptions.SpecError` listing every problem of the file at once. Each problem names the
path inside the document (``services[2].depends_on[0]``) and its line:column. Unknown keys are refused
with a "did you mean"; unknown dependencies and dependency cycles (printed) are refused; manifest paths
must exist. The models double as the JSON Schema in include/schemas/release.schema.json
(:func:`json_schema`), so editors validate as users type.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from podium.exceptions import SpecError, SpecProblem
from podium.release.graph import find_cycle
from podium.specs import Loc, did_you_mean

API_VERSION = "podium/v1"
# DNS-1123 label (Kubernetes names), short enough to fit in task and pool ids.
NAME = r"^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$"
# Docker's tag grammar: 1-128 characters, no leading dot or dash.
IMAGE_TAG = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"
# an image repository without tag or digest: registry/path, lower case
REPOSITORY = r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*$"
CRON = r"^(@(hourly|daily|weekly|monthly|yearly)|(\S+\s+){4}\S+)$"

Name = Annotated[str, Field(pattern=NAME, description="a DNS-1123 label: a-z, 0-9 and '-', 1-40 chars")]
Seconds = Annotated[float, Field(gt=0, le=86400)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class HealthCheck(_Model):
    """An HTTP check: a URL reached from the worker, or a Service reached through the Kubernetes API
    server's service proxy (works wherever the connection works; needs ``services/proxy`` get)."""

    url: str | None = Field(None, pattern=r"^https?://", description="http(s) URL to GET")
    service: Name | None = Field(None, description="a Service in the environment's namespace")
    port: int | str | None = Field(None, description="the Service's port (number or name)")
    path: str = Field("/", pattern=r"^/", description="request path for service checks")
    expected_status: int = Field(200, ge=100, le=599)
    timeout: Seconds = Field(120, description="seconds to keep trying before the check fails")

    @model_validator(mode="after")
    def _one_target(self) -> HealthCheck:
        given = [key for key in self._targets() if getattr(self, key) is not None]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of {', '.join(self._targets())} (got {', '.join(given) or 'none'})"
            )
        return self

    @classmethod
    def _targets(cls) -> tuple[str, ...]:
        return ("url", "service")


class SmokeTest(HealthCheck):
    """A health-style HTTP check, or a Job (manifest path) that must complete."""

    job: str | None = Field(None, description="a Job manifest (relative to the spec file)")

    @classmethod
    def _targets(cls) -> tuple[str, ...]:
        return ("url", "service", "job")


class PreDeployJob(_Model):
    """A pre-deploy Job (a migration, say) that must complete before the service rolls out."""

    name: Name
    job: str = Field(description="a Job manifest (relative to the spec file)")
    timeout: Seconds = 600


class Workload(_Model):
    """Manifests to apply (one workload among them), or an existing workload to set images on."""

    manifests: str | None = Field(None, description="a manifest file (relative to the spec file)")
    kind: Literal["Deployment", "StatefulSet", "DaemonSet"] | None = None
    name: Name | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Workload:
        if (self.manifests is None) == (self.kind is None):
            raise ValueError("give manifests, or kind and name of an existing workload (not both)")
        if self.kind is not None and self.name is None:
            raise ValueError("kind needs name")
        return self


class Service(_Model):
    name: Name
    description: str = ""
    workload: Workload
    images: dict[str, Annotated[str, Field(pattern=REPOSITORY)]] = Field(
        min_length=1, description="container name -> image repository (without tag)"
    )
    tag: str = Field(pattern=IMAGE_TAG, description="the default image tag (the trigger form overrides it)")
    depends_on: list[str] = Field(default_factory=list, description="services that must be released first")
    pre_deploy: list[PreDeployJob] = Field(default_factory=list)
    health: HealthCheck | None = None
    smoke: SmokeTest | None = None
    replicas: int | None = Field(None, ge=0, le=1000, description="replicas (manifest workloads only)")
    timeout: Seconds | None = Field(None, description="rollout timeout; default: defaults.rollout_timeout")


class Environment(_Model):
    name: Name
    kubernetes_conn_id: str = "kubernetes_default"
    namespace: Name
    approval: bool = Field(False, description="a human approves (Airflow HITL) before anything changes")
    schedule: str | None = Field(None, pattern=CRON, description="cron or @daily...; default: manual only")
    pool: str | None = Field(None, description="default: podium_release_<environment>")
    replicas: dict[str, Annotated[int, Field(ge=0, le=1000)]] = Field(
        default_factory=dict, description="service -> replicas in this environment"
    )

    @property
    def pool_name(self) -> str:
        return self.pool or f"podium_release_{self.name.replace('-', '_')}"


class Defaults(_Model):
    rollout_timeout: Seconds = 600
    pod_grace_seconds: Seconds = 60
    retries: int = Field(1, ge=0, le=10)
    retry_delay: Seconds = 30


class Release(_Model):
    api_version: Literal["podium/v1"] = Field(alias="apiVersion")
    kind: Literal["Release"]
    name: Name
    description: str = ""
    owner: str = "platform"
    tags: list[str] = Field(default_factory=list)
    environments: list[Environment] = Field(min_length=1)
    defaults: Defaults = Field(default_factory=Defaults)  # type: ignore[arg-type]
    services: list[Service] = Field(min_length=1)

    def service(self, name: str) -> Service:
        return next(s for s in self.services if s.name == name)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a release spec (include/schemas/release.schema.json is this, pretty-printed)."""
    from podium.specs import schema_document

    return schema_document(
        Release,
        "release.schema.json",
        "podium Release",
        "A podium release spec (include/releases/*.yaml): one Airflow DAG per environment.",
    )


# -- cross checks (parsing with positions is podium.specs') ---------------------------------------------


def _items(data: Mapping[str, Any], key: str) -> list[tuple[int, Mapping[str, Any]]]:
    value = data.get(key)
    if not isinstance(value, list):
        return []
    return [(i, item) for i, item in enumerate(value) if isinstance(item, Mapping)]


def _strings(value: Any) -> list[tuple[int, str]]:
    return [(i, v) for i, v in enumerate(value) if isinstance(v, str)] if isinstance(value, list) else []


def _cross_checks(data: Mapping[str, Any], base: Path) -> Iterator[tuple[Loc, str]]:
    """What no single field can know: names, references, files, cycles. Works on the raw document, so
    it reports alongside the per-field problems."""
    services = _items(data, "services")
    names = [s["name"] for _, s in services if isinstance(s.get("name"), str)]
    seen: set[str] = set()
    graph: dict[str, list[str]] = {}
    for i, service in services:
        name = service.get("name")
        if isinstance(name, str):
            if name in seen:
                yield ("services", i, "name"), f"duplicate service name {name!r}"
            seen.add(name)
        yield from _dependency_checks(i, service, names, graph)
        yield from _file_checks(i, service, base)
    yield from _environment_checks(_items(data, "environments"), names)
    cycle = find_cycle(graph)
    if cycle:
        yield ("services", names.index(cycle[0]), "depends_on"), "dependency cycle: " + " -> ".join(cycle)


def _dependency_checks(
    i: int, service: Mapping[str, Any], names: list[str], graph: dict[str, list[str]]
) -> Iterator[tuple[Loc, str]]:
    """A service's depends_on names known services, not itself; known edges go into ``graph``."""
    name = service.get("name")
    for j, dep in _strings(service.get("depends_on")):
        if dep == name:
            yield ("services", i, "depends_on", j), f"{name!r} cannot depend on itself"
        elif dep not in names:
            yield (
                ("services", i, "depends_on", j),
                f"unknown service {dep!r}{did_you_mean(dep, names)}; services: {', '.join(names)}",
            )
        elif isinstance(name, str):
            graph.setdefault(name, []).append(dep)


def _file_checks(i: int, service: Mapping[str, Any], base: Path) -> Iterator[tuple[Loc, str]]:
    """The files a service names exist; replicas only with manifests; pre-deploy Job names unique."""
    workload = service.get("workload")
    files: list[tuple[Loc, Any]] = []
    if isinstance(workload, Mapping):
        files.append((("services", i, "workload", "manifests"), workload.get("manifests")))
        if service.get("replicas") is not None and workload.get("manifests") is None:
            yield ("services", i, "replicas"), "replicas needs workload.manifests (scale existing ones)"
    smoke = service.get("smoke")
    if isinstance(smoke, Mapping):
        files.append((("services", i, "smoke", "job"), smoke.get("job")))
    jobs = _items(service, "pre_deploy")
    files += [(("services", i, "pre_deploy", k, "job"), h.get("job")) for k, h in jobs]
    for loc, file in files:
        if isinstance(file, str) and not (base / file).is_file():
            yield loc, f"file {file!r} not found (paths are relative to the spec's folder)"
    job_names = [h.get("name") for _, h in jobs]
    for k, job in enumerate(job_names):
        if job is not None and job_names.index(job) != k:
            yield ("services", i, "pre_deploy", k, "name"), f"duplicate hook name {job!r}"


def _environment_checks(
    envs: list[tuple[int, Mapping[str, Any]]], names: list[str]
) -> Iterator[tuple[Loc, str]]:
    """Environment names unique; per-environment replicas name known services."""
    env_names = [e.get("name") for _, e in envs]
    for i, env in envs:
        if env.get("name") is not None and env_names.index(env.get("name")) != i:
            yield ("environments", i, "name"), f"duplicate environment name {env.get('name')!r}"
        replicas = env.get("replicas")
        for service_name in replicas if isinstance(replicas, Mapping) else ():
            if service_name not in names:
                yield (
                    ("environments", i, "replicas", service_name),
                    f"unknown service {service_name!r}{did_you_mean(str(service_name), names)}",
                )


def parse_release(text: str, file: str, base: Path | None = None) -> Release:
    """Validate release YAML ``text`` (from ``file``); manifest paths are relative to ``base``."""
    from podium.specs import parse_spec

    folder = base if base is not None else Path(file).parent
    return parse_spec(text, file, Release, lambda data: _cross_checks(data, folder))


def load_release(path: Path) -> Release:
    """Read and validate the release spec at ``path``."""
    try:
        text = path.read_text()
    except OSError as error:
        raise SpecError(str(path), [SpecProblem("", f"cannot read the file: {error.strerror}")]) from None
    return parse_release(text, str(path), path.parent)
