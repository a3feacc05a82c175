"""Fixtures of the tests of requests made for someone else, identity documents and other
identities: staff pages over plain HTTP, and approval that does not run the request."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"SESSION_COOKIE_SECURE": False, "EXECUTE_AFTER_APPROVAL": False}
