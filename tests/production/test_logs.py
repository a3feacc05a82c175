"""Each request is logged once with its route pattern, never its path (paths hold tokens); the
client's address only as a keyed hash; exceptions by class and frames, never their message; and
the development server's own access lines lose the address and the path."""

from __future__ import annotations

import http.client
import json
import logging
import threading
from collections.abc import Iterator

import pytest
from flask import Flask
from werkzeug.serving import make_server

from dsr import logs
from dsr.accounts.access import public_endpoint
from dsr.config import Settings
from tests.accounts.helpers import TEST_SECRET_KEY
from tests.conftest import MakeApp

TOKEN = "Zm9vYmFy.secret-token-in-the-path"


def _access_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "dsr.access"]


def _as_json(record: logging.LogRecord) -> dict[str, object]:
    line = logs.JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert isinstance(entry, dict)
    return entry


def test_a_request_is_logged_with_its_route_pattern_and_no_path(
    make_app: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_app().test_client()
    with caplog.at_level(logging.INFO, logger="dsr.access"):
        response = client.get(f"/verify/{TOKEN}?email=zoe@example.org")
    assert response.status_code == 200
    [record] = _access_records(caplog)
    entry = _as_json(record)
    assert entry["logger"] == "dsr.access" and entry["level"] == "INFO"
    assert entry["message"] == "GET /verify/<token> 200"
    assert entry["route"] == "/verify/<token>" and entry["endpoint"] == "public.verify"
    assert entry["method"] == "GET" and entry["status"] == 200
    assert isinstance(entry["duration_ms"], float) and entry["duration_ms"] >= 0
    assert entry["request_id"] == response.headers["X-Request-ID"]
    assert entry["client"] == logs.client_hash("127.0.0.1", TEST_SECRET_KEY)
    line = json.dumps(entry)
    for leak in (TOKEN, "zoe@example.org", "127.0.0.1", "email="):
        assert leak not in line


def test_an_unknown_path_is_logged_without_it(
    make_app: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="dsr.access"):
        make_app().test_client().get("/zoe.lefevre@example.org")
    [record] = _access_records(caplog)
    entry = _as_json(record)
    assert entry["message"] == "GET (no route) 404" and "route" not in entry
    assert "zoe" not in json.dumps(entry)


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("3f2a9c1e-77aa-4b1e-9d10-5a6b7c8d9e0f", True), ("zoe@example.org x", False)],
)
def test_a_proxy_request_id_is_kept_only_when_it_looks_like_one(
    make_app: MakeApp, sent: str, kept: bool
) -> None:
    response = make_app().test_client().get("/healthz", headers={"X-Request-ID": sent})
    assert (response.headers["X-Request-ID"] == sent) is kept


def test_behind_a_trusted_proxy_the_forwarded_client_is_the_one_hashed(
    make_app: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    forwarded = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    with caplog.at_level(logging.INFO, logger="dsr.access"):
        make_app(TRUSTED_PROXIES=1).test_client().get("/healthz", headers=forwarded)
        make_app().test_client().get("/healthz", headers=forwarded)
    proxied, direct = (getattr(r, "client", None) for r in _access_records(caplog))
    assert proxied == logs.client_hash("203.0.113.9", TEST_SECRET_KEY)
    assert direct == logs.client_hash("127.0.0.1", TEST_SECRET_KEY)


@pytest.fixture
def failing_app(make_app: MakeApp) -> Flask:
    app = make_app()

    @app.get("/boom/<token>")
    @public_endpoint  # a test route: the staff guard is not under test
    def boom(token: str) -> str:
        raise RuntimeError(f"could not write zoe@example.org for {token}")

    app.testing = False  # let Flask turn the exception into a 500 and log it, as in production
    return app


def test_an_exception_is_logged_by_route_and_class_without_its_message(
    failing_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        response = failing_app.test_client().get(f"/boom/{TOKEN}")
    assert response.status_code == 500
    [error] = [record for record in caplog.records if record.exc_info]
    for formatter in (logs.JsonFormatter(), logs.TextFormatter()):
        line = formatter.format(error)
        assert "Exception on /boom/<token> [GET]" in line
        assert "RuntimeError" in line and "test_logs.py" in line
        assert "zoe@example.org" not in line and TOKEN not in line
    entry = _as_json(error)
    assert entry["exception"]["type"] == "builtins.RuntimeError"  # type: ignore[index]
    assert entry["request_id"] == response.headers["X-Request-ID"]
    assert [r.status for r in _access_records(caplog)] == [500]  # type: ignore[attr-defined]


@pytest.fixture
def dev_server(make_app: MakeApp) -> Iterator[int]:
    """The app on werkzeug's development server in a thread; yield its port."""
    server = make_server("127.0.0.1", 0, make_app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_the_development_server_logs_no_path_nor_address(
    dev_server: int, caplog: pytest.LogCaptureFixture
) -> None:
    logs.redact_werkzeug_access_lines()  # as create_app does for `flask run`
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        connection = http.client.HTTPConnection("127.0.0.1", dev_server, timeout=30)
        try:
            connection.request("GET", f"/verify/{TOKEN}")
            assert connection.getresponse().status == 200
        finally:
            connection.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert lines and all(TOKEN not in line and "127.0.0.1" not in line for line in lines)
    assert any('"GET (path not logged)" 200' in line for line in lines)


def test_configured_logging_drops_the_development_server_lines() -> None:
    record = logging.LogRecord(
        "werkzeug", logging.INFO, __file__, 1, '127.0.0.1 - - [date] "%s" %s %s',
        (f"GET /verify/{TOKEN} HTTP/1.1", "200", "-"), None,
    )  # fmt: skip
    assert logs.WerkzeugAccessFilter(drop=True).filter(record) is False
    other = logging.LogRecord("dsr.app", logging.INFO, __file__, 1, "started", (), None)
    assert logs.WerkzeugAccessFilter(drop=True).filter(other) is True


@pytest.fixture
def restored_root_logger() -> Iterator[None]:
    """Undo `logs.configure` on the root logger, which the rest of the run must not keep."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("restored_root_logger")
@pytest.mark.parametrize(
    ("environment", "json_lines"),
    [({"DSR_ENV": "production"}, True), ({}, False), ({"DSR_LOG_FORMAT": "json"}, True)],
)
def test_a_command_logs_as_the_application_does(
    environment: dict[str, str], json_lines: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    logs.configure(Settings.load(environment, config_file=False).log_format)
    logging.getLogger("dsr.scheduler.process").info("job %s done", "outbox")
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("{") is json_lines
    assert "dsr.scheduler.process" in line and "job outbox done" in line
