"""The accounts tests use the learner side's app and SMTP server fixtures, and the staff
helpers."""

from __future__ import annotations

from tests.accounts.helpers import staff_client
from tests.store.conftest import store_engine

__all__ = ["staff_client", "store_engine"]
