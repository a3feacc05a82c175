"""The tests' child processes never outlive them: a failed block, a process that ignores SIGTERM
and a command that times out all end with their whole process group killed and reaped."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests import processes
from tests.waiting import wait_until

PROJECT = Path(__file__).resolve().parents[1]

PARENT = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
print(child.pid, flush=True)
time.sleep(600)
"""
"""A process that starts a child of its own (as gunicorn starts workers), then waits."""


def _alive(pid: int) -> bool:
    """Tell whether `pid` runs (a zombie waiting to be reaped by init does not count)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def _child_pid(output: Path) -> int:
    wait_until(lambda: output.read_text().strip() != "", "the child's pid")
    return int(output.read_text())


def test_a_failed_block_still_ends_the_process_and_its_children(tmp_path: Path) -> None:
    output = tmp_path / "pid.txt"
    with (
        output.open("w") as handle,
        pytest.raises(RuntimeError, match="the test failed"),
        processes.started([sys.executable, "-c", PARENT], stdout=handle) as parent,
    ):
        child = _child_pid(output)
        assert _alive(child)
        raise RuntimeError("the test failed")
    assert parent.returncode == -signal.SIGTERM  # reaped
    wait_until(lambda: not _alive(child), "the child killed with its group")


def test_a_process_that_ignores_sigterm_is_killed_after_the_grace(tmp_path: Path) -> None:
    stubborn = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(600)"
    )
    output = tmp_path / "out.txt"
    with output.open("w") as handle:
        process = processes.spawn([sys.executable, "-c", stubborn], stdout=handle)
        try:
            wait_until(lambda: "ready" in output.read_text(), "the SIGTERM handler installed")
        finally:
            code = processes.stop(process, grace=0.5)  # the grace is what this test is about
    assert code == -signal.SIGKILL


def test_a_command_that_times_out_is_killed_with_its_children() -> None:
    with pytest.raises(subprocess.TimeoutExpired) as timed_out:
        processes.run(
            [sys.executable, "-c", PARENT],
            capture_output=True,
            text=True,
            timeout=3,  # the timeout is what this test is about: the command never ends
        )
    output = timed_out.value.stdout
    assert isinstance(output, str)
    child = int(output)
    wait_until(lambda: not _alive(child), "the child killed with its group")


def test_a_command_that_ends_leaves_nothing_behind() -> None:
    leaves_a_child = (
        "import subprocess, sys; child = subprocess.Popen([sys.executable, '-c', "
        "'import time; time.sleep(600)'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
        "print(child.pid)"
    )
    result = processes.run(
        [sys.executable, "-c", leaves_a_child],
        capture_output=True,
        text=True,
        timeout=processes.STOP_GRACE_SECONDS,
    )
    assert result.returncode == 0
    child = int(result.stdout)
    wait_until(lambda: not _alive(child), "the child its parent left behind killed")


HANGING_TEST = """
import sys
import time

from tests.processes import started


def test_that_hangs():
    server = "import os, time; print(os.getpid(), flush=True); time.sleep(600)"
    with open({pid_file!r}, "w") as handle, started([sys.executable, "-c", server], stdout=handle):
        time.sleep(600)
"""


@pytest.mark.timeout(600)  # a whole pytest run inside
def test_a_hung_test_fails_at_its_timeout_and_its_processes_end(tmp_path: Path) -> None:
    pid_file = tmp_path / "server.pid"
    (tmp_path / "test_hang.py").write_text(HANGING_TEST.format(pid_file=str(pid_file)))
    result = processes.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-c",
            str(PROJECT / "pyproject.toml"),
            "--rootdir",
            str(tmp_path),
            "-o",
            "timeout=20",  # the per-test timeout is what this test is about
            str(tmp_path / "test_hang.py"),
        ],  # fmt: skip
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Timeout (>20.0s" in result.stdout + result.stderr, result.stdout
    server = int(pid_file.read_text())
    assert not _alive(server)
