"""Child processes the tests start: each leads a process group of its own and is always ended and
reaped, whatever happens to the test (a failure, the per-test timeout).

- `started(command, ...)` runs a command until the block ends, then `stop`s it.
- `stop(process)` sends the leader a polite signal (SIGTERM by default, which a server handles to
  stop its own children), waits for it, then kills whatever is left of the group (SIGKILL: workers,
  grandchildren) and reaps the leader.
- `run(command, timeout=...)` is `subprocess.run` for a command that may start children of its own
  (pytest -n 2, `dsr` commands): on timeout, and after it ends, the whole group is killed, not
  only the leader.

Every process started here is remembered until reaped; `kill_leftovers` (called at the end of
the session) kills the groups of any that a test forgot.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

STOP_GRACE_SECONDS = 60.0
"""How long a process gets to stop by itself: a bound that only matters when it hangs."""
KILL_WAIT_SECONDS = 60.0
"""How long to wait for the leader to be reaped after SIGKILL (it cannot ignore it)."""

Command = Sequence[str | Path]

_live: dict[int, subprocess.Popen[Any]] = {}


def spawn(command: Command, **options: Any) -> subprocess.Popen[Any]:
    """Start `command` as the leader of a new session (so of a new process group)."""
    if options.pop("start_new_session", True) is not True:
        raise ValueError("the tests' child processes always get a process group of their own")
    process: subprocess.Popen[Any] = subprocess.Popen(  # noqa: S603 (the tests' own commands)
        command, start_new_session=True, **options
    )
    _live[process.pid] = process
    return process


def kill_group(process: subprocess.Popen[Any]) -> None:
    """SIGKILL every process left in `process`'s group (none left is fine)."""
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def stop(
    process: subprocess.Popen[Any],
    *,
    signum: int = signal.SIGTERM,
    grace: float = STOP_GRACE_SECONDS,
) -> int:
    """Send `signum` to the leader and wait up to `grace` seconds for it to exit, then kill its
    whole group and reap it; return its exit code. Safe to call twice."""
    try:
        if process.poll() is None and grace > 0:
            with suppress(ProcessLookupError):
                process.send_signal(signum)
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=grace)
    finally:
        kill_group(process)  # the leader if it lingers, and any child it left behind
        process.wait(timeout=KILL_WAIT_SECONDS)
        _live.pop(process.pid, None)
    return process.returncode


@contextmanager
def started(command: Command, **options: Any) -> Iterator[subprocess.Popen[Any]]:
    """Run `command` (Popen options) until the block ends, then `stop` it, even on failure."""
    process = spawn(command, **options)
    try:
        yield process
    finally:
        try:
            stop(process)
        finally:
            for stream in (process.stdin, process.stdout, process.stderr):
                if stream is not None:
                    stream.close()


def run(
    command: Command,
    *,
    timeout: float,
    input: str | bytes | None = None,  # noqa: A002 (subprocess.run's name)
    **options: Any,
) -> subprocess.CompletedProcess[Any]:
    """Like `subprocess.run(command, timeout=timeout, check=False, ...)`, in a process group of
    its own that is killed on timeout (TimeoutExpired with what was read) and when it ends."""
    if options.pop("capture_output", False):
        options.update(stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if input is not None:
        options["stdin"] = subprocess.PIPE
    process = spawn(command, **options)
    try:
        stdout, stderr = process.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(process, grace=0)
        stdout, stderr = process.communicate()
        raise subprocess.TimeoutExpired(command, timeout, stdout, stderr) from None
    finally:
        stop(process, grace=0)  # reaped already: only the group's leftovers get killed
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def kill_leftovers() -> None:
    """Kill and reap every process group started here and not stopped yet."""
    for process in list(_live.values()):
        with suppress(subprocess.TimeoutExpired):
            stop(process, grace=0)
