"""Count the instructions a `dsr worker` spends per email it delivers, under callgrind.

Usage: python bench/mail_worker.py [--emails N] [--per-round K] [--mode M] [--idle-seconds S]

A scratch PostgreSQL store is created and migrated (dropped at the end), an SMTP sink listens on
loopback (in this process, outside valgrind), and an inner run of this script carries out the
worker's part under `valgrind --tool=callgrind`, once with N emails and once with 2N: their
difference divided by N is the cost of one email without the start-up. Modes:

- `drain`: in rounds of K, the inner run queues K emails and their jobs as a submission does
  (the email written in the request's transaction, its `deliver_mail` job queued after the
  commit), then carries out the queued jobs as a worker thread does (dequeue, execute) until
  the queue is empty; the queuing alone is counted by a run of mode `feed`, and subtracted;
- `feed`: only the queuing (what the web side spends per submission on the job);
- `idle`: a worker's consumer (4 threads, as `dsr worker`) idle for S and 2S seconds: the
  instructions its polling costs per second.

The figures are instructions (deterministic), not time: the machine may be shared. Needs
valgrind, and gcc with valgrind's headers (the counter is started through Callgrind's client
requests); `--profile FILE` runs the inner part once under cProfile (CPU time) instead.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from scratch import scratch_database, smtp_server

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SCRATCH_DATABASE = f"dsr_bench_mail_worker_{os.getpid()}"
HOST = "127.0.0.1"
WARM_UP = 5
"""Emails delivered before counting starts in earnest (imports, caches, the SMTP connection)."""
TEXT = (
    "Hello,\n\nWe received your request of 6 December 2026 (reference DSR-2026-000123).\n"
    "To confirm that this address is yours, open this link within 48 hours:\n"
    "https://desk.example.org/verify/abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnop\n\n"
    "If you did not ask for this, ignore this email: nothing will happen.\n\n"
    "-- \nThe privacy desk of Example Learning\ndpo@example.org\n"
)
HTML = "<html><body>" + TEXT.replace("\n", "<br>\n") + "</body></html>\n"
COUNTER_SOURCE = """
#include <valgrind/callgrind.h>
void start(void) { CALLGRIND_ZERO_STATS; CALLGRIND_START_INSTRUMENTATION; }
void stop(void) { CALLGRIND_STOP_INSTRUMENTATION; }
"""
"""Callgrind's client requests, called through ctypes: the inner run is counted from the end
of its warm-up (start-up, imports and the first deliveries cost billions of instructions)."""


# --- the outer run: store, sink, valgrind ------------------------------------------------------


class Sink:
    def __init__(self) -> None:
        self.received = 0

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        self.received += 1
        return "250 Message accepted"


@contextmanager
def smtp_sink() -> Iterator[tuple[int, Sink]]:
    handler = Sink()
    with smtp_server(handler, HOST) as port:
        yield port, handler


def environment(url: str, smtp_port: int, queue: Path) -> dict[str, str]:
    values = {name: value for name, value in os.environ.items() if not name.startswith("DSR_")}
    values.update(
        {
            "DSR_DATABASE_URL": url,
            "DSR_SECRET_KEY": "a" * 64,
            "DSR_SMTP_HOST": HOST,
            "DSR_SMTP_PORT": str(smtp_port),
            "DSR_QUEUE_URL": f"sqlite:///{queue}",
            "DSR_DELIVER_AFTER_COMMIT": "true",
            "PYTHONPATH": str(PROJECT_ROOT),
            "PYTHONHASHSEED": "0",
        }
    )
    return values


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} is needed (callgrind, and gcc with valgrind's headers)")
    return found


def counted(
    env: dict[str, str],
    folder: Path,
    mode: str,
    count: int,
    per_round: int,
    label: str,
    profile: str | None = None,
) -> int:
    """Run the inner part under callgrind; return the instructions it executed."""
    output = Path(os.environ.get("MAIL_WORKER_OUT", folder)) / f"{label}.callgrind"
    queue = Path(env["DSR_QUEUE_URL"].removeprefix("sqlite:///"))
    for stale in queue.parent.glob(queue.name + "*"):
        stale.unlink()
    command = [
        *(
            []
            if profile
            else [
                tool("valgrind"),
                "--tool=callgrind",
                "--instr-atstart=no",
                f"--callgrind-out-file={output}",
            ]
        ),
        sys.executable,
        str(Path(__file__).resolve()),
        "--inner",
        f"--mode={mode}",
        f"--emails={count}",
        f"--per-round={per_round}",
        f"--profile={profile}" if profile else f"--counter={folder / 'counter.so'}",
    ]
    answer = subprocess.run(  # noqa: S603
        command, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, check=False
    )
    found = re.search(r"Collected : (\d+)", answer.stderr)
    if profile and answer.returncode == 0:
        print(f"  {label}: profiled into {profile}")
        return 0
    if answer.returncode != 0 or found is None:
        raise RuntimeError(f"the inner run failed:\n{answer.stdout}\n{answer.stderr[-4000:]}")
    print(f"  {label}: {int(found.group(1)):,} instructions ({answer.stdout.strip()})")
    return int(found.group(1))


def outer(args: argparse.Namespace) -> None:
    with (
        scratch_database(SCRATCH_DATABASE) as url,
        smtp_sink() as (port, sink),
        tempfile.TemporaryDirectory(prefix="mail-worker-") as folder_name,
    ):
        folder = Path(folder_name)
        env = environment(url, port, folder / "queue.sqlite3")
        library, source = folder / "counter.so", folder / "counter.c"
        source.write_text(COUNTER_SOURCE)
        subprocess.run(  # noqa: S603
            [tool("gcc"), "-O1", "-shared", "-fPIC", "-o", library, source], check=True
        )
        subprocess.run(  # noqa: S603
            [sys.executable, "-c", "from dsr.cli import main; main(['db', 'upgrade'])"],
            env=env,
            cwd=PROJECT_ROOT,
            check=True,
            capture_output=True,
        )
        count, per_round = args.emails, args.per_round
        if args.profile:
            counted(env, folder, args.mode, count, per_round, "profile", args.profile)
            return
        if args.mode == "idle":
            one = counted(env, folder, "idle", args.idle_seconds, 1, "idle-1")
            two = counted(env, folder, "idle", 2 * args.idle_seconds, 1, "idle-2")
            print(f"idle consumer: {(two - one) / args.idle_seconds:,.0f} instructions/second")
            return
        feed = [counted(env, folder, "feed", n, per_round, f"feed-{n}") for n in (count, 2 * count)]
        drain = [
            counted(env, folder, "drain", n, per_round, f"drain-{n}") for n in (count, 2 * count)
        ]
        queuing = (feed[1] - feed[0]) / count
        delivering = (drain[1] - drain[0]) / count - queuing
        print(f"queuing an email and its job (web side): {queuing:,.0f} instructions/email")
        print(
            f"worker, {per_round} email(s) per round: {delivering:,.0f} instructions/email "
            f"(sink received {sink.received})"
        )


# --- the inner run, under callgrind ------------------------------------------------------------


class Profiled:
    """Stands for the counter when the inner run is profiled (--profile FILE) instead."""

    def __init__(self, path: str) -> None:
        import cProfile

        self.path, self.profile = path, cProfile.Profile(time.thread_time)

    def start(self) -> None:
        self.profile.enable()

    def stop(self) -> None:
        self.profile.disable()
        self.profile.dump_stats(self.path)


def inner(args: argparse.Namespace) -> None:
    import ctypes
    import threading

    from dsr import db, logs
    from dsr.app import create_app
    from dsr.languages import Language
    from dsr.outbox.emails import RenderedEmail
    from dsr.outbox.service import enqueue, write_queued
    from dsr.worker.cli import log_jobs_quietly
    from dsr.worker.enqueue import deliver_after_commit
    from dsr.worker.queue import queue_for
    from dsr.worker.tasks import use_worker_app

    logs.configure("json")
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115  the worker's lines, not valgrind's
    app = create_app()
    use_worker_app(app)
    log_jobs_quietly()
    huey = queue_for(app.config, app.instance_path)
    email = RenderedEmail(subject="Confirm your request DSR-2026-000123", text=TEXT, html=HTML)
    serial = [0]

    def feed(count: int) -> None:
        with app.app_context():
            for _ in range(count):
                serial[0] += 1
                with db.open_session(db.get_engine()) as session:
                    message = enqueue(
                        db_session=session,
                        to=f"learner{serial[0]}@example.org",
                        email=email,
                        language=Language.EN,
                        dedup_key=f"verification:{serial[0]}:{os.urandom(8).hex()}",
                        now=db.utcnow(),
                        new_key=True,
                    )
                    write_queued(session, message)
                    deliver_after_commit(session)
                    session.commit()

    def drain() -> None:
        while (task := huey.dequeue()) is not None:
            huey.execute(task)

    counter: Any = ctypes.CDLL(args.counter) if args.counter else Profiled(args.profile)
    if args.mode == "idle":
        counter.start()
        consumer = huey.create_consumer(workers=4, worker_type="thread", periodic=True)
        consumer.start()
        threading.Event().wait(args.emails)
        consumer.stop(graceful=True)
        counter.stop()
        print(f"idle {args.emails} s")
        return
    for _ in range(WARM_UP):
        feed(1)
        drain()
    counter.start()
    done = 0
    while done < args.emails:
        feed(args.per_round)
        if args.mode == "drain":
            drain()
        done += args.per_round
    counter.stop()
    print(f"{args.mode} {done} in rounds of {args.per_round}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=40)
    parser.add_argument("--per-round", type=int, default=1)
    parser.add_argument("--mode", choices=["drain", "feed", "idle"], default="drain")
    parser.add_argument("--idle-seconds", type=int, default=10)
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--counter", help=argparse.SUPPRESS)
    parser.add_argument("--profile", help="profile one inner run with cProfile into this file")
    args, _ = parser.parse_known_args()
    if args.inner:
        inner(parser.parse_args(namespace=argparse.Namespace(mode=None)))
    else:
        start = time.monotonic()
        outer(args)
        print(f"({time.monotonic() - start:.0f} s)")


if __name__ == "__main__":
    main()
