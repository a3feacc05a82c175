"""Fixtures of the execution tests: the demo learner platform seeded once into a SQLite file (the
system the map reads), and the settings of a run that point at it and at a reports folder of the
test's own."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from dsr.demo.seed import seed_platform

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DATA_MAP = PROJECT_ROOT / "data_map.yaml"
PLATFORM_VARIABLE = "POINT3_PLATFORM_URL"
CLOSED_PORT_URL = "postgresql+psycopg://postgres@127.0.0.1:9/platform?connect_timeout=2"
"""A system that is down: nothing listens on the discard port."""


@pytest.fixture(scope="session")
def platform_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The demo platform in a SQLite file, seeded once for the session; the tests only read it."""
    path = tmp_path_factory.mktemp("platform") / "platform.sqlite3"
    url = f"sqlite:///{path.as_posix()}"
    seed_platform(url, learners=30, seed=5)
    return url


def run_settings(reports: Path, platform: str, **more: Any) -> dict[str, Any]:
    """The settings a run reads: the map, its system's URL, and where reports go."""
    return {
        "DATA_MAP": str(DATA_MAP),
        "SYSTEM_ENVIRONMENT": {PLATFORM_VARIABLE: platform},
        "REPORTS_DIR": str(reports),
        "DELIVERY_DAYS": 7,
        "DOWNLOADS_ALLOWED": 3,
        **more,
    }


def qpdf_check(path: Path, password: str | None = None) -> None:
    """Fail unless qpdf finds the PDF at `path` sound."""
    command = ["qpdf", "--check"]
    if password is not None:
        command.append(f"--password={password}")
    checked = subprocess.run(  # noqa: S603 (a fixed program on a file of the test)
        [*command, str(path)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
