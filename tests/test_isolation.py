"""What one test does to the process (here its logging) does not reach the tests that the same
pytest-xdist worker runs after it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests import processes

PROJECT = Path(__file__).resolve().parents[1]


LOGGING_TESTS = """
import logging

from dsr import logs


def test_1_configures_logging_as_a_command_does():
    logs.configure("json")


def test_2_finds_logging_as_the_run_began():
    assert not any(isinstance(each, logs.StderrHandler) for each in logging.getLogger().handlers)
    assert logging.getLogger().level == logging.WARNING
"""


@pytest.mark.timeout(600)  # a whole pytest run inside
def test_logging_a_test_configures_does_not_reach_the_next_one(tmp_path: Path) -> None:
    (tmp_path / "test_logging.py").write_text(LOGGING_TESTS)
    result = processes.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-p",
            "tests.conftest",
            "-c",
            str(PROJECT / "pyproject.toml"),
            "--rootdir",
            str(tmp_path),
            "-p",
            "no:randomly",
            "-n",
            "0",
            str(tmp_path / "test_logging.py"),
        ],  # fmt: skip
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
