"""Fixtures of the store tests: a migrated database on each engine, a session on it, and a
factory of requests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from dsr import db
from dsr.addresses import normalize_email
from dsr.languages import Language
from dsr.requests.models import DataRequest, next_reference
from dsr.requests.workflow import RequestState, RequestType

RECEIVED_AT = datetime(2026, 1, 31, 9, 15, 30, 123456, tzinfo=UTC)

MakeRequest = Callable[..., DataRequest]


@pytest.fixture
def migrated_url(engine_url: str) -> str:
    """A fresh database on this run's engine, upgraded to the newest revision."""
    db.run_migrations(engine_url)
    return engine_url


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
    """Add a request received at RECEIVED_AT (unless told otherwise) and flush it."""

    def make(**fields: Any) -> DataRequest:
        received_at = fields.pop("received_at", RECEIVED_AT)
        email = fields.pop("requester_email", "Zoe.Lefevre@Example.org")
        request = DataRequest(
            reference=fields.pop("reference", None)
            or next_reference(db_session=session, received_at=received_at),
            type=fields.pop("type", RequestType.ACCESS),
            requester_email=email,
            normalized_email=normalize_email(email),
            language=fields.pop("language", Language.FR),
            received_at=received_at,
            due_at=RequestState.new(received_at).due_at,
            **fields,
        )
        session.add(request)
        session.flush()
        return request

    return make
