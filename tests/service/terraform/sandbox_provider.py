"""A real Terraform provider with a remote side, for drift tests: ``podium.test/podium/sandbox``.

Written with the ``tf`` package (a Python Terraform provider framework: the gRPC plugin protocol
Terraform speaks to every provider). Its one resource, ``sandbox_object``, is a JSON file
``<root>/<name>.json`` holding ``{"content": {...}}``: the "remote" object. A test changes or deletes
the file behind Terraform's back, and a refresh sees it, as it would see a bucket changed in a console.

``install(mirror)`` lays the provider out as a Terraform filesystem mirror (unpacked layout: an
executable that runs this module with this Python); :func:`cli_config` is the CLI configuration that
installs it from there (and nothing from a registry).

    provider "sandbox" { root = "/some/folder" }
    resource "sandbox_object" "catalog" {
      name    = "catalog"
      content = { tier = "small" }
    }
"""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path
from typing import Any

from tf import provider as tf_provider
from tf import schema, types
from tf.iface import (
    Config,
    CreateContext,
    DataSource,
    DeleteContext,
    ReadContext,
    Resource,
    State,
    UpdateContext,
    UpgradeContext,
)
from tf.runner import run_provider
from tf.utils import Diagnostics

HOST, NAMESPACE, TYPE, VERSION = "podium.test", "podium", "sandbox", "0.1.0"
SOURCE = f"{HOST}/{NAMESPACE}/{TYPE}"


class SandboxProvider(tf_provider.Provider):
    """Objects as JSON files in a folder (the provider's ``root``)."""

    def __init__(self) -> None:
        self.root = Path(".")

    def full_name(self) -> str:
        return SOURCE

    def get_model_prefix(self) -> str:
        return f"{TYPE}_"

    def get_provider_schema(self, diags: Diagnostics) -> schema.Schema:
        return schema.Schema(attributes=[schema.Attribute("root", types.String(), required=True)])

    def validate_config(self, diags: Diagnostics, config: Config) -> None:
        if not config.get("root"):
            diags.add_error("root is required", "the folder that holds the objects")

    def configure_provider(self, diags: Diagnostics, config: Config) -> None:
        self.root = Path(config["root"])
        self.root.mkdir(parents=True, exist_ok=True)

    def get_data_sources(self) -> list[type[DataSource]]:
        return []

    def get_resources(self) -> list[type[Resource]]:
        return [SandboxObject]


class SandboxObject(Resource):
    """``sandbox_object``: the file ``<root>/<name>.json``."""

    def __init__(self, provider: SandboxProvider) -> None:
        self.provider = provider

    @classmethod
    def get_name(cls) -> str:
        return "object"

    @classmethod
    def get_schema(cls) -> schema.Schema:
        return schema.Schema(
            attributes=[
                schema.Attribute("id", types.String(), computed=True),
                schema.Attribute("name", types.String(), required=True, requires_replace=True),
                schema.Attribute("content", types.Map(types.String()), required=True),
            ]
        )

    def _path(self, name: str) -> Path:
        return self.provider.root / f"{name}.json"

    def _write(self, state: State) -> State:
        self._path(state["name"]).write_text(json.dumps({"content": state["content"]}, sort_keys=True))
        return {**state, "id": state["name"]}

    def create(self, ctx: CreateContext, planned: State) -> State:
        return self._write(planned)

    def read(self, ctx: ReadContext, current: State) -> State | None:
        path = self._path(current["name"])
        if not path.exists():
            return None  # deleted outside Terraform
        content: dict[str, Any] = json.loads(path.read_text()).get("content", {})
        return {**current, "content": content}

    def update(self, ctx: UpdateContext, current: State, planned: State) -> State:
        return self._write(planned)

    def delete(self, ctx: DeleteContext, current: State) -> None:
        self._path(current["name"]).unlink(missing_ok=True)

    def upgrade(self, ctx: UpgradeContext, version: int, old: State) -> State:
        return old  # one schema version so far


def install(mirror: Path) -> Path:
    """Put the provider in a filesystem mirror (unpacked layout); returns the executable."""
    arch = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine(), "amd64")
    target = f"{sys.platform}_{arch}"
    executable = mirror / HOST / NAMESPACE / TYPE / VERSION / target / f"terraform-provider-{TYPE}_v{VERSION}"
    executable.parent.mkdir(parents=True, exist_ok=True)
    executable.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})\n"
        "from sandbox_provider import SandboxProvider, run_provider\n"
        "run_provider(SandboxProvider(), sys.argv)\n"
    )
    executable.chmod(0o755)
    return executable


def cli_config(mirror: Path) -> str:
    """CLI configuration: this provider from the mirror, nothing from any registry."""
    return (
        "provider_installation {\n"
        f'  filesystem_mirror {{\n    path    = {json.dumps(str(mirror))}\n    include = ["{SOURCE}"]\n  }}\n'
        "}\n"
    )


if __name__ == "__main__":
    run_provider(SandboxProvider(), sys.argv)
