"""Two runs on one state: the second waits for the lock up to lock_timeout, or fails naming the holder.

The first run is a real apply that holds the state lock for a few seconds (a ``local-exec``
provisioner sleeps: built into Terraform, no provider to download). The local backend, the ``pg``
backend on a real PostgreSQL and the ``s3`` backend (``use_lockfile``) on moto's server.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from podium.hooks.terraform import TerraformHook, TerraformStateLocked

HOLD_SECONDS = 4
SLOW_MODULE = f"""
variable "v" {{
  type = string
}}
resource "terraform_data" "slow" {{
  input = var.v
  provisioner "local-exec" {{
    command = "sleep {HOLD_SECONDS}"
  }}
}}
"""


@pytest.fixture
def module(tmp_path: Path) -> Path:
    folder = tmp_path / "slow"
    folder.mkdir()
    (folder / "main.tf").write_text(SLOW_MODULE)
    return folder


class HeldLock:
    """A real apply in a thread, holding the state lock while its provisioner sleeps."""

    def __init__(self, module: Path, backend: str, config: dict[str, Any], conn_id: str) -> None:
        self.hook = TerraformHook(conn_id)
        self.module, self.backend, self.config = module, backend, config
        self.started = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._apply, daemon=True)

    def _apply(self) -> None:
        try:
            with self.hook.working_copy(
                self.module, variables={"v": "first"}, backend=self.backend, backend_config=self.config
            ) as ws:
                ws.init()
                ws.plan("p.tfplan")
                self.started.set()
                ws.apply("p.tfplan")
        except BaseException as error:  # reported by the test
            self.error = error
            self.started.set()

    def __enter__(self) -> HeldLock:
        self.thread.start()
        assert self.started.wait(60)
        time.sleep(1.0)  # the apply has taken the lock and its provisioner sleeps
        return self

    def __exit__(self, *exc: object) -> None:
        self.thread.join(60)
        assert self.error is None, self.error


def contend(module: Path, backend: str, config: dict[str, Any], conn_id: str, lock_timeout: str) -> None:
    with TerraformHook(conn_id).working_copy(
        module, variables={"v": "second"}, backend=backend, backend_config=config, lock_timeout=lock_timeout
    ) as ws:
        ws.init()
        ws.plan("p.tfplan")


@pytest.fixture
def pg_backend(postgres: Any) -> Iterator[dict[str, Any]]:
    import psycopg

    name = f"podium_tf_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres.dsn("postgres"), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    auth = postgres.user + (f":{postgres.password}" if postgres.password else "")
    yield {"conn_str": f"postgres://{auth}@{postgres.host}:{postgres.port}/{name}?sslmode=disable"}
    with psycopg.connect(postgres.dsn("postgres"), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def local_backend(tmp_path: Path) -> dict[str, Any]:
    return {"path": str(tmp_path / "shared.tfstate")}


def s3_backend(request: pytest.FixtureRequest) -> dict[str, Any]:
    request.getfixturevalue("s3_stack")
    return {
        "bucket": "podium-tfstate",
        "key": "lock-test.tfstate",
        "region": "us-east-1",
        "use_lockfile": True,
    }


@pytest.mark.parametrize("backend", ["local", pytest.param("pg", marks=pytest.mark.postgres), "s3"])
def test_the_second_run_fails_naming_the_holder_or_waits(
    backend: str, module: Path, tmp_path: Path, request: pytest.FixtureRequest, airflow_db: Path
) -> None:
    conn_id = "terraform_s3" if backend == "s3" else "terraform_default"
    config = {
        "local": lambda: local_backend(tmp_path),
        "pg": lambda: request.getfixturevalue("pg_backend"),
        "s3": lambda: s3_backend(request),
    }[backend]()
    with HeldLock(module, backend, config, conn_id):
        with pytest.raises(TerraformStateLocked) as caught:
            contend(module, backend, config, conn_id, "0s")
        message = str(caught.value)
        assert "the state is locked by" in message
        assert "Nothing was changed" in message
        if backend == "pg":
            assert "the pg backend records no holder" in message
        else:
            assert "(apply since" in message  # the holder's record: who, what, since when
        started = time.monotonic()
        contend(module, backend, config, conn_id, "60s")  # waits for the apply to finish, then plans
        assert time.monotonic() - started > 1.0
    # the state is intact: the first apply's resource, once, and a plan against it works
    with TerraformHook(conn_id).working_copy(module, backend=backend, backend_config=config) as ws:
        ws.init()
        state = ws.show_json()
    (resource,) = state["values"]["root_module"]["resources"]
    assert resource["values"]["input"] == "first"
