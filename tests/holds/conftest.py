"""Fixtures of the legal hold tests: staff pages over plain HTTP, approval without running."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"SESSION_COOKIE_SECURE": False, "EXECUTE_AFTER_APPROVAL": False}
