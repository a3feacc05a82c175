"""The accounts tests use the suite's app and SMTP server (tests/conftest.py), and the staff
helpers."""

from __future__ import annotations

from tests.accounts.helpers import staff_client

__all__ = ["staff_client"]
