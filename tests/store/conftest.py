"""Fixtures of the store tests: requests as filed, on the suite's `session` (a migrated database
on each engine)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlmodel import Session

from dsr.languages import Language
from dsr.requests.models import DataRequest
from dsr.requests.workflow import Status
from tests import factories

RECEIVED_AT = datetime(2026, 1, 31, 9, 15, 30, 123456, tzinfo=UTC)

MakeRequest = Callable[..., DataRequest]


@pytest.fixture
def make_request(session: Session) -> MakeRequest:
    """Add a request (tests/factories.py) as filed: received at RECEIVED_AT, in French, with no
    audit event (the tests write the chain); flush it. Keywords replace any of these."""
    return functools.partial(
        factories.make_request,
        session,
        status=Status.RECEIVED,
        received_at=RECEIVED_AT,
        language=Language.FR,
        audited=False,
    )
