"""Drift against a provider with a remote side: a resource changed outside Terraform is named.

Terraform's built-in resources have no remote side, so this uses a real provider of the test's own
(``sandbox_provider.py``, written with the ``tf`` package, speaking Terraform's gRPC plugin protocol),
installed from a filesystem mirror through the connection's ``cli_config``: its objects are JSON
files in a folder. A stack spec with one environment builds the real ``stack__`` and ``drift__`` DAGs;
the stack DAG applies two objects; the drift DAG finds nothing; then one object's content is edited and
the other deleted behind Terraform's back, and the drift DAG fails naming both, with the attribute.
Applying the stack again puts things back, and the drift DAG is green again.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from service.terraform import sandbox_provider
from service.terraform.tf_env import states

pytestmark = pytest.mark.usefixtures("airflow_db")

MODULE = f"""terraform {{
  required_providers {{
    sandbox = {{ source = "{sandbox_provider.SOURCE}", version = "{sandbox_provider.VERSION}" }}
  }}
}}

variable "root" {{
  type = string
}}
@OWNER@
provider "sandbox" {{
  root = var.root
}}

resource "sandbox_object" "catalog" {{
  name    = "catalog"
  content = {{ tier = "small", replicas = "1" }}
}}

resource "sandbox_object" "cart" {{
  name    = "cart"
  content = {{ engine = "redis" }}
}}

output "catalog_id" {{
  value = sandbox_object.catalog.id
}}
"""


def make_sandbox_stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variables: dict[str, str]
) -> dict[str, Any]:
    """The provider in a filesystem mirror; a connection that installs it and names the folder of its
    objects (``root``: where the remote side is, as a cloud endpoint would be); a module declaring a
    required variable for each of ``variables``; a stack spec (one environment with ``variables``) and
    the DAGs it builds."""
    mirror = tmp_path / "mirror"
    sandbox_provider.install(mirror)
    remote = tmp_path / "remote"
    extra = {"cli_config": sandbox_provider.cli_config(mirror), "variables": {"root": str(remote)}}
    monkeypatch.setenv(
        "AIRFLOW_CONN_TERRAFORM_SANDBOX", json.dumps({"conn_type": "terraform", "extra": extra})
    )
    module = tmp_path / "module"
    module.mkdir()
    required = "".join(f'variable "{name}" {{\n  type = string\n}}\n' for name in variables)
    (module / "main.tf").write_text(MODULE.replace("@OWNER@\n", required))
    name = f"sandbox-{uuid.uuid4().hex[:8]}"  # its own local state in the session's AIRFLOW_HOME
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(
        "apiVersion: podium/v1\nkind: Stack\n"
        f"name: {name}\nengine: terraform\nmodule: module\nterraform_conn_id: terraform_sandbox\n"
        "defaults: {retries: 1, retry_delay: 1}\n"
        "environments:\n  - name: dev\n"
        f"    variables: {json.dumps(variables)}\n    drift_schedule: '@daily'\n"
    )
    from podium.dagbuilders.stack import build_stack_dags

    dags = {dag.dag_id: dag for dag in build_stack_dags(spec)}
    return {"remote": remote, "stack": dags[f"stack__{name}__dev"], "drift": dags[f"drift__{name}__dev"]}


def run(dag: Any, capfd: pytest.CaptureFixture[str]) -> tuple[Any, str]:
    """``dag.test()`` on a DAG serialized as the dag-processor would; the run and its log."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    DagBundlesManager().sync_bundles_to_db()
    bag = DagBag(dag_folder="/nonexistent", collect_dags=False)
    bag.bag_dag(dag)
    sync_bag_to_db(bag, "dags-folder", None)
    capfd.readouterr()
    result = dag.test()
    out, err = capfd.readouterr()
    return result, out + err


def objects(remote: Path) -> dict[str, Any]:
    return {path.stem: json.loads(path.read_text())["content"] for path in sorted(remote.glob("*.json"))}


def test_a_resource_changed_outside_terraform_is_named_by_the_drift_dag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    sandbox_stack = make_sandbox_stack(tmp_path, monkeypatch, {})
    remote: Path = sandbox_stack["remote"]
    applied, log = run(sandbox_stack["stack"], capfd)
    assert states(applied) == {
        "plan": "success",
        "approve": "skipped",
        "apply": "success",
        "outputs": "success",
    }
    assert objects(remote) == {"cart": {"engine": "redis"}, "catalog": {"replicas": "1", "tier": "small"}}

    clean, log = run(sandbox_stack["drift"], capfd)
    assert states(clean) == {"drift": "success"}
    assert "No drift: the infrastructure matches the state." in log

    # behind Terraform's back: one object edited, the other deleted
    (remote / "catalog.json").write_text(json.dumps({"content": {"replicas": "1", "tier": "large"}}))
    (remote / "cart.json").unlink()

    drifted, log = run(sandbox_stack["drift"], capfd)
    assert states(drifted) == {"drift": "failed"}
    assert "Drift: 2 resources changed outside Terraform" in log
    assert "sandbox_object.catalog: content changed outside Terraform" in log
    assert "sandbox_object.cart: deleted outside Terraform" in log

    # applying the stack again puts the objects back as the module says; no drift after that
    restored, log = run(sandbox_stack["stack"], capfd)
    assert states(restored)["apply"] == "success"
    assert objects(remote) == {"cart": {"engine": "redis"}, "catalog": {"replicas": "1", "tier": "small"}}
    again, log = run(sandbox_stack["drift"], capfd)
    assert states(again) == {"drift": "success"}


def test_the_drift_dag_gets_the_environments_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    sandbox_stack = make_sandbox_stack(tmp_path, monkeypatch, {"owner": "platform"})
    applied, _ = run(sandbox_stack["stack"], capfd)
    assert states(applied)["apply"] == "success"  # the stack DAG passes them
    clean, log = run(sandbox_stack["drift"], capfd)
    assert "No value for required variable" not in log
    assert states(clean) == {"drift": "success"}
