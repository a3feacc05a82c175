"""Fixtures of the API tests: the app's settings (a migrated store per engine), API tokens, a
client that calls the API like the learner platform, and a real HTTP server on loopback that
receives the status callbacks."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func
from sqlmodel import select
from werkzeug.test import TestResponse

from dsr import db
from dsr.api.models import ApiToken, CallbackDelivery, StatusCallback
from dsr.audit.models import RequestEvent
from dsr.outbox.models import OutboxMessage
from dsr.requests.models import DataRequest
from tests.waiting import WAIT_SECONDS

SECRET_KEY = "a secret for the API tests only"


@pytest.fixture
def app_config(migrated_url: str) -> dict[str, Any]:
    """The API's application on this run's engine, with a secret of its own."""
    return {"DATABASE_URL": migrated_url, "SECRET_KEY": SECRET_KEY}


def issue_token(app: Flask, name: str) -> str:
    """Create the token of client `name` in the app's store, as `dsr api token create` does."""
    with db.transaction(db.get_engine(app)) as session:  # noqa: F811
        row, token = ApiToken.issue(name, now=db.utcnow())
        session.add(row)
    return token


@dataclass
class ApiCaller:
    """Call the API as one client: its bearer token on every call."""

    client: FlaskClient
    token: str

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **(extra or {})}

    def post(self, body: object, *, key: str | None = None, **kwargs: Any) -> TestResponse:
        headers = self.headers({"Idempotency-Key": key} if key else None)
        return self.client.post("/api/v1/requests", json=body, headers=headers, **kwargs)

    def get(self, path: str) -> TestResponse:
        return self.client.get(path, headers=self.headers())

    def delete(self, path: str) -> TestResponse:
        return self.client.delete(path, headers=self.headers())


@pytest.fixture
def platform(app: Flask) -> ApiCaller:
    """The learner platform, with its own token."""
    return ApiCaller(app.test_client(), issue_token(app, "learner-platform"))


def new_request(**fields: Any) -> dict[str, Any]:
    """The body of a valid request, with `fields` replacing its defaults."""
    body: dict[str, Any] = {
        "subject_request_type": "access",
        "subject_identities": {"email": "zoe.lefevre@example.org"},
        "language": "en",
    }
    body.update(fields)
    return body


def stored_counts(app: Flask) -> dict[str, int]:
    """Count what the store holds, to check that a refused call stored nothing."""
    with db.open_session(db.get_engine(app)) as session:  # noqa: F811
        return {
            model.__name__: session.exec(select(func.count()).select_from(model)).one()
            for model in (
                DataRequest,
                RequestEvent,
                OutboxMessage,
                StatusCallback,
                CallbackDelivery,
            )
        }


def assert_problem(response: TestResponse, status: int) -> dict[str, Any]:
    """Check that `response` is an RFC 9457 problem with `status`; return the document."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    document = json.loads(response.get_data(as_text=True))
    assert isinstance(document, dict)
    assert document["status"] == status
    assert {"type", "title", "status", "detail", "instance"} <= set(document)
    assert document["type"].startswith("https://")
    return document


# --- a real HTTP server receiving the status callbacks ----------------------------------------


@dataclass(frozen=True)
class ReceivedCallback:
    """One POST the receiver accepted; header names in lower case."""

    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class CallbackReceiver:
    """An HTTP server on loopback that records every POST; it answers 500 to the next
    `failures` ones, to show that deliveries are retried."""

    server: ThreadingHTTPServer
    received: list[ReceivedCallback] = field(default_factory=list)
    failures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    peers: list[tuple[str, int]] = field(default_factory=list)
    """The client address of every TCP connection accepted, whatever came over it."""
    probes: set[tuple[str, int]] = field(default_factory=set)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def connections_so_far(self, timeout: float = 5.0) -> int:
        """Return how many connections were made to the server before this call: a probe
        connects and is waited for; the server accepts in order, so every earlier one is in."""
        host, port = self.server.server_address[:2]
        with socket.create_connection((str(host), port), timeout=timeout) as probe:
            me = probe.getsockname()[:2]
            with self.lock:
                self.probes.add(me)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                with self.lock:
                    if me in self.peers:
                        earlier = self.peers[: self.peers.index(me)]
                        return sum(1 for peer in earlier if peer not in self.probes)
                time.sleep(0.01)
        raise AssertionError("the receiver did not accept the probe connection")

    def url(self, path: str = "/hook") -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}{path}"

    def wait_for(self, count: int, timeout: float = WAIT_SECONDS) -> list[ReceivedCallback]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        raise AssertionError(f"expected {count} callbacks, got {len(self.received)}")


@contextmanager
def running_receiver(tls: ssl.SSLContext | None = None) -> Iterator[CallbackReceiver]:
    """Run a receiver on a free loopback port (over TLS with `tls`) until the block ends."""
    receiver: CallbackReceiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the name http.server calls)
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            with receiver.lock:
                failing = receiver.failures > 0
                if failing:
                    receiver.failures -= 1
                else:
                    receiver.received.append(
                        ReceivedCallback(
                            self.path,
                            {name.lower(): value for name, value in self.headers.items()},
                            body,
                        )
                    )
            self.send_response(500 if failing else 204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            """Keep the test output quiet."""

    class CountingServer(ThreadingHTTPServer):
        def verify_request(self, request: Any, client_address: Any) -> bool:
            with receiver.lock:
                receiver.peers.append(tuple(client_address[:2]))
            return True

    server = CountingServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    receiver = CallbackReceiver(server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def callback_receiver() -> Iterator[CallbackReceiver]:
    with running_receiver() as receiver:
        yield receiver
