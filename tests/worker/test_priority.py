"""A `dsr worker` runs below the web processes' CPU priority (DSR_WORKER_NICE, 10 by default):
on a machine both share, a burst of jobs slows no page people wait on (issue 17)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask

from dsr.config import InsecureConfiguration
from tests.conftest import MakeApp
from tests.waiting import wait_until
from tests.worker.conftest import PROJECT, running_worker, worker_environment


def _niceness_once_started(app: Flask, log: Path, **environment: str) -> int:
    with running_worker(app, log, **environment) as worker:
        wait_until(lambda: "Worker started" in log.read_text(), "the worker started")
        return os.getpriority(os.PRIO_PROCESS, worker.pid)


@pytest.mark.parametrize(("setting", "lower_by"), [({}, 10), ({"DSR_WORKER_NICE": "3"}, 3)])
def test_a_worker_runs_below_the_priority_it_was_started_with(
    app: Flask, tmp_path: Path, setting: dict[str, str], lower_by: int
) -> None:
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    found = _niceness_once_started(app, tmp_path / "worker.log", **setting)
    assert found == min(19, ours + lower_by)


def test_nice_zero_keeps_the_worker_at_the_priority_it_was_started_with(
    app: Flask, tmp_path: Path
) -> None:
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    assert _niceness_once_started(app, tmp_path / "worker.log", DSR_WORKER_NICE="0") == ours


@pytest.mark.parametrize("value", ["20", "-5", "high", "2.5"])
def test_a_priority_out_of_range_stops_the_worker_at_start_naming_the_setting(
    app: Flask, value: str
) -> None:
    finished = subprocess.run(
        [sys.executable, "-c", "from dsr.cli import main; main(['worker'])"],
        cwd=PROJECT,
        env=worker_environment(app, DSR_WORKER_NICE=value),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode != 0
    assert "DSR_WORKER_NICE must be a whole number from 0 to 19" in finished.stderr


def test_the_desk_refuses_a_priority_out_of_range_at_start(make_app: MakeApp) -> None:
    with pytest.raises(InsecureConfiguration, match="DSR_WORKER_NICE"):
        make_app(WORKER_NICE=25)
