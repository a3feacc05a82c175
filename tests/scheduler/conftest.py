"""Fixtures of the scheduler tests: a migrated store on each engine, settings, and requests in any
status with their audit event, committed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from dsr import db, store_models
from dsr.audit.models import record_action
from dsr.languages import Language
from dsr.outbox.smtp import SmtpSettings
from dsr.requests.workflow import Actor, Status
from dsr.scheduler.runs import SchedulerSettings
from tests import factories

NOW = datetime(2026, 6, 15, 7, 0, tzinfo=UTC)

MakeRequest = Callable[..., int]


@pytest.fixture
def store(migrated_url: str) -> Iterator[Engine]:
    """A fresh store, migrated, on this run's engine (a copy of one migrated once per test
    process)."""
    store_models.import_models()
    engine = db.make_engine(migrated_url)
    yield engine
    engine.dispose()


@pytest.fixture
def settings() -> SchedulerSettings:
    # Port 9 (discard): nothing listens, so a delivery attempt would fail fast.
    return SchedulerSettings(
        secret_key="a secret for the tests only",
        smtp=SmtpSettings(host="127.0.0.1", port=9, timeout=1),
    )


@pytest.fixture
def make_request(store: Engine) -> MakeRequest:
    """Add a committed request (tests/factories.py) in `status`, in French, received at
    `received_at`, whose one audit event is at `last_event_at` (default: its receipt); return its
    id."""

    def make(
        *,
        status: Status = Status.IN_REVIEW,
        received_at: datetime = NOW - timedelta(days=10),
        last_event_at: datetime | None = None,
        **fields: Any,
    ) -> int:
        with db.transaction(store) as session:
            request = factories.make_request(
                session,
                status=status,
                received_at=received_at,
                language=Language.FR,
                audited=False,
                **fields,
            )
            record_action(
                db_session=session,
                request=request,
                actor=Actor.SYSTEM,
                action="received",
                at=last_event_at or received_at,
                to_status=status,
            )
            assert request.id is not None
            return request.id

    return make
