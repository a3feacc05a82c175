"""The production setup end to end, as the README describes it: the store on PostgreSQL or
MariaDB migrated by `dsr db upgrade`, the desk under gunicorn with two workers and secrets from
the environment, `dsr scheduler run-once` beside it on the same store, /healthz, and logs that
are JSON lines without personal data, tokens or paths.

One gunicorn per engine: every check of a running desk is in the one test that starts it.
"""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from dsr import db
from dsr.demo.seed import seed_platform
from dsr.requests.models import DataRequest
from dsr.requests.workflow import Status
from tests.databases import EngineKind
from tests.production.server import (
    DATA_MAP,
    production_environment,
    run_dsr,
    started_gunicorn,
    wait_for_exit,
)
from tests.smtp_server import SmtpServer

PUBLIC_URL = "https://privacy.example.org"
VERIFY_LINK = re.compile(re.escape(PUBLIC_URL) + r"(/verify/([A-Za-z0-9._-]+))")
STATUS_PATH = re.compile(r"^(?:https?://[^/]+)?(/status/([A-Za-z0-9._-]+))$")


def _desk_environment(
    store_url: str, platform_url: str, smtp: SmtpServer, **extra: str
) -> dict[str, str]:
    return production_environment(
        DSR_ENV="production",
        DSR_SECRET_KEY=secrets.token_urlsafe(48),
        DSR_DATABASE_URL=store_url,
        DSR_DATA_MAP=str(DATA_MAP),
        POINT3_PLATFORM_URL=platform_url,
        DSR_SMTP_HOST=smtp.host,
        DSR_SMTP_PORT=str(smtp.port),
        DSR_MAIL_SENDER="privacy@example.org",
        DSR_DELIVER_AFTER_COMMIT="false",  # the scheduler sends the mail, as it would here
        DSR_PUBLIC_URL=PUBLIC_URL,
        DSR_ALLOWED_HOSTS="127.0.0.1",  # the tests reach the desk directly, as a probe would
        **extra,
    )


def _records(lines: list[str]) -> list[dict[str, Any]]:
    records = []
    for line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise AssertionError(f"not a JSON line: {line!r}") from None
        assert isinstance(record, dict), line
        assert {"time", "level", "logger", "message"} <= record.keys(), line
        records.append(record)
    return records


