"""Fixtures of the retention tests: a seeded demo platform on the engine of the suite's `store`
(SQLite or PostgreSQL), and the settings of a sweep that point at them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dsr.demo.seed import seed_platform
from tests.databases import EngineKind, fresh_database
from tests.execution.conftest import DATA_MAP, PLATFORM_VARIABLE

LEARNERS = 40


@pytest.fixture
def platform(engine_kind: EngineKind, tmp_path: Path) -> Iterator[str]:
    """The demo platform, seeded afresh on this run's engine for the test."""
    folder = tmp_path / "platform"
    folder.mkdir()
    with fresh_database(engine_kind, folder) as url:
        seed_platform(url, learners=LEARNERS, seed=7)
        yield url


def sweep_settings(platform: str, data_map: Path = DATA_MAP, **more: Any) -> dict[str, Any]:
    """The settings a sweep reads: the map, its system's URL, the secret, small batches."""
    return {
        "DATA_MAP": str(data_map),
        "SYSTEM_ENVIRONMENT": {PLATFORM_VARIABLE: platform},
        "SECRET_KEY": "retention-test-secret",
        "RETENTION_BATCH_SIZE": 7,
        **more,
    }
