"""Load the desk under gunicorn on loopback: concurrent public submissions, API calls with
idempotency keys, and staff reading a 100,000-request queue, each against its raw-SQL floor.

Usage: python bench/load.py [--submissions N] [--rate R] [--api-calls N] [--requests N]
       [--readers N] [--read-seconds S] [--think-seconds S] [--no-together] [--time-limit S]
       [--workers N] [--staff-workers N] [--threads N] [--worker-class K] [--job-workers N]
       [--no-callbacks] [--limits redis|memory] [--queue sqlite|redis] [--redis URL]

A scratch PostgreSQL store is created (dropped at the end, even on failure or SIGTERM), migrated
with `dsr db upgrade`, and filled with `--requests` requests by bench/queue_page.py's bulk
seeding (the year's reference counter carried past them), so that every phase works on a full
store. gunicorn then serves `dsr.app:create_app()` with the README's production configuration
(`-c python:dsr.gunicorn_conf`: each worker warms itself up) on a free loopback port, with the
rate limits raised and the outbox delivering to an SMTP sink run by this script, and a second
gunicorn of `--staff-workers` processes (2) serves the staff's pages, as the README's production
runs them behind the reverse proxy (`--staff-workers 0`: the staff share the public processes);
when the desk has `dsr worker`, `--job-workers` of them run beside it with the same settings.
The rate limits are counted in Redis (`--redis`, redis://127.0.0.1:6379/0), as the README's
production counts them (`--limits memory`: each process on its own), and the jobs wait in a
SQLite file of the run's own, the one-machine default (`--queue redis`: in Redis, as workers on
several machines need), under names of the run's own that are removed at the end; Redis's CPU
counts as the desk's. Three phases follow:

1. API: the calls share their Idempotency-Key in pairs fired together; each key must store one
   request, answered 201 once and replayed (200, same reference) once. Each request names a
   status callback on a local endpoint that accepts and never answers (allowed through
   DSR_CALLBACK_ALLOWED_NETWORKS); the requests are then cancelled, so that every cancel's
   callback hangs while the next phases run (`--no-callbacks` leaves them out, to compare);
2. submissions: 1,000 clients arriving at `--rate` per second, steadily (100 by default, the
   figure's; 0: every client at once; each client's thread started at its arrival), each GETs
   the public form (CSRF token and cookie) and POSTs a request for its own address; the store
   must then hold exactly one request per address, and the SMTP sink one email per address:
   none is lost, two is duplicated. Before the API phase, every web process has filed a few
   requests (each type in both languages, from addresses of their own), as a desk that has
   been serving has: cold processes made a backlog in the first timed seconds that took seconds
   to drain, most of the POST p95;
3. dashboard: staff readers log in through the login page and land on the queue, then read it
   (filters, pages, searches) while the submissions arrive (`--no-together`: after them),
   pausing about `--think-seconds` (2 s) on each page (0: back to back), for `--read-seconds`
   (enough to cover the submissions); each reader starts reading at a random moment within one
   pause after the logins (20 people do not click at the same instant; they did before, and
   that one burst of 40 pages made most of the readers' p95 even with no submission arriving);
   the page a reader lands on, before the submissions start, is not timed; the floor is the
   page's five queries timed directly, on a connection of the bench's own, both while the staff
   read (sampled over the same window, under the same load: the floor the readers' p95 is judged
   against) and alone after the load (printed beside it).

Each phase is bounded in count and in time (`--time-limit`). Figures: throughput, p50, p95 and
max latency (with every client at once, mostly time queued behind the server's threads), and
the floors (for the writes, their serialised statements: the reference counter and the request
row, committed by as many threads as the server has), and the CPU time each part spent per
submission (gunicorn's processes, the job workers, the store's backends, this script's clients
and SMTP sink): on the 2-core box shared by all of them, about 20 ms in all is what 100 per
second allows. Exit 1 when a request is lost or stored twice, an idempotent replay differs, an
answer is a 5xx or missing, or the server logs an error. Last, each figure of issue 17 is
judged on this run ("target ...: met" or "MISSED", with the measure): the rate sustained, the
submissions' p95, nothing lost, duplicated or 5xx, the readers' p95 against their floor while
the submissions arrive, and all of it while the status callbacks hang on the black hole.

Workers: sync, 2 x cores + 1 processes by default, as in the README's production command. On
the 2-core box, shared with other work (load average 5 to 13), the figure's run measured with
sync 5 processes 32.5 submissions/s and 35.6 ms of CPU per submission (web 18.6), with gthread
5 x 4 threads 25.7/s and 41.6 ms (web 20.9); at 100/s without the readers, 30.8/s and 32.2 ms
against 29.5/s and 36.8 ms: a thread pool and its poller cost CPU and gain nothing while
every submission waits for the one that holds the year's reference counter, which takes longer
to commit the more threads compete for the cores. `--worker-class gthread --threads N` compares.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import redis
from aiosmtpd.smtp import SMTP, Envelope, Session
from machine import speed_line
from queue_page import NOW, fill, page_queries, percentile, query_of, request_rows, varied_queries
from scratch import free_port, scratch_database, smtp_server
from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import Engine, make_url

from dsr import db
from dsr.accounts.models import StaffRole, StaffUser
from dsr.accounts.service import hash_password
from dsr.api.models import ApiToken
from dsr.outbox.models import OutboxMessage, OutboxStatus
from dsr.requests.models import DataRequest, ReferenceCounter, next_reference
from dsr.requests.workflow import RequestType

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SCRATCH_DATABASE = f"dsr_bench_load_{os.getpid()}"
HOST = "127.0.0.1"
WEB_PREFIX = "load-web-"
API_PREFIX = "load-api-"
KEY_PREFIX = "load-key-"
READER_PREFIX = "load-reader-"
READER_PASSWORD = "a long password for the load bench"  # noqa: S105
RAISED_LIMIT = "1000000/minute"
REDIS_URL = "redis://127.0.0.1:6379/0"
START_SECONDS = 90.0
MAIL_WAIT_SECONDS = 60.0
"""How long the verification emails may take to reach the sink after the last answer."""
CSRF_FIELD = re.compile(rb'name="csrf_token" value="([^"]+)"')
API_TYPES = [
    RequestType.ACCESS,
    RequestType.PORTABILITY,
    RequestType.ERASURE,
    RequestType.RESTRICTION,
    RequestType.DEACTIVATION,
]
"""Not objection: the API honours it at once on the learner platform, which this bench leaves
alone; not rectification: it needs details, and its path is the same."""
REPLAYED_FIELDS = ("reference", "subject_request_type", "status", "received_at", "verified_at")


# --- HTTP clients -------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    location: str
    body: bytes
    seconds: float


class Visitor:
    """One browser: its cookies, kept by hand (the session cookie is Secure, and the standard
    library's jar keeps Secure cookies from plain HTTP even on loopback), and a deadline that
    bounds every call. Each call opens its own connection: no keep-alive race can turn into a
    silently retried POST.

    HTTP/1.1 is spoken on a bare socket (the request written in one piece, the answer read to the
    connection's end): the clients share the 2 cores with the desk, and `http.client`, which
    parses each answer's headers with the email package, cost about 1.4 ms of CPU per form
    submission (GET + POST) that the server could not have."""

    def __init__(self, port: int, deadline: float) -> None:
        self.port = port
        self.deadline = deadline
        self.cookies: dict[str, str] = {}

    def call(
        self,
        method: str,
        path: str,
        *,
        form: dict[str, str] | None = None,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        timeout = self.deadline - time.monotonic()
        if timeout <= 0:
            raise TimeoutError("time limit reached")
        sent = {
            "Host": f"{HOST}:{self.port}",
            "Connection": "close",
            "Accept-Language": "fr",
            **(headers or {}),
        }
        if form is not None:
            body = urlencode(form).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        if body is not None:
            sent["Content-Length"] = str(len(body))
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        request = "".join(
            [f"{method} {path} HTTP/1.1\r\n", *(f"{k}: {v}\r\n" for k, v in sent.items()), "\r\n"]
        ).encode("latin-1") + (body or b"")
        started = time.perf_counter()
        with socket.create_connection((HOST, self.port), timeout=timeout) as connection:
            connection.sendall(request)
            chunks = []
            while chunk := connection.recv(65536):
                chunks.append(chunk)
        seconds = time.perf_counter() - started
        status, answer_headers, data = parse_answer(b"".join(chunks))
        for name, value in answer_headers:
            if name == "set-cookie":
                pair, *attributes = value.split(";")
                cookie, _, content = pair.strip().partition("=")
                if any(item.strip().lower() == "max-age=0" for item in attributes):
                    self.cookies.pop(cookie, None)
                else:
                    self.cookies[cookie] = content
        location = next((value for name, value in answer_headers if name == "location"), "")
        return Answer(status, location, data, seconds)


def parse_answer(raw: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
    """Split an HTTP/1.1 answer read to the connection's end into its status, its headers (names
    in lower case, in order) and its body (chunks joined); ValueError when it is not one."""
    head, separator, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if not separator or len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise ValueError("not an HTTP answer")
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name.strip().lower(), value.strip()))
    if ("transfer-encoding", "chunked") in headers:
        body = _unchunked(body)
    return int(parts[1]), headers, body


def _unchunked(body: bytes) -> bytes:
    pieces, at = [], 0
    while True:
        end = body.index(b"\r\n", at)
        size = int(body[at:end].split(b";")[0], 16)
        if size == 0:
            return b"".join(pieces)
        pieces.append(body[end + 2 : end + 2 + size])
        at = end + 2 + size + 2


def csrf_token(answer: Answer) -> str:
    found = CSRF_FIELD.search(answer.body)
    if found is None:
        raise ValueError(f"no CSRF token on a {answer.status} page")
    return found.group(1).decode()


@dataclass
class Outcome:
    """What one client saw: every status code, the timed calls, and what went wrong."""

    statuses: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    ok: bool = False
    answered: bool = False  # the call that stores got an HTTP answer, whatever it said
    error: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


def run_clients(
    count: int,
    client: Callable[[int, Outcome], None],
    time_limit: float,
    rate: float | None = None,
) -> tuple[list[Outcome], int, float]:
    """Start `count` clients together (or, with `rate`, one every 1/rate seconds: arrivals at a
    steady rate, whatever the answers' speed); return their outcomes, how many had not finished
    when the time limit ran out, and the wall time. A client's exception is its outcome's error."""
    outcomes = [Outcome() for _ in range(count)]
    gate = threading.Event()
    begin = {"at": 0.0}

    def run(index: int) -> None:
        gate.wait()
        if rate:
            time.sleep(max(0.0, begin["at"] + index / rate - time.monotonic()))
        try:
            client(index, outcomes[index])
        except Exception as error:  # a client's failure is a figure, not the bench's end
            outcomes[index].error = type(error).__name__

    threads = [threading.Thread(target=run, args=(n,), daemon=True) for n in range(count)]
    if rate:
        # Each client's thread starts at its arrival, not all at once before the first: a
        # thousand threads woken together would cost the bench's process (and the cores it
        # shares with the desk) a burst of work just as the first submissions arrive.
        gate.set()
        started = begin["at"] = time.monotonic()
        for index, thread in enumerate(threads):
            time.sleep(max(0.0, started + index / rate - time.monotonic()))
            thread.start()
    else:
        for thread in threads:
            thread.start()
        started = begin["at"] = time.monotonic()
        gate.set()
    deadline = started + time_limit
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    wall = time.monotonic() - started
    unfinished = sum(thread.is_alive() for thread in threads)
    return outcomes, unfinished, wall


# --- the server and its surroundings ------------------------------------------------------------


class SinkHandler:
    """Accept every message and count it per recipient: the outbox has somewhere real to
    deliver, and the bench can tell a submission whose email never came (lost) or came twice."""

    def __init__(self) -> None:
        self.received = 0
        self.per_recipient: Counter[str] = Counter()
        self.arrived = threading.Condition()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        with self.arrived:
            self.received += 1
            self.per_recipient.update(address.lower() for address in envelope.rcpt_tos)
            self.arrived.notify_all()
        return "250 Message accepted"

    def wait_for(self, addresses: set[str], timeout: float) -> set[str]:
        """Wait until each of `addresses` received a message or `timeout` passes; return those
        still waiting (the deliveries run after the answers, on the server's threads)."""
        with self.arrived:
            self.arrived.wait_for(lambda: addresses <= self.per_recipient.keys(), timeout)
            return addresses - self.per_recipient.keys()

    def twice(self, addresses: set[str]) -> int:
        with self.arrived:
            return sum(1 for address in addresses if self.per_recipient[address] > 1)


class BlackHole:
    """A callback endpoint that accepts connections and never answers: the status callbacks of
    the API's requests go there, and nothing else may slow down because of it."""

    def __init__(self) -> None:
        self.listener = socket.create_server((HOST, 0))
        self.port: int = self.listener.getsockname()[1]
        self.accepted = 0
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                connection, _ = self.listener.accept()
                self.accepted += 1
                self.held.append(connection)  # kept open, never read, never answered

    def close(self) -> None:
        self.listener.close()
        for connection in self.held:
            connection.close()


@contextmanager
def smtp_sink() -> Iterator[tuple[int, SinkHandler]]:
    handler = SinkHandler()
    with smtp_server(handler, HOST) as port:
        yield port, handler


def server_environment(
    url: str, smtp_port: int, *, deliver: bool, shared: SharedStorage
) -> dict[str, str]:
    """The environment of the `dsr` commands and of gunicorn: none of the caller's DSR_ settings,
    a long random secret, limits no bench client reaches, the SMTP sink (without `deliver`,
    emails are only queued, as when the scheduler alone sends them), and where the rate limits
    are counted and the jobs wait (`shared`)."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("DSR_")}
    environment.update(
        {
            "DSR_DATABASE_URL": url,
            "DSR_SECRET_KEY": secrets.token_hex(32),
            "DSR_PUBLIC_LIMIT_PER_ADDRESS": RAISED_LIMIT,
            "DSR_PUBLIC_LIMIT_PER_EMAIL": RAISED_LIMIT,
            "DSR_API_RATE_LIMIT": RAISED_LIMIT,
            "DSR_STAFF_LOGIN_LIMIT_PER_ADDRESS": RAISED_LIMIT,
            "DSR_SMTP_HOST": HOST,
            "DSR_SMTP_PORT": str(smtp_port),
            "DSR_DELIVER_AFTER_COMMIT": "true" if deliver else "false",
            "DSR_CALLBACK_ALLOWED_NETWORKS": f"{HOST}/32",  # the black hole's loopback
            **shared.environment(),
        }
    )
    return environment


@dataclass(frozen=True)
class SharedStorage:
    """Where the desk counts its rate limits and queues its jobs during the run, under names of
    the run's own (removed afterwards). By default the limits are counted in Redis, as the
    README's production counts them (in memory each gunicorn process would count on its own,
    which production warns against), and the jobs wait in a SQLite file of the run's own, the
    one-machine default (never `instance/queue.sqlite3`, which a demo may be using);
    `--queue redis` queues them in Redis as workers on several machines need, `--limits memory`
    counts in each process's memory."""

    redis_url: str | None
    """None: nothing in Redis (limits in memory, jobs in SQLite)."""
    limits_in_redis: bool
    queue_in_redis: bool
    folder: Path

    @property
    def name(self) -> str:
        return SCRATCH_DATABASE

    def environment(self) -> dict[str, str]:
        settings = {"DSR_QUEUE_URL": f"sqlite:///{self.folder / 'queue.sqlite3'}"}
        if self.redis_url is not None and self.limits_in_redis:
            settings["DSR_RATELIMIT_STORAGE_URI"] = self.redis_url
            settings["DSR_RATELIMIT_KEY_PREFIX"] = self.name
        if self.redis_url is not None and self.queue_in_redis:
            settings["DSR_QUEUE_URL"] = self.redis_url
            settings["DSR_QUEUE_NAME"] = self.name
        return settings

    def describe(self) -> str:
        limits = "in Redis" if self.limits_in_redis else "in each process's memory"
        jobs = "in Redis" if self.queue_in_redis else "in a SQLite file"
        where = f" ({self.redis_url})" if self.redis_url is not None else ""
        return f"rate limits counted {limits}, jobs queued {jobs}{where}"

    def server_pid(self) -> int | None:
        """The Redis server's process, when it runs on this machine (its CPU is the desk's)."""
        if self.redis_url is None:
            return None
        client = redis.Redis.from_url(self.redis_url)
        try:
            info = client.info("server")
        finally:
            client.close()
        local = urlsplit(self.redis_url).hostname in (HOST, "localhost")
        return int(info["process_id"]) if local else None

    @contextmanager
    def kept(self) -> Iterator[None]:
        """Check that Redis answers (a clear failure otherwise), and remove this run's keys at
        the end."""
        if self.redis_url is None:
            yield
            return
        client = redis.Redis.from_url(self.redis_url)
        try:
            client.ping()
        except redis.RedisError as error:
            client.close()
            raise SystemExit(
                f"Redis at {self.redis_url} does not answer ({type(error).__name__}): start it, "
                "or run the bench with --limits memory --queue sqlite"
            ) from None
        try:
            yield
        finally:
            # The limits' keys (LIMITS:LIMITER/<prefix>/...) and the queue's (huey.redis.<name>)
            for key in client.scan_iter(match=f"*{self.name}*", count=1000):
                client.delete(key)
            client.close()


def dsr_command() -> list[str]:
    script = Path(sys.executable).with_name("dsr")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from dsr.cli import main; main()"]


def wait_until_serving(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    """Poll the public OpenAPI document until it answers; fail early if gunicorn exits."""
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{log.read_text()}")
        with contextlib.suppress(OSError, ValueError):
            answer = Visitor(port, time.monotonic() + 5).call("GET", "/api/v1/openapi.json")
            if answer.status == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer in {START_SECONDS:.0f} s:\n{log.read_text()}")


@contextmanager
def gunicorn(
    environment: dict[str, str],
    folder: Path,
    args: argparse.Namespace,
    *,
    workers: int | None = None,
    name: str = "gunicorn",
) -> Iterator[tuple[int, Path, int]]:
    """Serve the desk with `workers` processes (`--workers` by default); yield its port, its log
    file and its master's pid; stop every process of it afterwards."""
    port = free_port()
    log = folder / f"{name}.log"
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "dsr.app:create_app()",
        f"--bind={HOST}:{port}",
        f"--workers={workers or args.workers}",
        f"--worker-class={args.worker_class}",
        # gunicorn turns a sync worker given threads into gthread: threads only for gthread
        f"--threads={args.threads if args.worker_class == 'gthread' else 1}",
        "--timeout=120",
        "--graceful-timeout=10",
        "--log-level=warning",
        "--config=python:dsr.gunicorn_conf",  # as production: each worker warms itself up
    ]
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603
            command,
            cwd=PROJECT_ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until_serving(process, port, log)
        yield port, log, process.pid
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)


STAFF_WORKERS = 2
"""The staff's own gunicorn processes, as "Running in production" in the README runs them."""


@contextmanager
def staff_gunicorn(
    environment: dict[str, str], folder: Path, args: argparse.Namespace
) -> Iterator[tuple[int, list[int], list[Path]] | None]:
    """Serve the staff's pages (the paths of `STAFF_PATH_PREFIXES`) with `--staff-workers`
    processes of their own, as a reverse proxy in front of the desk would send them there; yield
    their port, their master's pid and their log, or None with no such pool (`--staff-workers
    0`)."""
    if args.staff_workers <= 0:
        yield None
        return
    staff = gunicorn(environment, folder, args, workers=args.staff_workers, name="gunicorn-staff")
    with staff as (port, log, pid):
        warm_up(port, args.staff_workers * 2)
        yield port, [pid], [log]


def has_worker_command(environment: dict[str, str]) -> bool:
    """Tell whether this desk has `dsr worker` (the job workers that deliver the emails and
    callbacks instead of the web process's threads)."""
    answer = subprocess.run(  # noqa: S603
        [*dsr_command(), "worker", "--help"],
        env=environment,
        cwd=PROJECT_ROOT,
        capture_output=True,
        check=False,
    )
    return answer.returncode == 0


@contextmanager
def job_workers(environment: dict[str, str], folder: Path, count: int) -> Iterator[list[int]]:
    """Run `count` `dsr worker` processes beside gunicorn, with the same settings, when the
    command exists; yield their pids (none without it: the web process's threads deliver)."""
    if count <= 0 or not has_worker_command(environment):
        yield []
        return
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for number in range(count):
            with (folder / f"worker-{number}.log").open("wb") as output:
                processes.append(
                    subprocess.Popen(  # noqa: S603
                        [*dsr_command(), "worker"],
                        cwd=PROJECT_ROOT,
                        env=environment,
                        stdout=output,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        yield [process.pid for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)


def warm_up(port: int, clients: int) -> None:
    """Let every worker load the application and render the pages once before timing."""

    def fetch(_index: int, outcome: Outcome) -> None:
        outcome.statuses.append(Visitor(port, time.monotonic() + 60).call("GET", "/").status)

    for _ in range(3):
        run_clients(clients, fetch, 90)


# --- where the CPU goes -------------------------------------------------------------------------


TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    """Return /proc/PID/stat's fields after the command's name, or None once the process is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rfind(")") + 2 :].split()


def process_seconds(pid: int) -> float | None:
    """CPU seconds (user + system) the process `pid` has used, or None once it is gone."""
    fields = _stat_fields(pid)
    return None if fields is None else (int(fields[11]) + int(fields[12])) / TICKS


def process_tree(roots: list[int]) -> set[int]:
    """Return `roots` and every process descending from them (gunicorn's workers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat_fields(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, waiting = set(), list(roots)
    while waiting:
        pid = waiting.pop()
        if pid not in found:
            found.add(pid)
            waiting.extend(children.get(pid, []))
    return found


class CpuMeter:
    """Count the CPU time each part of the run spends between two snapshots: the desk's web
    processes (gunicorn and its workers), the job workers, the PostgreSQL backends of the
    scratch store, the Redis server (when the limits and jobs are there), and this bench (its
    clients, the SMTP sink, the black hole). On 2 cores, a submission's share of them bounds
    the rate the machine can sustain, whatever else runs."""

    def __init__(
        self, engine: Engine, web: list[int], workers: list[int], redis_pid: int | None = None
    ) -> None:
        self.engine, self.web, self.workers = engine, web, workers
        self.redis = [redis_pid] if redis_pid is not None else []
        """The Redis server's process, when the limits and the jobs are there: its CPU is the
        desk's (shared with whatever else uses that server meanwhile)."""
        self.left_out: FloorSampler | None = None
        """The readers' floor sampler: its thread and its backend are no part of the desk's or
        the clients' work, and are left out of the figures."""

    def _backends(self) -> set[int]:
        with self.engine.connect() as connection:
            return set(
                connection.execute(
                    text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
                ).scalars()
            )

    def snapshot(self) -> dict[str, dict[int, float]]:
        sampler = self.left_out
        groups = {
            "web": process_tree(self.web),
            "job workers": process_tree(self.workers),
            "PostgreSQL": self._backends() - ({sampler.backend_pid} if sampler else set()),
            **({"Redis": set(self.redis)} if self.redis else {}),
        }
        taken: dict[str, dict[int, float]] = {}
        for name, pids in groups.items():
            taken[name] = {
                pid: seconds for pid in pids if (seconds := process_seconds(pid)) is not None
            }
        own = os.times()
        taken["bench"] = {0: own.user + own.system - (sampler.seconds if sampler else 0.0)}
        return taken

    def since(self, before: dict[str, dict[int, float]]) -> dict[str, float]:
        """CPU seconds per part since `before` (a process started since counts from zero; one
        that ended meanwhile is missed: the pools keep theirs)."""
        now = self.snapshot()
        return {
            name: sum(seconds - before[name].get(pid, 0.0) for pid, seconds in pids.items())
            for name, pids in now.items()
        }


def cpu_line(spent: dict[str, float], count: int, what: str) -> str:
    """Say the CPU milliseconds per `what` of each part, and their total."""
    if count <= 0:
        return f"  CPU per {what}: no sample"
    parts = ", ".join(f"{name} {seconds * 1000 / count:.1f}" for name, seconds in spent.items())
    total = sum(spent.values()) * 1000 / count
    return f"  CPU per {what}: {total:.1f} ms ({parts})"


# --- the store ------------------------------------------------------------------------------


def seed_store(url: str, requests: int, readers: int) -> list[int]:
    """Fill the store with `requests` requests and the readers' accounts; carry each year's
    reference counter past the seeded numbers. Return the staff ids the queue filters on."""
    rng = random.Random(5)
    _, staff_ids = fill(url, requests, rng)
    engine = db.make_engine(url)
    try:
        references = db.table_of(DataRequest).c.reference
        last: dict[int, int] = {}
        with engine.connect() as connection:
            for (reference,) in connection.execute(select(references)):
                _, year, number = reference.rsplit("-", 2)
                last[int(year)] = max(last.get(int(year), 0), int(number))
        password_hash = hash_password(READER_PASSWORD)
        with db.transaction(engine) as session:
            for year, number in last.items():
                session.add(ReferenceCounter(year=year, last_number=number))
            session.add_all(
                StaffUser(
                    email=f"{READER_PREFIX}{n}@example.org",
                    role=StaffRole.DPO,
                    password_hash=password_hash,
                    password_changed_at=db.utcnow(),
                    created_at=db.utcnow(),
                )
                for n in range(readers)
            )
    finally:
        engine.dispose()
    return staff_ids


def issue_token(url: str) -> str:
    """Create an API token as `dsr api token create` does; return the token."""
    engine = db.make_engine(url)
    try:
        with db.transaction(engine) as session:
            row, token = ApiToken.issue("load-bench", now=db.utcnow())
            session.add(row)
        return token
    finally:
        engine.dispose()


@dataclass
class StoreCheck:
    """Requests stored for the addresses a phase used: each accepted one exactly once, none for
    a refused one; one whose client had no answer in time may or may not be stored, once."""

    stored: int
    lost: int
    duplicated: int
    unexpected: int
    mails_queued: int
    mails_sent: int

    @property
    def exactly_once(self) -> bool:
        return self.lost == 0 and self.duplicated == 0 and self.unexpected == 0


def check_store(
    engine: Engine, prefix: str, expected: set[str], unanswered: set[str]
) -> StoreCheck:
    requests = db.table_of(DataRequest)
    outbox = db.table_of(OutboxMessage)
    mine = requests.c.normalized_email.like(f"{prefix}%")
    with engine.connect() as connection:
        counts: dict[str, int] = dict(
            connection.execute(
                select(requests.c.normalized_email, func.count())
                .where(mine)
                .group_by(requests.c.normalized_email)
            ).all()
        )
        mails: dict[str, int] = dict(
            connection.execute(
                select(outbox.c.status, func.count())
                .select_from(outbox.join(requests, outbox.c.request_id == requests.c.id))
                .where(mine)
                .group_by(outbox.c.status)
            ).all()
        )
    return StoreCheck(
        stored=sum(counts.values()),
        lost=len(expected - counts.keys()),
        duplicated=sum(1 for count in counts.values() if count > 1),
        unexpected=len(counts.keys() - expected - unanswered),
        mails_queued=sum(mails.values()),
        mails_sent=mails.get(OutboxStatus.SENT.value, 0),
    )


def references_without_gaps(engine: Engine) -> bool:
    """Tell whether each year's references run 1..counter with neither gap nor duplicate."""
    requests = db.table_of(DataRequest)
    counters = db.table_of(ReferenceCounter)
    with engine.connect() as connection:
        counted = Counter(
            reference.rsplit("-", 2)[1]
            for (reference,) in connection.execute(select(requests.c.reference))
        )
        last = {
            f"{year:04d}": number
            for year, number in connection.execute(select(counters.c.year, counters.c.last_number))
        }
    return dict(counted) == last


# --- the phases ---------------------------------------------------------------------------------


@dataclass
class Phase:
    """One phase's figures and the verdicts the summary prints."""

    name: str
    calls: int
    wall: float
    seconds: list[float]
    server_errors: int
    failed: int
    unfinished: int
    checks: dict[str, bool]
    notes: list[str] = field(default_factory=list)
    figures: dict[str, float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(self.checks.values())


def latency_line(label: str, seconds: list[float]) -> str:
    if not seconds:
        return f"  {label:<26} no sample"
    ms = [value * 1000 for value in seconds]
    return (
        f"  {label:<26} p50 {percentile(ms, 0.5):7.1f} ms   p95 {percentile(ms, 0.95):7.1f} ms"
        f"   max {max(ms):7.1f} ms   ({len(ms)} calls)"
    )


def count_errors(outcomes: list[Outcome]) -> tuple[int, int, Counter[str]]:
    server_errors = sum(1 for outcome in outcomes for status in outcome.statuses if status >= 500)
    failed = sum(1 for outcome in outcomes if not outcome.ok)
    reasons = Counter(outcome.error for outcome in outcomes if outcome.error is not None)
    return server_errors, failed, reasons


def submission_form(index: int, prefix: str, token: str) -> dict[str, str]:
    """The form of the `index`-th submission from addresses starting with `prefix`: the types
    and the two languages in turn, with what each type asks for."""
    kinds = list(RequestType)
    kind = kinds[index % len(kinds)]
    form = {
        "csrf_token": token,
        "email": f"{prefix}{index:05d}@example.org",
        "request_type": kind.value,
        "language": "fr" if index % 2 else "en",
        "message": "",
        "website": "",
    }
    if kind is RequestType.RECTIFICATION:
        form["rectification"] = "Mon nom de famille est mal orthographié."
    if kind in (RequestType.OBJECTION_LEGITIMATE_INTEREST, RequestType.POST_MORTEM):
        form["message"] = "Ma situation particulière, ou mes directives."  # required for them
    if kind is RequestType.POST_MORTEM:
        form["designee_name"] = "Camille Martin"
        form["designee_email"] = f"designee.{prefix}{index:05d}@example.org"
    return form


WARM_UP_PREFIX = "load-warm-up-"


def warm_up_submissions(port: int, processes: int) -> None:
    """File a few requests through every web process before the timed submissions, as a desk
    that has been serving has: each process has then sent its statements (prepared by
    PostgreSQL after a few runs) and made its emails' skeletons, and the first timed seconds
    do not pay for it (they did: a backlog at the start that took seconds to drain). Their
    addresses are apart from the timed ones'; they are checked as those are: every one
    answered with the page that says the request was sent."""

    def submit(index: int, outcome: Outcome) -> None:
        visitor = Visitor(port, time.monotonic() + 60)
        page = visitor.call("GET", "/")
        sent = visitor.call(
            "POST", "/", form=submission_form(index, WARM_UP_PREFIX, csrf_token(page))
        )
        outcome.ok = sent.status == 302 and sent.location.endswith("/sent")

    count = processes * 2 * len(RequestType)
    outcomes, _, _ = run_clients(count, submit, 120, rate=None)
    failed = [outcome.error or "not sent" for outcome in outcomes if not outcome.ok]
    if failed:
        raise RuntimeError(f"{len(failed)} of {count} warm-up submissions failed: {failed[:3]}")


def submissions_phase(
    port: int,
    engine: Engine,
    count: int,
    time_limit: float,
    floor: Floor,
    sink: SinkHandler,
    rate: float | None,
    meter: CpuMeter,
    meanwhile: str = "",
) -> Phase:
    """`meanwhile` says what else runs during the phase (its CPU counts in the phase's)."""
    deadline = time.monotonic() + time_limit

    def submit(index: int, outcome: Outcome) -> None:
        visitor = Visitor(port, deadline)
        page = visitor.call("GET", "/")
        outcome.statuses.append(page.status)
        sent = visitor.call("POST", "/", form=submission_form(index, WEB_PREFIX, csrf_token(page)))
        outcome.answered = True
        outcome.statuses.append(sent.status)
        outcome.seconds.append(sent.seconds)
        outcome.data["both"] = page.seconds + sent.seconds
        outcome.ok = sent.status == 302 and sent.location.endswith("/sent")
        if not outcome.ok and outcome.error is None:
            outcome.error = f"POST answered {sent.status}"

    arrivals = f"arriving at {rate:.0f} per second" if rate else "at once"
    print(f"\nsubmissions: {count} clients {arrivals}, each GET form then POST", flush=True)
    before = meter.snapshot()
    outcomes, unfinished, wall = run_clients(count, submit, time_limit, rate)
    server_errors, failed, reasons = count_errors(outcomes)
    emails = [f"{WEB_PREFIX}{n:05d}@example.org" for n in range(count)]
    expected = {email for email, outcome in zip(emails, outcomes, strict=True) if outcome.ok}
    unanswered = {
        email for email, outcome in zip(emails, outcomes, strict=True) if not outcome.answered
    }
    no_mail = sink.wait_for(expected, MAIL_WAIT_SECONDS)
    spent = meter.since(before)  # the answers, then the emails delivered
    stored = check_store(engine, WEB_PREFIX, expected, unanswered)
    two_mails = sink.twice(expected)
    posts = [value for outcome in outcomes for value in outcome.seconds]
    both = [outcome.data["both"] for outcome in outcomes if "both" in outcome.data]
    done = sum(outcome.ok for outcome in outcomes)
    print(f"  {done}/{count} accepted in {wall:.1f} s: {done / wall:.1f} submissions/s")
    print(latency_line("POST (file the request)", posts))
    print(latency_line("GET form + POST", both))
    print(cpu_line(spent, len(expected), f"submission, with its email{meanwhile}"))
    print(
        f"  store: {stored.stored} requests for {count} addresses, lost {stored.lost}, "
        f"stored twice {stored.duplicated}; mails queued {stored.mails_queued}, "
        f"sent {stored.mails_sent}"
    )
    print(
        f"  SMTP sink: {len(expected) - len(no_mail)} of {len(expected)} accepted addresses got "
        f"their email, {len(no_mail)} none (lost), {two_mails} two or more (duplicated)"
    )
    floor.compare(done / wall if wall else 0.0, posts)
    if reasons:
        print(f"  client errors: {dict(reasons)}")
    return Phase(
        "submissions",
        count,
        wall,
        posts,
        server_errors,
        failed,
        unfinished,
        {
            "no 5xx": server_errors == 0,
            "all answered": failed == 0 and unfinished == 0,
            "exactly once": stored.exactly_once,
            "one email each": stored.mails_queued == stored.stored,
            "every email arrived once": not no_mail and two_mails == 0,
        },
        figures={
            "rate": rate or 0.0,
            "per second": done / wall if wall else 0.0,
            "cpu ms": sum(spent.values()) * 1000 / max(len(expected), 1),
        },
    )


def api_phase(
    port: int,
    engine: Engine,
    token: str,
    calls: int,
    time_limit: float,
    floor: Floor,
    callback_url: str | None,
) -> Phase:
    keys = calls // 2
    deadline = time.monotonic() + time_limit
    pairs = [threading.Barrier(2, timeout=time_limit) for _ in range(keys)]

    def call(index: int, outcome: Outcome) -> None:
        key = index % keys
        body = {
            "subject_request_type": API_TYPES[key % len(API_TYPES)].value,
            "subject_identities": {"email": f"{API_PREFIX}{key:05d}@example.org"},
            "language": "fr",
        }
        if callback_url is not None:
            body["status_callback_urls"] = [callback_url]
        visitor = Visitor(port, deadline)
        pairs[key].wait()  # both calls of a key leave together, to race for it
        answer = visitor.call(
            "POST",
            "/api/v1/requests",
            body=json.dumps(body).encode(),
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "Idempotency-Key": f"{KEY_PREFIX}{key:05d}",
            },
        )
        outcome.answered = True
        outcome.statuses.append(answer.status)
        outcome.seconds.append(answer.seconds)
        outcome.ok = answer.status in (200, 201)
        if outcome.ok:
            document = json.loads(answer.body)
            outcome.data = {name: document.get(name) for name in REPLAYED_FIELDS}
        else:
            outcome.error = f"answered {answer.status}"

    print(f"\nAPI: {calls} calls at once, {keys} Idempotency-Keys each sent twice together")
    if callback_url is not None:
        print("  each with a status callback to an endpoint that never answers")
    outcomes, unfinished, wall = run_clients(keys * 2, call, time_limit)
    server_errors, failed, reasons = count_errors(outcomes)
    created = replayed = mismatched = 0
    for key in range(keys):
        first, second = outcomes[key], outcomes[key + keys]
        statuses = sorted(first.statuses + second.statuses)
        created += statuses.count(201)
        replayed += statuses.count(200)
        if statuses != [200, 201] or first.data != second.data:
            mismatched += 1
    expected: set[str] = set()
    unanswered: set[str] = set()
    for key in range(keys):
        email = f"{API_PREFIX}{key:05d}@example.org"
        pair = (outcomes[key], outcomes[key + keys])
        if any(outcome.ok for outcome in pair):
            expected.add(email)
        elif not all(outcome.answered for outcome in pair):
            unanswered.add(email)
    stored = check_store(engine, API_PREFIX, expected, unanswered)
    seconds = [value for outcome in outcomes for value in outcome.seconds]
    done = sum(outcome.ok for outcome in outcomes)
    print(f"  {done}/{keys * 2} answered in {wall:.1f} s: {done / wall:.1f} calls/s")
    print(latency_line("POST /api/v1/requests", seconds))
    print(
        f"  {created} created (201), {replayed} replayed (200), {mismatched} keys not answered "
        "once 201 and once 200 with the same request"
    )
    print(
        f"  store: {stored.stored} requests for {keys} keys, lost {stored.lost}, "
        f"stored twice {stored.duplicated}; mails queued {stored.mails_queued}, "
        f"sent {stored.mails_sent}"
    )
    floor.compare(done / wall if wall else 0.0, seconds)
    if reasons:
        print(f"  client errors: {dict(reasons)}")
    cancel_errors = cancel_api_requests(port, token, outcomes[:keys], time_limit)
    return Phase(
        "API",
        keys * 2,
        wall,
        seconds,
        server_errors,
        failed,
        unfinished,
        {
            "no 5xx": server_errors == 0,
            "all answered": failed == 0 and unfinished == 0,
            "exactly once": stored.exactly_once,
            "replays the same": mismatched == 0,
            "one email each": stored.mails_queued == stored.stored,
            "cancels answered": cancel_errors == 0,
        },
    )


def cancel_api_requests(port: int, token: str, outcomes: list[Outcome], time_limit: float) -> int:
    """Cancel the API's requests (DELETE), one call each: every status change queues a callback
    to the endpoint that never answers, so the phases that follow run while the server's
    callback deliveries hang. Return how many cancels were not answered 2xx."""
    references = [outcome.data["reference"] for outcome in outcomes if outcome.data]
    deadline = time.monotonic() + time_limit

    def cancel(index: int, outcome: Outcome) -> None:
        answer = Visitor(port, deadline).call(
            "DELETE",
            f"/api/v1/requests/{references[index]}",
            headers={"Authorization": f"Bearer {token}"},
        )
        outcome.statuses.append(answer.status)
        outcome.seconds.append(answer.seconds)
        outcome.ok = 200 <= answer.status < 300
        if not outcome.ok:
            outcome.error = f"DELETE answered {answer.status}"

    outcomes_of_cancels, unfinished, wall = run_clients(len(references), cancel, time_limit)
    seconds = [value for outcome in outcomes_of_cancels for value in outcome.seconds]
    errors = sum(not outcome.ok for outcome in outcomes_of_cancels) + unfinished
    print(f"  {len(references)} requests cancelled in {wall:.1f} s, {errors} not answered 2xx")
    print(latency_line("DELETE /api/v1/requests/R", seconds))
    return errors


def dashboard_phase(
    port: int,
    url: str,
    staff_ids: list[int],
    readers: int,
    read_seconds: float,
    time_limit: float,
    requests: int,
    think_seconds: float = 0.0,
    reading: threading.Event | None = None,
    meter: CpuMeter | None = None,
) -> Phase:
    deadline = time.monotonic() + time_limit
    window = {"start": 0.0, "end": 0.0, "last": 0.0}
    logins: list[float] = []

    def start_reading() -> None:
        window["start"] = time.monotonic()
        window["end"] = min(window["start"] + read_seconds, deadline)
        meanwhile.start(window["end"])
        if reading is not None:
            reading.set()  # the submissions may start: the readers are all logged in

    logged_in = threading.Barrier(readers, action=start_reading, timeout=time_limit)
    meanwhile = FloorSampler(url, staff_ids, think_seconds / FLOOR_SAMPLES_PER_READ)
    if meter is not None:
        meter.left_out = meanwhile

    def log_in(visitor: Visitor, index: int, outcome: Outcome) -> bool:
        page = visitor.call("GET", "/staff/login")
        outcome.statuses.append(page.status)
        form = {
            "csrf_token": csrf_token(page),
            "email": f"{READER_PREFIX}{index}@example.org",
            "password": READER_PASSWORD,
        }
        answer = visitor.call("POST", "/staff/login", form=form)
        outcome.statuses.append(answer.status)
        logins.append(answer.seconds)
        if answer.status != 302:
            outcome.error = f"login answered {answer.status}"
        return answer.status == 302

    def read(index: int, outcome: Outcome) -> None:
        rng = random.Random(index)
        pick = varied_queries(staff_ids, rng)
        visitor = Visitor(port, deadline)
        page: Answer | None = None
        try:
            if log_in(visitor, index, outcome):  # and land on the queue, where the login leads
                page = visitor.call("GET", "/dashboard/")
                outcome.statuses.append(page.status)
        finally:
            logged_in.wait()  # everyone reads at once, after the logins' argon2 work
        if page is None:
            return
        if think_seconds:  # people who logged in together do not all click at the same instant
            time.sleep(rng.uniform(0.0, think_seconds))
        searches: list[float] = []
        while time.monotonic() < window["end"]:
            if rng.random() < 0.1:
                term = rng.choice(
                    [f"learner{rng.randrange(requests // 2)}@example.org", "DSR-2025-000042"]
                )
                form = {"csrf_token": csrf_token(page), "query": term}
                answer = visitor.call("POST", "/dashboard/search", form=form)
                outcome.statuses.append(answer.status)
                page = visitor.call("GET", "/dashboard/?search=1")
                searches.append(page.seconds)
            else:
                page = visitor.call("GET", "/dashboard/?" + urlencode(pick()))
                outcome.seconds.append(page.seconds)
            outcome.statuses.append(page.status)
            if page.status != 200:
                outcome.error = f"queue answered {page.status}"
                return
            if think_seconds:  # a person reads the page before the next click
                time.sleep(rng.uniform(0.5, 1.5) * think_seconds)
        window["last"] = max(window["last"], time.monotonic())
        outcome.data["searches"] = searches
        outcome.ok = True

    pace = f", {think_seconds:.1f} s per page read" if think_seconds else ", back to back"
    print(
        f"\ndashboard: {readers} staff log in, then read the queue for {read_seconds:.0f} s{pace}"
    )
    try:
        outcomes, unfinished, wall = run_clients(readers, read, time_limit)
    finally:
        floor_meanwhile = meanwhile.stop()
    server_errors, failed, reasons = count_errors(outcomes)
    pages = [value for outcome in outcomes for value in outcome.seconds]
    searches = [value for outcome in outcomes for value in outcome.data.get("searches", [])]
    read_for = max(window["last"] - window["start"], 1e-9)
    fetched = len(pages) + len(searches)
    print(f"  {fetched} queue pages in {read_for:.1f} s: {fetched / read_for:.1f} pages/s")
    print(latency_line("login (argon2)", logins))
    print(latency_line("queue page", pages))
    print(latency_line("search page", searches))
    floor_ms, floor_rate = queue_floor(url, staff_ids, readers, min(read_seconds, 10.0))
    print(
        f"  SQL floor alone            p50 {percentile(floor_ms, 0.5):7.1f} ms   "
        f"p95 {percentile(floor_ms, 0.95):7.1f} ms   (the page's five queries, one at a time)"
    )
    print(
        f"  SQL floor, {readers} threads      {floor_rate:7.1f} pages/s   (the same, concurrently)"
    )
    if floor_meanwhile:
        print(
            f"  SQL floor meanwhile        p50 {percentile(floor_meanwhile, 0.5):7.1f} ms   "
            f"p95 {percentile(floor_meanwhile, 0.95):7.1f} ms   (the same queries, "
            f"{len(floor_meanwhile)} times while the staff read)"
        )
    if pages and floor_ms:
        page_ms = [value * 1000 for value in pages]
        print(
            f"  ratio page/floor alone: p50 "
            f"{percentile(page_ms, 0.5) / percentile(floor_ms, 0.5):.1f}x,"
            f" p95 {percentile(page_ms, 0.95) / percentile(floor_ms, 0.95):.1f}x,"
            f" throughput {fetched / read_for / floor_rate:.2f} of the floor's"
        )
        if floor_meanwhile:
            print(
                f"  ratio page/floor meanwhile: p50 "
                f"{percentile(page_ms, 0.5) / percentile(floor_meanwhile, 0.5):.1f}x,"
                f" p95 {percentile(page_ms, 0.95) / percentile(floor_meanwhile, 0.95):.1f}x"
            )
    if reasons:
        print(f"  client errors: {dict(reasons)}")
    page_ms = [value * 1000 for value in pages]
    return Phase(
        "dashboard",
        fetched,
        read_for,
        pages,
        server_errors,
        failed,
        unfinished,
        {"no 5xx": server_errors == 0, "all answered": failed == 0 and unfinished == 0},
        figures={
            "page p95 ms": percentile(page_ms, 0.95) if page_ms else float("nan"),
            "floor p95 ms": percentile(floor_ms, 0.95) if floor_ms else float("nan"),
            "floor meanwhile p95 ms": (
                percentile(floor_meanwhile, 0.95) if floor_meanwhile else float("nan")
            ),
            "readers": float(readers),
            "think seconds": think_seconds,
        },
    )


# --- the floors ---------------------------------------------------------------------------------


def queue_floor(
    url: str, staff_ids: list[int], threads: int, seconds: float
) -> tuple[list[float], float]:
    """Time the queue page's queries directly (`page_queries`: the reader, the rows, the counts,
    the staff): 300 alone (milliseconds), then how many pages' worth `threads` connections run
    in `seconds`."""
    engine = create_engine(make_url(url), pool_size=threads, max_overflow=0)
    rng = random.Random(7)
    pick = varied_queries(staff_ids, rng)
    alone: list[float] = []
    try:
        for _ in range(300):
            query = query_of(pick())
            with db.open_session(engine) as session:
                started = time.perf_counter()
                page_queries(session, query, staff_ids[0])
                alone.append((time.perf_counter() - started) * 1000)
        done = Counter[int]()
        ends = time.monotonic() + seconds

        def loop(index: int, _outcome: Outcome) -> None:
            local = varied_queries(staff_ids, random.Random(100 + index))
            while time.monotonic() < ends:
                with db.open_session(engine) as session:
                    page_queries(session, query_of(local()), staff_ids[0])
                done[index] += 1

        _, _, wall = run_clients(threads, loop, seconds + 30)
        return alone, sum(done.values()) / min(wall, seconds)
    finally:
        engine.dispose()


FLOOR_SAMPLES_PER_READ = 10
"""While the staff read, the page's queries are timed directly about this many times per think
time (every 0.2 s at 2 s per page): about half the readers' own pages, for a p95 of its own."""


class FloorSampler:
    """Time the queue page's queries directly (`page_queries`, on a connection of its own, one
    sample at a time) from the moment the staff start reading until the end of their window, with
    a pause of about `pause` seconds between samples (none: back to back): the SQL floor under the
    same load as the pages it is compared with. Measured alone, after the load, the floor leaves
    out the CPU and the store the submissions take meanwhile, which every page also waits for."""

    def __init__(self, url: str, staff_ids: list[int], pause: float) -> None:
        self.url, self.staff_ids, self.pause = url, staff_ids, pause
        self.samples: list[float] = []
        self.backend_pid = 0
        self.seconds = 0.0
        """The CPU time its thread has spent so far (after each sample)."""
        self._thread: threading.Thread | None = None

    def start(self, until: float) -> None:
        self._thread = threading.Thread(target=self._sample, args=(until,), daemon=True)
        self._thread.start()

    def _sample(self, until: float) -> None:
        engine = create_engine(make_url(self.url), pool_size=1, max_overflow=0)
        rng = random.Random(11)
        pick = varied_queries(self.staff_ids, rng)
        try:
            with engine.connect() as connection:  # the pool's one connection, from now on
                self.backend_pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
            while time.monotonic() < until:
                query = query_of(pick())
                with db.open_session(engine) as session:
                    started = time.perf_counter()
                    page_queries(session, query, self.staff_ids[0])
                    self.samples.append((time.perf_counter() - started) * 1000)
                self.seconds = time.thread_time()
                if self.pause:
                    time.sleep(rng.uniform(0.5, 1.5) * self.pause)
        finally:
            engine.dispose()

    def stop(self) -> list[float]:
        """Wait for the sampling to end (with the readers' window); return the samples (ms)."""
        if self._thread is not None:
            self._thread.join()
        return self.samples


class Floor:
    """The writes' raw-SQL floor: each write's serialised statements (take the next reference
    from the year's counter row, insert the request row) committed one transaction each, by as
    many threads as the server has, on their own connections. Measured once, on the loaded store,
    after the phases: its rows and numbers would otherwise count in their checks."""

    def __init__(self, url: str, threads: int, writes: int) -> None:
        self.url, self.threads, self.writes = url, threads, writes
        self.rate = 0.0
        self.seconds: list[float] = []
        self.pending: list[tuple[float, list[float]]] = []

    def compare(self, rate: float, seconds: list[float]) -> None:
        """Keep a phase's figures to compare once the floor is known."""
        self.pending.append((rate, seconds))

    def measure(self) -> None:
        engine = create_engine(make_url(self.url), pool_size=self.threads, max_overflow=0)
        table = db.table_of(DataRequest)
        *_, template = request_rows(1000, [0], random.Random(9))  # a recent, open request
        lock = threading.Lock()
        counter = iter(range(self.writes))

        def write(_index: int, outcome: Outcome) -> None:
            while True:
                with lock:
                    number = next(counter, None)
                if number is None:
                    return
                row = {**template, "assignee_id": None, "created_via": "web"}
                row["normalized_email"] = row["requester_email"] = f"floor-{number}@example.org"
                started = time.perf_counter()
                with db.transaction(engine) as session:
                    row["reference"] = next_reference(db_session=session, received_at=NOW)
                    session.execute(insert(table), [row])
                outcome.seconds.append(time.perf_counter() - started)

        try:
            outcomes, _, wall = run_clients(self.threads, write, 120)
        finally:
            engine.dispose()
        self.seconds = [value for outcome in outcomes for value in outcome.seconds]
        self.rate = len(self.seconds) / wall


# --- the run ------------------------------------------------------------------------------------


def summary(phases: list[Phase], floor: Floor, references_ok: bool, mails: int) -> bool:
    print("\nwrite floor (reference counter + request row, committed):")
    print(f"  {floor.threads} threads: {floor.rate:.1f} writes/s")
    print(latency_line("floor write", floor.seconds))
    for phase, (rate, _seconds) in zip(phases, floor.pending, strict=False):
        # Throughput only: the phases' latencies are mostly time queued behind the server's
        # threads by clients all sent at once, the floor's are not.
        print(f"  {phase.name}: throughput {rate / floor.rate:.2f} of the floor's")
    print(f"\nSMTP sink received {mails} messages; {load_average()}")
    print("\nsummary")
    print(
        f"  {'phase':<12} {'calls':>6} {'per s':>7} {'p50 ms':>8} {'p95 ms':>8} {'5xx':>5}  checks"
    )
    for phase in phases:
        ms = [value * 1000 for value in phase.seconds] or [float("nan")]
        checks = ", ".join(
            f"{name} {'met' if met else 'FAILED'}" for name, met in phase.checks.items()
        )
        print(
            f"  {phase.name:<12} {phase.calls:>6} {phase.calls / phase.wall:>7.1f} "
            f"{percentile(ms, 0.5):>8.1f} {percentile(ms, 0.95):>8.1f} "
            f"{phase.server_errors:>5}  {checks}"
        )
    print(f"  references: {'no gap, no duplicate' if references_ok else 'GAP OR DUPLICATE'}")
    passed = all(phase.passed for phase in phases) and references_ok
    print(f"\nload: {'all checks met' if passed else 'CHECKS FAILED'}")
    return passed


THINK_SECONDS = 2.0
"""How long a member of staff looks at a queue page, on average, before the next click."""
TARGET_RATE = 100.0
"""Issue 17: at least 100 form submissions per second sustained, p95 under 250 ms, ..."""
TARGET_P95_MS = 250.0
TARGET_READER_FACTOR = 2.0
"""... 20 staff reading the queue meanwhile at p95 within 2x the queue's SQL floor."""


def figure_verdicts(
    phases: list[Phase], *, together: bool, callbacks_held: int | None, correct: bool
) -> bool:
    """Print, for each figure of issue 17, whether this run met it; return whether all were.

    Judged on this run only: a target the run did not measure (submissions at another rate,
    readers not reading meanwhile) is said so and counts as not met."""
    by_name = {phase.name: phase for phase in phases}
    submissions, dashboard = by_name["submissions"], by_name["dashboard"]
    rate, achieved = submissions.figures["rate"], submissions.figures["per second"]
    posts = [value * 1000 for value in submissions.seconds] or [float("inf")]
    p95 = percentile(posts, 0.95)
    verdicts: list[tuple[str, bool, str]] = []
    arrivals = f"arriving at {rate:.0f}/s" if rate else "all at once"
    verdicts.append(
        (
            f"at least {TARGET_RATE:.0f} submissions/s sustained",
            achieved >= TARGET_RATE * 0.98 and (rate == 0 or rate >= TARGET_RATE),
            f"{achieved:.1f}/s accepted, {arrivals}; "
            f"{submissions.figures['cpu ms']:.1f} ms of CPU each, with its email",
        )
    )
    verdicts.append(
        (
            f"submission (POST) p95 under {TARGET_P95_MS:.0f} ms",
            p95 < TARGET_P95_MS,
            f"p95 {p95:.0f} ms",
        )
    )
    verdicts.append(
        (
            "0 lost, 0 duplicated, 0 5xx",
            correct,
            "every check above" if correct else "see the checks above",
        )
    )
    page, floor = dashboard.figures["page p95 ms"], dashboard.figures["floor meanwhile p95 ms"]
    alone = dashboard.figures["floor p95 ms"]
    readers = f"{dashboard.figures['readers']:.0f} staff"
    if together:
        verdicts.append(
            (
                f"{readers} reading the queue meanwhile at p95 within "
                f"{TARGET_READER_FACTOR:.0f}x its SQL floor",
                page <= TARGET_READER_FACTOR * floor,
                f"p95 {page:.1f} ms, its SQL's p95 timed meanwhile {floor:.1f} ms: "
                f"{page / floor:.1f}x (against the SQL alone, after the load, "
                f"{alone:.1f} ms: {page / alone:.1f}x), "
                f"{dashboard.figures['think seconds']:.1f} s per page read",
            )
        )
    else:
        verdicts.append(
            (
                f"{readers} reading the queue meanwhile",
                False,
                "not measured: they read after the submissions (--no-together)",
            )
        )
    others_met = all(met for _, met, _ in verdicts)
    if callbacks_held is None:
        verdicts.append(
            ("a callback endpoint that never answers changes none of these", False, "no callbacks")
        )
    else:
        verdicts.append(
            (
                "a callback endpoint that never answers changes none of these",
                others_met and callbacks_held > 0,
                f"{callbacks_held} callbacks hung meanwhile"
                + ("" if others_met else "; not shown while a target above is missed"),
            )
        )
    print("\nfigures of issue 17")
    for label, met, detail in verdicts:
        print(f"  target {label}: {'met' if met else 'MISSED'} ({detail})")
    return all(met for _, met, _ in verdicts)


def load_average() -> str:
    """Say how busy the machine is: the figures mean little on a box loaded by other work."""
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min)"


def is_error_line(line: str) -> bool:
    """Tell an error record from the rest, in gunicorn's own format or a JSON or text record."""
    if line.startswith("{"):
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            return isinstance(record, dict) and record.get("level") in ("ERROR", "CRITICAL")
    return any(mark in line for mark in ("[ERROR]", "[CRITICAL]", " ERROR ", " CRITICAL "))


def server_problems(log: Path) -> list[str]:
    """Return the errors gunicorn or the application logged: each one with the line before it
    and its traceback down to the exception's own line."""
    lines = log.read_text(errors="replace").splitlines()
    problems: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("Traceback"):
            block = lines[max(0, index - 1) : index + 1]
            index += 1
            while index < len(lines) and (lines[index].startswith(" ") or not lines[index]):
                block.append(lines[index])
                index += 1
            block.extend(lines[index : index + 1])
            problems.append("\n".join(block))
        elif is_error_line(line):
            problems.append(line)
        index += 1
    return problems


def stop_on_terminate(signum: int, _frame: object) -> None:
    """Turn SIGTERM into an exception, so that gunicorn stops and the store is dropped."""
    raise SystemExit(128 + signum)


def main() -> int:
    signal.signal(signal.SIGTERM, stop_on_terminate)
    cores = os.cpu_count() or 1
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=1000)
    parser.add_argument("--api-calls", type=int, default=500)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--readers", type=int, default=20)
    parser.add_argument(
        "--read-seconds",
        type=float,
        default=None,
        help="how long the staff read (default: 20 s, or longer to cover the submissions)",
    )
    parser.add_argument("--time-limit", type=float, default=120.0, help="seconds per phase")
    parser.add_argument("--workers", type=int, default=2 * cores + 1)
    parser.add_argument(
        "--staff-workers",
        type=int,
        default=STAFF_WORKERS,
        help="processes of a second gunicorn that serves the staff's pages, as the README's "
        "production runs them behind the proxy (0: the staff share the public processes)",
    )
    parser.add_argument("--threads", type=int, default=4, help="per process, with gthread")
    parser.add_argument("--worker-class", choices=["gthread", "sync"], default="sync")
    parser.add_argument(
        "--rate",
        type=float,
        default=TARGET_RATE,
        help="submissions arriving per second, steadily (default: the figure's 100; 0: every "
        "client at once)",
    )
    parser.add_argument(
        "--job-workers",
        type=int,
        default=cores,
        help="`dsr worker` processes beside gunicorn, when the command exists",
    )
    parser.add_argument(
        "--think-seconds",
        type=float,
        default=THINK_SECONDS,
        help=f"mean time a reader looks at a page before the next (default {THINK_SECONDS:g}; "
        "0: back to back)",
    )
    parser.add_argument(
        "--together",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="send the submissions while the staff read the queue, as the figure says (default; "
        "--no-together: one after the other)",
    )
    parser.add_argument(
        "--no-callbacks",
        action="store_true",
        help="the API's requests without a status callback (to compare with the black hole)",
    )
    parser.add_argument(
        "--limits",
        choices=["redis", "memory"],
        default="redis",
        help="where the rate limits are counted (default: Redis, as production counts them)",
    )
    parser.add_argument(
        "--queue",
        choices=["sqlite", "redis"],
        default="sqlite",
        help="where the jobs wait (default: a SQLite file, the one-machine default)",
    )
    parser.add_argument("--redis", default=REDIS_URL, help=f"the Redis server ({REDIS_URL})")
    parser.add_argument(
        "--queue-mail-only",
        action="store_true",
        help="do not send emails right after each commit (DSR_DELIVER_AFTER_COMMIT=false)",
    )
    args = parser.parse_args()
    print(speed_line("as the bench starts"), flush=True)
    if args.read_seconds is None:  # the readers read while every submission arrives
        spread = args.submissions / args.rate if args.rate else 0.0
        args.read_seconds = max(20.0, spread + 5.0) if args.together else 20.0
    threads = args.threads if args.worker_class == "gthread" else 1
    print(
        f"gunicorn: {args.workers} workers x {threads} threads ({args.worker_class}), "
        + (
            f"and {args.staff_workers} more for the staff's pages, "
            if args.staff_workers
            else "the staff's pages among them, "
        )
        + f"on {cores} cores; store: PostgreSQL; {load_average()}"
    )
    began = time.monotonic()
    hole = BlackHole()
    callback_url = None if args.no_callbacks else f"http://{HOST}:{hole.port}/status"
    with (
        scratch_database(SCRATCH_DATABASE) as url,
        smtp_sink() as (smtp_port, sink),
        tempfile.TemporaryDirectory(prefix="dsr_bench_load_") as folder,
        contextlib.closing(hole),
        contextlib.ExitStack() as cleanup,
    ):
        limits_in_redis, queue_in_redis = args.limits == "redis", args.queue == "redis"
        shared = SharedStorage(
            args.redis if limits_in_redis or queue_in_redis else None,
            limits_in_redis,
            queue_in_redis,
            Path(folder),
        )
        print(shared.describe())
        cleanup.enter_context(shared.kept())
        environment = server_environment(
            url, smtp_port, deliver=not args.queue_mail_only, shared=shared
        )
        subprocess.run(  # noqa: S603
            [*dsr_command(), "db", "upgrade"], env=environment, cwd=PROJECT_ROOT, check=True
        )
        started = time.perf_counter()
        staff_ids = seed_store(url, args.requests, args.readers)
        print(f"store: {args.requests:,} requests seeded in {time.perf_counter() - started:.1f} s")
        token = issue_token(url)
        server_threads = args.workers * (args.threads if args.worker_class == "gthread" else 1)
        floor = Floor(url, server_threads, args.submissions)
        engine = db.make_engine(url)
        try:
            with (
                gunicorn(environment, Path(folder), args) as (port, log, web_pid),
                staff_gunicorn(environment, Path(folder), args) as staff,
                job_workers(environment, Path(folder), args.job_workers) as worker_pids,
            ):
                workers = len(worker_pids)
                staff_port, staff_pids, staff_logs = staff or (port, [], [])
                meter = CpuMeter(engine, [web_pid, *staff_pids], worker_pids, shared.server_pid())
                print(
                    f"job workers: {workers} `dsr worker` processes"
                    if workers
                    else "job workers: none (no `dsr worker`): the web processes' threads deliver"
                )
                warm_up(port, server_threads * 2)
                warm_up_submissions(port, server_threads)
                # The API first: its cancels leave callbacks hanging on the black hole while
                # the submissions and the readers run.
                api = api_phase(
                    port, engine, token, args.api_calls, args.time_limit, floor, callback_url
                )
                reading = threading.Event()
                read_queue = functools.partial(
                    dashboard_phase,
                    staff_port,
                    url,
                    staff_ids,
                    args.readers,
                    args.read_seconds,
                    args.time_limit,
                    args.requests,
                    args.think_seconds,
                )
                submit = functools.partial(
                    submissions_phase,
                    port,
                    engine,
                    args.submissions,
                    args.time_limit,
                    floor,
                    sink,
                    args.rate,
                    meter,
                )
                if args.together:  # the submissions while the staff read the queue
                    with ThreadPoolExecutor(1) as pool:
                        readers = pool.submit(read_queue, reading, meter)
                        reading.wait(args.time_limit)
                        submissions = submit(meanwhile=" and the readers meanwhile")
                        phases = [api, submissions, readers.result()]
                else:
                    submissions = submit()
                    phases = [api, submissions, read_queue(None, meter)]
            # read once gunicorn has stopped: its exit too
            problems = [problem for each in (log, *staff_logs) for problem in server_problems(each)]
            references_ok = references_without_gaps(engine)
            floor.measure()
        finally:
            engine.dispose()
        print(
            f"\ncallback endpoint that never answers: {hole.accepted} connections held"
            if callback_url
            else "\nno status callbacks (--no-callbacks)"
        )
        passed = summary(phases, floor, references_ok, sink.received)
        figure_verdicts(
            phases,
            together=args.together,
            callbacks_held=hole.accepted if callback_url else None,
            correct=passed and not problems,
        )
        if problems:
            print(f"\nthe server logged {len(problems)} errors; the first ones:")
            for problem in problems[:3]:
                print(textwrap.indent(problem, "  "))
            passed = False
    print(f"(the whole bench took {time.monotonic() - began:.0f} s)")
    return 0 if passed else 1


if __name__ == "__main__":
    code = main()
    print(speed_line("as the bench ends"))
    raise SystemExit(code)