@pytest.mark.databases("postgresql", "mariadb")
@pytest.mark.timeout(600)  # migrations, gunicorn's start and the scheduler, each a process
def test_the_desk_runs_under_gunicorn_beside_the_scheduler(
    engine_kind: EngineKind, engine_url: str, tmp_path: Path, smtp_server: SmtpServer
) -> None:
    platform_url = f"sqlite:///{(tmp_path / 'platform.sqlite3').as_posix()}"
    seed_platform(platform_url, learners=20)
    environment = _desk_environment(engine_url, platform_url, smtp_server)

    upgraded = run_dsr(environment, "db", "upgrade", cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    email = f"Prod.Learner.{secrets.token_hex(4)}@Example.org"

    with started_gunicorn(environment, tmp_path) as server:
        browser = server.browser()
        health = browser.get("/healthz")
        assert health.status == 200, health.text
        assert health.json() == {
            "status": "ok",
            "checks": {"store": "ok", "map": "ok", "systems": {"learner_platform": "ok"}},
        }
        assert health.headers["Strict-Transport-Security"] == "max-age=31536000"
        forged = server.send_raw(b"GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n")
        assert forged.startswith(b"HTTP/1.1 400"), forged

        filed = browser.submit("/", {"email": email, "request_type": "access", "language": "en"})
        assert filed.status == 302, filed.text
        assert filed.headers["Location"].endswith("/sent")
        session_cookie = next(h for h in browser.set_cookie_headers if h.startswith("session="))
        assert "Secure" in session_cookie and "HttpOnly" in session_cookie

        engine = db.make_engine(engine_url)
        try:
            with db.open_session(engine) as session:
                stored = session.exec(select(DataRequest)).all()
        finally:
            engine.dispose()
        assert [(r.normalized_email, r.status) for r in stored] == [
            (email.lower(), Status.RECEIVED)
        ]
        assert smtp_server.messages == []  # left in the outbox for the scheduler

        sent = run_dsr(environment, "scheduler", "run-once", "outbox", cwd=tmp_path)
        assert sent.returncode == 0, sent.stderr
        assert "outbox: 1 done, 0 errors." in sent.stdout
        verification = smtp_server.wait_for(1, timeout=30)[0]
        assert verification.envelope_recipients == (email,)
        found = VERIFY_LINK.search(verification.text)
        assert found is not None, verification.text
        verify_path, verify_token = found.groups()

        confirmed = browser.submit(verify_path, {})
        assert confirmed.status == 302, confirmed.text
        status = STATUS_PATH.match(confirmed.headers["Location"])
        assert status is not None, confirmed.headers["Location"]
        status_path, status_token = status.groups()
        assert browser.get(status_path).status == 200
        request_id = browser.get("/healthz").headers["X-Request-ID"]
        bad_line = f"GET /verify/{email} HTTP/1.1 and more\r\nHost: x\r\n\r\n".encode()
        assert server.send_raw(bad_line).startswith(b"HTTP/1.1 400")  # gunicorn's refusal

    exited = server.process.returncode
    assert exited == 0, f"gunicorn stopped with {exited}"
    lines = server.log_lines()
    records = _records(lines)
    everything = "\n".join(lines)
    for secret in (email, email.lower(), verify_token, status_token, verify_path, status_path):
        assert secret not in everything

    requests = [r for r in records if r["logger"] == "dsr.access"]
    routes = {(r["method"], r.get("route"), r["status"]) for r in requests}
    assert {
        ("GET", "/healthz", 200),
        ("GET", "/", 200),
        ("POST", "/", 302),
        ("GET", "/verify/<token>", 200),
        ("POST", "/verify/<token>", 302),
        ("GET", "/status/<token>", 200),
        ("GET", None, 400),  # the forged Host, refused before routing
    } <= routes
    for record in requests:
        assert {"request_id", "duration_ms", "client"} <= record.keys(), record
        assert ("endpoint" in record) is ("route" in record), record
        assert record["client"] != "127.0.0.1" and len(record["client"]) == 16
    assert request_id in {r["request_id"] for r in requests}
    assert "127.0.0.1" not in json.dumps(requests)
    assert any(  # production's own warning: each worker counts rate limits on its own
        r["level"] == "WARNING" and "DSR_RATELIMIT_STORAGE_URI" in r["message"] for r in records
    )
    gunicorn_says = [r["message"] for r in records if r["logger"] == "gunicorn.error"]
    assert "Invalid request (details not logged)" in gunicorn_says  # no address, no line
    warmed = [r for r in records if r["logger"] == "dsr.warm_up"]
    assert [r["message"] for r in warmed] == ["web process warmed up"] * 2  # each worker, once


@pytest.fixture
def upgraded_store(tmp_path: Path) -> str:
    url = f"sqlite:///{(tmp_path / 'store.sqlite3').as_posix()}"
    db.run_migrations(url)
    return url


@pytest.mark.parametrize(
    ("secret", "with_config"),
    [(None, False), ("dev", True)],
    ids=["unset-plain-command", "default-with-dsr-config"],
)
def test_gunicorn_refuses_to_start_in_production_without_a_real_secret(
    upgraded_store: str, tmp_path: Path, with_config: bool, secret: str | None
) -> None:
    settings = {"DSR_ENV": "production", "DSR_DATABASE_URL": upgraded_store}
    if secret is not None:
        settings["DSR_SECRET_KEY"] = secret
    environment = production_environment(**settings)
    with started_gunicorn(
        environment, tmp_path, workers=1, with_config=with_config, wait_until_ready=False
    ) as server:
        code = wait_for_exit(server.process)
    assert code != 0
    said = "\n".join(server.log_lines())
    assert "DSR_SECRET_KEY" in said
    assert "DSR_PUBLIC_URL is not set" in said
    assert "refuses to start in production" in said
    if with_config:  # the refusal is also a JSON record (gunicorn then prints it as text too)
        json_lines = [line for line in server.log_lines() if line.startswith("{")]
        assert any(
            record["level"] == "CRITICAL" and "DSR_SECRET_KEY" in record["message"]
            for record in _records(json_lines)
        )
