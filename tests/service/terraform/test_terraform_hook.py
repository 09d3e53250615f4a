"""TerraformHook on real Terraform: working copies, the local backend, secrets kept out of logs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from podium.exceptions import PermanentError
from podium.hooks.terraform import TerraformCommandFailed, TerraformHook, TerraformSettings
from podium.stack.plan import split_outputs, summarize_plan
from service.terraform.tf_env import ADMIN_PASSWORD, BACKEND_TOKEN, MODULE, state_resources


def test_plan_apply_outputs_in_a_working_copy_with_secrets_masked(
    tmp_path: Path, terraform_conn: str, capfd: pytest.CaptureFixture[str], airflow_db: Path
) -> None:
    state = tmp_path / "state" / "dev.tfstate"
    state.parent.mkdir()
    hook = TerraformHook(terraform_conn)
    with hook.working_copy(
        MODULE, variables={"environment": "dev"}, backend_config={"path": str(state)}
    ) as ws:
        assert ws.workdir != MODULE
        assert ws.workdir.parent.name.startswith("podium-tf-")
        ws.init()
        assert ws.plan("p.tfplan") is True
        summary = summarize_plan(ws.show_json("p.tfplan"))
        assert summary.headline() == "Plan: 3 to add, 0 to change, 0 to destroy."
        assert ws.apply("p.tfplan").returncode == 0
        outputs, sensitive = split_outputs(ws.outputs())
        workdir = ws.workdir
    assert not workdir.exists(), "the working copy is removed"
    assert not (MODULE / ".terraform").exists(), "the module itself is never touched"
    assert outputs["bucket"] == "storefront-dev-assets"
    assert sensitive == ["admin_password", "database_password"]
    assert set(state_resources(state)) == {
        "terraform_data.assets_bucket",
        "terraform_data.database",
        "terraform_data.cart_cache",
    }
    out, err = capfd.readouterr()  # the task log: Airflow's structlog writes it to stdout here
    log = out + err
    assert "Apply complete! Resources: 3 added, 0 changed, 0 destroyed." in log
    assert "$ terraform plan" in log
    assert ADMIN_PASSWORD not in log
    assert BACKEND_TOKEN not in log
    assert ADMIN_PASSWORD not in json.dumps(outputs)


def test_the_connection_names_a_binary(
    tmp_path: Path, terraform_binary: Path, monkeypatch: pytest.MonkeyPatch, airflow_db: Path
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_TERRAFORM_BIN",
        json.dumps({"conn_type": "terraform", "extra": {"binary": str(terraform_binary)}}),
    )
    hook = TerraformHook("terraform_bin")
    assert hook.command(["version"]) == [str(terraform_binary), "version"]
    state = tmp_path / "bin.tfstate"
    with hook.working_copy(
        MODULE, variables={"environment": "qa"}, backend_config={"path": str(state)}
    ) as ws:
        ws.init()
        assert ws.plan("p.tfplan") is True
        assert ws.apply("p.tfplan").returncode == 0
        assert split_outputs(ws.outputs())[0]["database_name"] == "storefront_qa"


def test_a_failing_command_says_why(tmp_path: Path, airflow_db: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "main.tf").write_text('resource "terraform_data" "x" {\n  input = var.missing\n}\n')
    hook = TerraformHook()
    with hook.working_copy(broken, backend_config={"path": str(tmp_path / "s.tfstate")}) as ws:
        ws.init()
        with pytest.raises(
            TerraformCommandFailed, match=r"(?s)terraform plan failed \(exit 1\):.*undeclared"
        ):
            ws.plan("p.tfplan")


def test_a_module_that_is_not_a_folder_is_refused(tmp_path: Path) -> None:
    with (
        pytest.raises(PermanentError, match="is not a folder"),
        TerraformHook().working_copy(tmp_path / "nope"),
    ):
        pass


def test_connection_extras_are_checked() -> None:
    with pytest.raises(PermanentError, match=r"unknown terraform connection extras \['binnary'\]"):
        TerraformSettings.from_extra({"binnary": "/usr/bin/terraform"})
    with pytest.raises(PermanentError, match="'env' must be a mapping"):
        TerraformSettings.from_extra({"env": ["A=1"]})
    settings = TerraformSettings.from_extra(
        {"env": {"TOKEN": "abc"}, "sensitive_variables": {"pw": "x", "n": {"a": 1}}}
    )
    assert sorted(settings.secrets()) == ["abc", "x", '{"a": 1}']


def test_a_secret_terraform_would_print_is_masked_in_the_log(
    tmp_path: Path, terraform_conn: str, capfd: pytest.CaptureFixture[str], airflow_db: Path
) -> None:
    """A module that forgot ``sensitive = true``: Terraform prints the value in the plan; podium masks
    every value of the connection's sensitive_variables and env in what it logs."""
    module = tmp_path / "careless"
    module.mkdir()
    (module / "main.tf").write_text(
        'variable "admin_password" {\n  type = string\n}\n'
        'resource "terraform_data" "x" {\n  input = var.admin_password\n}\n'
    )
    hook = TerraformHook(terraform_conn)
    with hook.working_copy(module, backend_config={"path": str(tmp_path / "s.tfstate")}) as ws:
        ws.init()
        capfd.readouterr()
        assert ws.plan("p.tfplan") is True
    out, err = capfd.readouterr()
    assert ADMIN_PASSWORD not in out + err
    assert 'input  = "***"' in out + err
