"""Extending a request's deadline (R4): once, by one or two months, before the first month ends,
on one of the grounds Art. 12(3) allows (complexity, number of requests) with an explanation, both
of which the requester receives by email with the new date, in the same transaction as the audit
event."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from dsr import db
from dsr.audit.models import RequestEvent, verify_audit
from dsr.outbox.models import OutboxMessage
from dsr.outbox.smtp import SmtpSettings
from dsr.requests.models import DataRequest
from dsr.requests.staff_actions import extend as extend_deadline
from dsr.requests.workflow import Action, Actor, Status, WorkflowError, apply
from tests.requests.test_service import (
    NOW,
    _first_link,
    actions,
    mails_after_delivery,
    reloaded,
    submit,
    verify,
)
from tests.smtp_server import SmtpServer

REASON = 'Your data is in 3 systems & a paper archive <b>"to search"</b>.'


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def settings(smtp: SmtpServer) -> SmtpSettings:
    return SmtpSettings(host=smtp.host, port=smtp.port, timeout=30, sender="dpo@example.org")


def verified_request(store: Engine, language: str = "fr") -> int:
    result = submit(store, language=language)
    verify(store, _first_link(store))
    assert result.request.id is not None
    return result.request.id


def extend(
    store: Engine,
    request_id: int,
    *,
    months: int = 2,
    ground: str = "complexity",
    reason: str = REASON,
    now: datetime = NOW + timedelta(days=10),
) -> None:
    with db.transaction(store) as session:
        request = session.get(DataRequest, request_id)
        assert request is not None
        extend_deadline(
            db_session=session,
            request=request,
            version_id=request.version_id,
            months=months,
            ground=ground,
            reason=reason,
            staff_label="dpo@point3.example",
            now=now,
        )


def queued(store: Engine) -> int:
    with db.open_session(store) as session:
        return session.exec(select(func.count()).select_from(OutboxMessage)).one()


@pytest.mark.databases("sqlite", "postgresql")
def test_the_requester_is_told_the_new_date_and_the_reasons(
    store: Engine, settings: SmtpSettings, smtp: SmtpServer
) -> None:
    request_id = verified_request(store, language="fr")
    extend(store, request_id)

    extended = reloaded(store, request_id)
    assert extended.status is Status.VERIFIED
    assert extended.extension_months == 2
    assert extended.extension_ground == "complexity"
    # 31 January + 3 months: by the end of 30 April in Paris
    assert extended.due_at == datetime(2026, 4, 30, 21, 59, 59, 999999, tzinfo=UTC)

    *_, mail = mails_after_delivery(store, settings, smtp, 3, now=NOW + timedelta(days=10))
    assert mail.message["Subject"] == (
        "Votre demande DSR-2026-000001 : le délai de réponse est prolongé"
    )
    assert "prolongeons le délai de réponse de 2 mois" in mail.text
    assert "au plus tard le 30 avril 2026" in mail.text
    ground = "Cette prolongation est motivée par la complexité de votre demande"
    assert ground in mail.text
    assert mail.html is not None and ground in mail.html
    assert REASON in mail.text
    assert mail.html is not None and "<b>" not in mail.html
    assert "&lt;b&gt;" in mail.html

    assert actions(store) == ["submitted", "verify_email", "extend"]
    with db.open_session(store) as session:
        event = session.exec(select(RequestEvent).order_by(col(RequestEvent.sequence))).all()[-1]
        assert event.actor_kind is Actor.STAFF
        assert event.actor_label == "dpo@point3.example"
        assert event.reason == REASON
        assert event.details == {"months": 2, "ground": "complexity"}
        assert verify_audit(db_session=session).ok


def test_the_new_date_counts_an_ongoing_pause(
    store: Engine, settings: SmtpSettings, smtp: SmtpServer
) -> None:
    request_id = verified_request(store, language="en")
    with db.transaction(store) as session:
        request = session.get(DataRequest, request_id)
        assert request is not None
        transition = apply(
            request.state, Action.ASK_REQUESTER, actor=Actor.STAFF, at=NOW + timedelta(days=2)
        )
        request.store_state(transition.state)
    extend(store, request_id, months=1, ground="number_of_requests", now=NOW + timedelta(days=7))

    assert reloaded(store, request_id).status is Status.AWAITING_REQUESTER
    *_, mail = mails_after_delivery(store, settings, smtp, 3, now=NOW + timedelta(days=7))
    # 31 January + 2 months = 31 March, plus the 5 days waited so far
    assert "by 1 month, as Article 12(3)" in mail.text
    assert "We will answer by 5 April 2026 at the latest." in mail.text
    assert "The ground for this extension is the number of requests we have to answer" in (
        mail.text
    )


@pytest.mark.parametrize(
    ("months", "ground", "reason", "days", "message"),
    [
        (2, "complexity", "   ", 10, "Give the reason"),
        (3, "complexity", REASON, 10, "one or two months"),
        (0, "complexity", REASON, 10, "one or two months"),
        # The first month ended with 28 February in Paris: 1 March is too late.
        (1, "complexity", REASON, 29, "can no longer be extended"),
        (2, "", REASON, 10, "Choose the ground of the extension"),
        (2, "workload", REASON, 10, "Choose the ground of the extension"),
        (2, "Complexity", REASON, 10, "Choose the ground of the extension"),
    ],
    ids=[
        "no reason",
        "three months",
        "zero months",
        "too late",
        "no ground",
        "another ground",
        "a ground misspelt",
    ],
)
@pytest.mark.databases("sqlite")
def test_a_refused_extension_changes_nothing_and_sends_nothing(
    store: Engine, months: int, ground: str, reason: str, days: int, message: str
) -> None:
    request_id = verified_request(store)
    before = (reloaded(store, request_id).due_at, queued(store), len(actions(store)))
    with pytest.raises(WorkflowError, match=message):
        extend(
            store,
            request_id,
            months=months,
            ground=ground,
            reason=reason,
            now=NOW + timedelta(days=days),
        )
    after = (reloaded(store, request_id).due_at, queued(store), len(actions(store)))
    assert after == before
    assert reloaded(store, request_id).extension_ground is None


@pytest.mark.databases("sqlite")
def test_a_deadline_is_extended_once_only(store: Engine) -> None:
    request_id = verified_request(store)
    extend(store, request_id, months=1)
    mails = queued(store)
    with pytest.raises(WorkflowError, match="already been extended"):
        extend(store, request_id, months=1, now=NOW + timedelta(days=11))
    assert reloaded(store, request_id).extension_months == 1
    assert queued(store) == mails
