"""Time a restarted web process's first public submission, with and without its warm-up.

Usage: python bench/cold_start.py [--starts N] [--after N]

A scratch PostgreSQL store is created and migrated (dropped at the end). gunicorn then serves
the desk with one worker, N times (3) as the README's production runs it
(`-c python:dsr.gunicorn_conf`: each worker warms itself up before its first request,
`dsr.warm_up`) and N times without that configuration (everything built by the first requests);
each time, once the worker answers the health check, one visitor GETs the form and POSTs a
request, then `--after` (20) more do: the floor is the median of those later ones, the
submission of a process that has been serving. Printed: the first GET + POST beside the floor,
for each way of starting (median of the starts), and how long the worker took to answer its
first health check.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from load import HOST, Visitor, csrf_token
from machine import speed_line
from scratch import free_port, scratch_database

PROJECT_ROOT = Path(__file__).resolve().parents[1]
START_SECONDS = 120.0
CALL_SECONDS = 30.0


def environment(url: str, folder: Path) -> dict[str, str]:
    kept = {name: value for name, value in os.environ.items() if not name.startswith("DSR_")}
    return {
        **kept,
        "DSR_DATABASE_URL": url,
        "DSR_SECRET_KEY": secrets.token_hex(32),
        "DSR_PUBLIC_LIMIT_PER_ADDRESS": "1000000/minute",
        "DSR_PUBLIC_LIMIT_PER_EMAIL": "1000000/minute",
        "DSR_DELIVER_AFTER_COMMIT": "false",  # the emails stay in the outbox: no worker here
        "DSR_QUEUE_URL": f"sqlite:///{folder / 'queue.sqlite3'}",
    }


@contextmanager
def served(settings: dict[str, str], *, warm: bool) -> Iterator[tuple[int, float]]:
    """Run gunicorn with one worker; yield its port and the seconds until it answered."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "dsr.app:create_app()", f"--bind={HOST}:{port}"]
    command += ["--workers=1", "--log-level=warning"]
    if warm:
        command += ["--config=python:dsr.gunicorn_conf"]
    started = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603
        command, cwd=PROJECT_ROOT, env=settings, stderr=subprocess.DEVNULL
    )
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {process.returncode}")
            if time.perf_counter() - started > START_SECONDS:
                raise RuntimeError("gunicorn did not answer")
            try:
                Visitor(port, time.monotonic() + CALL_SECONDS).call("GET", "/healthz")
                break
            except OSError:
                time.sleep(0.05)
        yield port, time.perf_counter() - started
    finally:
        process.terminate()
        process.wait(timeout=30)


def submission(port: int, email: str) -> float:
    """GET the form, POST a request for `email` (bench/load.py's client); return the seconds of
    both."""
    visitor = Visitor(port, time.monotonic() + CALL_SECONDS)
    page = visitor.call("GET", "/")
    if page.status != 200:
        raise RuntimeError(f"the form answered {page.status}")
    form = {
        "csrf_token": csrf_token(page),
        "email": email,
        "request_type": "access",
        "language": "fr",
        "message": "",
        "website": "",
    }
    sent = visitor.call("POST", "/", form=form)
    if sent.status != 302:
        raise RuntimeError(f"the submission answered {sent.status}")
    return page.seconds + sent.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=3)
    parser.add_argument("--after", type=int, default=20)
    args = parser.parse_args()
    print(speed_line("as the bench starts"))
    with (
        scratch_database("dsr_bench_cold_start") as url,
        tempfile.TemporaryDirectory(prefix="dsr-bench-cold-") as folder,
    ):
        settings = environment(url, Path(folder))
        subprocess.run(  # noqa: S603
            [sys.executable, "-c", "from dsr.cli import main; main()", "db", "upgrade"],
            cwd=PROJECT_ROOT,
            env=settings,
            check=True,
            capture_output=True,
        )
        count = 0
        for warm in (True, False):
            firsts: list[float] = []
            later: list[float] = []
            ready: list[float] = []
            for _ in range(args.starts):
                with served(settings, warm=warm) as (port, seconds):
                    ready.append(seconds)
                    count += 1
                    firsts.append(submission(port, f"cold.{count}@example.org"))
                    for _ in range(args.after):
                        count += 1
                        later.append(submission(port, f"cold.{count}@example.org"))
            floor = statistics.median(later)
            first = statistics.median(firsts)
            how = "warmed up (dsr.gunicorn_conf)" if warm else "without warm-up (no -c)"
            print(f"\n{how}, {args.starts} starts of one worker")
            print(f"  ready (health check answered)  {statistics.median(ready) * 1000:7.0f} ms")
            ratio = first / floor
            print(f"  first GET form + POST          {first * 1000:7.1f} ms  ({ratio:.1f}x)")
            print(f"  floor: the next {args.after}, median     {floor * 1000:7.1f} ms")
    print(speed_line("as the bench ends"))


if __name__ == "__main__":
    main()
