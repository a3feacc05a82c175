"""Fixtures of the tests of requests made for someone else, identity documents and other
identities: staff pages over plain HTTP, and approval that does not run the request."""

from __future__ import annotations

from typing import Any

import pytest

from tests.execution.conftest import platform_url  # noqa: F401 (the seeded demo platform)


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"SESSION_COOKIE_SECURE": False, "EXECUTE_AFTER_APPROVAL": False}
