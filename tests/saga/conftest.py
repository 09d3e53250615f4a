"""Fixtures of the saga tests: a shop database on PostgreSQL, and a webhook receiver on loopback."""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

# The real-scheduler cluster of tests/integration (session-scoped, used unchanged). pytest scopes a
# conftest's fixtures to its directory, so they are imported here to reach tests/saga; with the whole
# suite this starts a second cluster (see the report: a root-level fixture plugin would share one).
from integration.conftest import airflow_cluster, cluster_kube, metadata_db  # noqa: F401
from saga.shop import ShopDb


@contextlib.contextmanager
def new_shop_db(postgres) -> Iterator[ShopDb]:
    """A fresh PostgreSQL database for the shop schema, dropped afterwards."""
    import psycopg

    name = f"podium_shop_{secrets.token_hex(4)}"
    with psycopg.connect(postgres.dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield ShopDb(postgres=postgres, dbname=name)
    finally:
        with psycopg.connect(postgres.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def shop_db(postgres) -> Iterator[ShopDb]:
    """One shop database for a whole test module."""
    with new_shop_db(postgres) as db:
        yield db


@pytest.fixture
def fresh_shop_db(postgres) -> Iterator[ShopDb]:
    """A shop database of this test's own."""
    with new_shop_db(postgres) as db:
        yield db


class AlertReceiver:
    """Collects the JSON bodies POSTed to http://127.0.0.1:<port>/..."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self._event = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._event:
                    receiver.received.append(json.loads(body))
                    receiver.paths.append(self.path)
                    receiver._event.notify_all()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, predicate: Any, timeout: float = 60) -> dict[str, Any]:
        with self._event:
            found = self._event.wait_for(
                lambda: next((body for body in self.received if predicate(body)), None), timeout
            )
        assert found, f"no matching alert within {timeout}s; received: {self.received}"
        return found

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def alert_receiver() -> Iterator[AlertReceiver]:
    receiver = AlertReceiver()
    try:
        yield receiver
    finally:
        receiver.stop()
