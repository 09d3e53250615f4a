"""The stack spec (``apiVersion: podium/v1``, ``kind: Stack``): models, parsing and validation.

:func:`load_stack` reads a YAML file and returns a validated :class:`Stack`, or raises
:class:`~podium.exceptions.SpecError` listing every problem of the file at once, each with its path
(``environments[2].backend.type``) and line:column, with a "did you mean" for unknown keys and values.
The module folder must exist and hold ``*.tf`` files. The models double as the JSON Schema in
include/schemas/stack.schema.json (:func:`json_schema`; ``python -m podium.stack.schema`` writes it).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from podium.exceptions import SpecError, SpecProblem
from podium.redact import is_secret_key
from podium.specs import Loc, parse_spec

API_VERSION = "podium/v1"
# DNS-1123 label, short enough for DAG ids and state file names.
NAME = r"^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$"
CRON = r"^(@(hourly|daily|weekly|monthly|yearly)|(\S+\s+){4}\S+)$"
# Terraform input variable names (an identifier).
VARIABLE = r"^[A-Za-z_][A-Za-z0-9_-]*$"
BackendType = Literal[
    "local", "pg", "s3", "gcs", "azurerm", "http", "consul", "kubernetes", "oss", "cos", "remote"
]
BACKENDS: tuple[str, ...] = get_args(BackendType)

Name = Annotated[str, Field(pattern=NAME, description="a DNS-1123 label: a-z, 0-9 and '-', 1-40 chars")]
Seconds = Annotated[float, Field(gt=0, le=86400)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Backend(_Model):
    """Where the environment's state lives. Secrets (passwords, keys) belong in the Terraform
    connection (``env`` or ``backend_config``), never here."""

    type: BackendType = Field("local", description="a Terraform backend type")
    config: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        description="non-secret backend settings (-backend-config); for local, default path "
        "$AIRFLOW_HOME/podium/terraform/state/<stack>__<environment>.tfstate",
    )


class Environment(_Model):
    name: Name
    variables: dict[Annotated[str, Field(pattern=VARIABLE)], Any] = Field(
        default_factory=dict, description="Terraform input variables (non-secret)"
    )
    backend: Backend = Field(default_factory=Backend)  # type: ignore[arg-type]
    approval: bool = Field(False, description="a human approves the plan (Airflow HITL) before apply")
    schedule: str | None = Field(None, pattern=CRON, description="when to plan and apply; default: manual")
    drift_schedule: str | None = Field(
        None, pattern=CRON, description="when the drift DAG runs; default: manual only"
    )
    terraform_conn_id: str | None = Field(None, description="default: the stack's terraform_conn_id")
    plan_store: str | None = Field(
        None, description="where plans are stored (file://..., s3://...); default $AIRFLOW_HOME/podium/plans"
    )
    plan_store_conn_id: str | None = None
    lock_timeout: str = Field(
        "120s", pattern=r"^[0-9]+(s|m|h)$", description="how long to wait for a state lock another run holds"
    )


class Defaults(_Model):
    retries: int = Field(1, ge=1, le=10)
    retry_delay: Seconds = 30


class Stack(_Model):
    api_version: Literal["podium/v1"] = Field(alias="apiVersion")
    kind: Literal["Stack"]
    name: Name
    description: str = ""
    owner: str = "platform"
    tags: list[str] = Field(default_factory=list)
    engine: Literal["terraform"] = "terraform"
    module: str = Field(description="the Terraform module's folder, relative to the spec file")
    terraform_conn_id: str = "terraform_default"
    defaults: Defaults = Field(default_factory=Defaults)  # type: ignore[arg-type]
    environments: list[Environment] = Field(min_length=1)

    def environment(self, name: str) -> Environment:
        return next(e for e in self.environments if e.name == name)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a stack spec (include/schemas/stack.schema.json is this, pretty-printed)."""
    from podium.specs import schema_document

    return schema_document(
        Stack,
        "stack.schema.json",
        "podium Stack",
        "A podium stack spec (include/stacks/*.yaml): Terraform, one DAG per environment.",
    )


def _cross_checks(data: Mapping[str, Any], base: Path) -> Iterator[tuple[Loc, str]]:
    """The module folder exists and holds Terraform files; environment names are unique."""
    module = data.get("module")
    if isinstance(module, str):
        folder = base / module
        if not folder.is_dir():
            yield ("module",), f"folder {module!r} not found (paths are relative to the spec's folder)"
        elif not any(folder.glob("*.tf")) and not any(folder.glob("*.tf.json")):
            yield ("module",), f"folder {module!r} holds no Terraform files (*.tf)"
    envs = data.get("environments")
    names = (
        [e.get("name") if isinstance(e, Mapping) else None for e in envs] if isinstance(envs, list) else []
    )
    for i, name in enumerate(names):
        if name is not None and names.index(name) != i:
            yield ("environments", i, "name"), f"duplicate environment name {name!r}"
    for i, env in enumerate(envs if isinstance(envs, list) else []):
        backend = env.get("backend") if isinstance(env, Mapping) else None
        config = backend.get("config") if isinstance(backend, Mapping) else None
        for key in config if isinstance(config, Mapping) else ():
            if _looks_secret(str(key)):
                yield (
                    ("environments", i, "backend", "config", key),
                    f"{key!r} looks like a secret: put it in the Terraform connection's backend_config "
                    "or env, not in the spec",
                )


def _looks_secret(key: str) -> bool:
    return is_secret_key(key) and key not in ("key", "workspace_key_prefix")


def parse_stack(text: str, file: str, base: Path | None = None) -> Stack:
    """Validate stack YAML ``text`` (from ``file``); the module path is relative to ``base``."""
    folder = base if base is not None else Path(file).parent
    return parse_spec(text, file, Stack, lambda data: _cross_checks(data, folder))


def load_stack(path: Path) -> Stack:
    """Read and validate the stack spec at ``path``."""
    try:
        text = path.read_text()
    except OSError as error:
        raise SpecError(str(path), [SpecProblem("", f"cannot read the file: {error.strerror}")]) from None
    return parse_stack(text, str(path), path.parent)
