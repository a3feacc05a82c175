"""The accounts tests use the learner side's app and SMTP server fixtures, and the staff
helpers."""

from __future__ import annotations

from tests.accounts.helpers import staff_client
from tests.store.conftest import migrated_url, store_engine
from tests.web.conftest import app, client, make_app, smtp_server, store_url

__all__ = [
    "app",
    "client",
    "make_app",
    "migrated_url",
    "smtp_server",
    "staff_client",
    "store_engine",
    "store_url",
]
