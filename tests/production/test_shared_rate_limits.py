"""With several gunicorn workers, rate limits must be counted once for all of them: Redis
(DSR_RATELIMIT_STORAGE_URI=redis://...) holds the count; in memory each worker counts alone
(production warns about it: tests/production/test_settings.py)."""

from __future__ import annotations

import secrets
import socket

import pytest
import redis
from flask import Flask

from dsr import db
from tests.accounts.helpers import login, make_staff
from tests.conftest import MakeApp
from tests.smtp_server import SmtpServer
from tests.web.conftest import file_request

REDIS = ("127.0.0.1", 6379)


def _redis_answers() -> bool:
    try:
        with socket.create_connection(REDIS, timeout=30) as connection:  # refused at once if down
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture
def redis_url() -> str:
    # make test starts the services (scripts/ensure-services.sh); a missing Redis is a failure.
    assert _redis_answers(), "Redis does not answer on 127.0.0.1:6379: run `make services`"
    return f"redis://{REDIS[0]}:{REDIS[1]}"


def _worker(make: MakeApp, storage: str, prefix: str) -> Flask:
    return make(
        PUBLIC_LIMIT_PER_ADDRESS="2/hour",
        RATELIMIT_STORAGE_URI=storage,
        RATELIMIT_KEY_PREFIX=prefix,  # this test's own counters in the shared Redis
    )


def test_the_count_lives_in_redis_for_every_worker(
    make_app: MakeApp, smtp_server: SmtpServer, redis_url: str
) -> None:
    prefix = f"dsr-test-{secrets.token_hex(8)}"
    app = _worker(make_app, redis_url, prefix)
    client = redis.Redis.from_url(redis_url)
    try:
        assert file_request(app.test_client(), email="one@example.org").status_code == 302
        assert file_request(app.test_client(), email="two@example.org").status_code == 302
        assert file_request(app.test_client(), email="three@example.org").status_code == 429
        # The counters are in Redis, where another worker (another process) reads the same ones.
        keys = list(client.scan_iter(match=f"*{prefix}*"))
        assert keys, "no rate-limit counter was written to Redis"
        assert any(b"public-mail" in key for key in keys)
        assert all(b"@" not in key for key in keys)  # emails are hashed in their own keys
    finally:
        for key in client.scan_iter(match=f"*{prefix}*"):
            client.delete(key)
        client.close()


def test_failed_logins_are_counted_once_for_every_worker(make_app: MakeApp, redis_url: str) -> None:
    prefix = f"dsr-test-{secrets.token_hex(8)}"
    workers = [
        make_app(RATELIMIT_STORAGE_URI=redis_url, RATELIMIT_KEY_PREFIX=prefix) for _ in range(2)
    ]
    user = make_staff(db.get_engine(workers[0]), role="dpo", email="dana@example.org")
    client = redis.Redis.from_url(redis_url)
    try:
        for number in range(5):  # spread over both workers, as a load balancer would
            login(workers[number % 2].test_client(), user.email, "a guess")
        assert login(workers[0].test_client(), user.email).status_code == 200  # both make it wait
        assert login(workers[1].test_client(), user.email).status_code == 200
        keys = list(client.scan_iter(match=f"*{prefix}dsr-login/*"))
        assert keys and all(b"dana" not in key and b"127.0.0.1" not in key for key in keys)
    finally:
        for key in client.scan_iter(match=f"*{prefix}*"):
            client.delete(key)
        client.close()
