"""Fixtures of the store tests: a migrated database on each engine, a session on it, and a
factory of requests."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from dsr import db
from dsr.languages import Language
from dsr.requests.models import DataRequest
from dsr.requests.workflow import Status
from tests import factories

RECEIVED_AT = datetime(2026, 1, 31, 9, 15, 30, 123456, tzinfo=UTC)

MakeRequest = Callable[..., DataRequest]


@pytest.fixture
def store_engine(migrated_url: str) -> Iterator[Engine]:
    engine = db.make_engine(migrated_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(store_engine: Engine) -> Iterator[Session]:
    with db.open_session(store_engine) as session:
        yield session


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
