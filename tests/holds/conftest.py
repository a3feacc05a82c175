"""Fixtures of the legal hold tests: staff pages over plain HTTP, approval without running."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"SESSION_COOKIE_SECURE": False, "EXECUTE_AFTER_APPROVAL": False}


@pytest.fixture(scope="session")
def platform_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The demo platform in a SQLite file, seeded once for the session; tests change copies."""
    from dsr.demo.seed import seed_platform

    path = tmp_path_factory.mktemp("platform") / "platform.sqlite3"
    url = f"sqlite:///{path.as_posix()}"
    seed_platform(url, learners=30, seed=5)
    return url


from tests.retention.conftest import platform  # noqa: E402, F401  (the sweeps' seeded platform)
