"""Time the two pages that take an email address, for a known and an unknown address side by side.

Usage: python bench/address_timing.py [--tries N]
The desk runs on a real HTTP server on loopback (a SQLite store in a temporary folder, a local SMTP
sink), with one request waiting for verification (`/resend` knows its address) and one staff
account (`/staff/password/forgot` knows its address). Each try fetches the form for its CSRF token
and times the POST alone, alternating known and unknown addresses; a worker (threads of this
process, as in the demo) carries out the look-ups and emails, whose queue empties before the next
try. An observer must not tell the two apart: the script prints
the median and spread of each case and exits 1 when the medians differ by more than the spread
of either. The floor beside them is the look-up the pages no longer do inside the request (the
SQL that finds the address), timed alone on the same store.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import logging
import re
import socket
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import text
from werkzeug.serving import make_server

from dsr import db
from dsr.accounts.models import StaffRole
from dsr.accounts.service import create_staff
from dsr.app import create_app
from dsr.worker.cli import worker_in_process
from dsr.worker.queue import queue_for

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
KNOWN = "known.learner@example.org"
STAFF = "dpo@example.org"
UNKNOWN = "nobody.here@example.org"


class Sink:
    """An SMTP handler that accepts everything and keeps nothing."""

    async def handle_DATA(self, *_args: object) -> str:  # noqa: N802 (aiosmtpd's hook name)
        return "250 OK"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Time the POST alone: its redirect is its answer, not followed."""

    def redirect_request(self, *_args: object, **_kwargs: object) -> None:
        return None


def opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirects()
    )


def post(client: urllib.request.OpenerDirector, url: str, body: bytes) -> None:
    """POST and read the answer; the 302 that ends a form's POST is a success."""
    try:
        with client.open(url, data=body) as answer:  # noqa: S310 (loopback)
            answer.read()
    except urllib.error.HTTPError as error:
        if error.code != 302:
            raise


def timed_post(base: str, path: str, email: str) -> float:
    """Fetch the form, then time the POST of `email` (seconds); a redirect is the answer."""
    client = opener()
    with client.open(base + path) as page:  # noqa: S310 (loopback)
        token = CSRF.search(page.read().decode())
    assert token is not None, "no CSRF token"
    body = urllib.parse.urlencode({"csrf_token": token.group(1), "email": email}).encode()
    started = time.perf_counter()
    post(client, base + path, body)
    elapsed = time.perf_counter() - started
    settle()
    return elapsed


_queues: list[Any] = []
"""The queue of the desk under test, once it exists."""


def settle(timeout: float = 60) -> None:
    """Wait until the worker took every job of the queue (the last may still be finishing)."""
    deadline = time.monotonic() + timeout
    while any(queue.pending_count() for queue in _queues):
        if time.monotonic() > deadline:
            raise SystemExit("the worker did not take the queued jobs")
        time.sleep(0.01)


def file_request(base: str, email: str) -> None:
    client = opener()
    with client.open(base + "/") as page:  # noqa: S310 (loopback)
        token = CSRF.search(page.read().decode())
    assert token is not None, "no CSRF token"
    fields = {"csrf_token": token.group(1), "email": email, "request_type": "access"}
    body = urllib.parse.urlencode({**fields, "language": "en"}).encode()
    post(client, base + "/", body)
    settle()


def describe(samples: list[float]) -> tuple[float, float, str]:
    median = statistics.median(samples)
    q1, _, q3 = statistics.quantiles(samples, n=4)
    text_ = (
        f"median {median * 1000:6.2f} ms  IQR {(q3 - q1) * 1000:5.2f} ms  "
        f"min {min(samples) * 1000:6.2f}  max {max(samples) * 1000:6.2f}"
    )
    return median, q3 - q1, text_


def floor(engine: db.Engine, statement: str, email: str, tries: int) -> float:
    samples = []
    for _ in range(tries):
        started = time.perf_counter()
        with engine.connect() as connection:
            connection.execute(text(statement), {"email": email}).all()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=30)
    options = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no request lines (paths)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        smtp_port = probe.getsockname()[1]
    smtp = Controller(Sink(), hostname="127.0.0.1", port=smtp_port, server_hostname="localhost")
    smtp.start()
    with tempfile.TemporaryDirectory(prefix="dsr_bench_") as folder:
        url = f"sqlite:///{Path(folder) / 'store.sqlite3'}"
        db.run_migrations(url)
        app = create_app(
            {
                "DATABASE_URL": url,
                "SECRET_KEY": "a secret for this benchmark only, long enough",
                "SMTP_HOST": "127.0.0.1",
                "SMTP_PORT": smtp_port,
                "MAIL_SENDER": "privacy@example.org",
                "RATELIMIT_ENABLED": False,
                "SESSION_COOKIE_SECURE": False,  # plain http on loopback
                "PUBLIC_URL": "http://127.0.0.1",
                "QUEUE_URL": f"sqlite:///{Path(folder) / 'queue.sqlite3'}",
            }
        )
        _queues.append(queue_for(app.config, app.instance_path))
        engine = db.get_engine(app)
        with db.transaction(engine) as session:
            create_staff(db_session=session, email=STAFF, role=StaffRole.DPO, now=db.utcnow())
        worker = worker_in_process(app, threads=2)
        worker.__enter__()
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{server.server_port}"
        failed = False
        try:
            file_request(base, KNOWN)  # the request /resend will know, waiting for verification
            cases: list[tuple[str, str, str, str]] = [
                ("/resend", KNOWN, "a request waits for this address", "dsr_request"),
                ("/staff/password/forgot", STAFF, "a staff account", "dsr_staff_user"),
            ]
            for path, known, what, table in cases:
                samples: dict[str, list[float]] = {"known": [], "unknown": []}
                post: Callable[[str], float] = lambda email, path=path: timed_post(  # noqa: E731
                    base, path, email
                )
                post(UNKNOWN)  # warm up the page and its templates
                for _ in range(options.tries):
                    samples["known"].append(post(known))
                    samples["unknown"].append(post(UNKNOWN))
                known_median, known_spread, known_text = describe(samples["known"])
                unknown_median, unknown_spread, unknown_text = describe(samples["unknown"])
                column = "normalized_email" if table == "dsr_request" else "email"
                floor_ms = 1000 * floor(
                    engine,
                    f"SELECT * FROM {table} WHERE {column} = :email",  # noqa: S608 (fixed names)
                    known,
                    options.tries,
                )
                gap = abs(known_median - unknown_median)
                tells = gap > max(known_spread, unknown_spread)
                failed |= tells
                print(f"POST {path} ({options.tries} tries each)")
                print(f"  known address ({what}): {known_text}")
                print(f"  unknown address:{' ' * (len(what) + 3)}{unknown_text}")
                print(
                    f"  gap of the medians {gap * 1000:.2f} ms "
                    f"({'TELLS the address apart' if tells else 'within the spread'}); "
                    f"floor: the look-up moved off the request, alone, {floor_ms:.2f} ms"
                )
        finally:
            server.shutdown()
            settle()
            worker.__exit__(None, None, None)
            engine.dispose()
            smtp.stop()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
