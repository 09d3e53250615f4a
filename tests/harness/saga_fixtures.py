"""Fixtures of the saga tests: a shop database on PostgreSQL, and a webhook receiver on loopback."""

from __future__ import annotations

import contextlib
import email
import email.policy
import json
import secrets
import socketserver
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from harness.shop_db import ShopDb


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


class SmtpReceiver:
    """A minimal SMTP server on 127.0.0.1 (no TLS, no auth) that keeps every message it gets."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self._event = threading.Condition()
        receiver = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, text: str) -> None:
                self.wfile.write(text.encode() + b"\r\n")

            def handle(self) -> None:
                self.reply("220 127.0.0.1 podium test SMTP")
                data: list[bytes] | None = None
                while line := self.rfile.readline():
                    if data is not None:
                        if line.rstrip(b"\r\n") == b".":
                            receiver._add(b"".join(data))
                            data = None
                            self.reply("250 OK: queued")
                        else:
                            data.append(line[1:] if line.startswith(b"..") else line)
                        continue
                    verb = line[:4].upper()
                    if verb == b"EHLO":
                        self.reply("250-127.0.0.1\r\n250 8BITMIME")
                    elif verb == b"DATA":
                        data = []
                        self.reply("354 end with <CRLF>.<CRLF>")
                    elif verb == b"QUIT":
                        self.reply("221 bye")
                        return
                    else:  # HELO, MAIL, RCPT, RSET, NOOP
                        self.reply("250 OK")

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _add(self, raw: bytes) -> None:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        with self._event:
            self.messages.append(message)  # type: ignore[arg-type]
            self._event.notify_all()

    def connection(self, alert_to: str) -> dict[str, Any]:
        extra = {
            "disable_ssl": True,
            "disable_tls": True,
            "from_email": "podium@example.com",
            "alert_to": alert_to,
        }
        return {"conn_type": "smtp", "host": "127.0.0.1", "port": self.port, "extra": extra}

    def wait_for(self, text: str, timeout: float = 60) -> email.message.EmailMessage:
        def body(message: email.message.EmailMessage) -> str:
            part = message.get_body(preferencelist=("html", "plain"))
            return part.get_content() if part is not None else ""

        with self._event:
            found = self._event.wait_for(
                lambda: next((m for m in self.messages if text in body(m)), None), timeout
            )
        assert found, f"no e-mail containing {text!r} within {timeout}s; got {len(self.messages)}"
        return found

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def smtp_receiver() -> Iterator[SmtpReceiver]:
    receiver = SmtpReceiver()
    try:
        yield receiver
    finally:
        receiver.stop()
