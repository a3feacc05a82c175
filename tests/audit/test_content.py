"""An event's personal content lives out of the chain: the chain covers its salted digest, so
that minimisation deletes the content and the chain still verifies (R32, R43)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from click.testing import CliRunner
from sqlalchemy import text
from sqlmodel import Session, select

from dsr import db, store_models
from dsr.audit.chain import (
    GENESIS,
    ChainAnchor,
    Tampering,
    append_event,
    content_digest,
    split_details,
)
from dsr.audit.models import (
    CONTENT_REMOVED_ACTION,
    RequestEvent,
    RequestEventContent,
    record_action,
    remove_content,
    verify_audit,
)
from dsr.db import UTCDateTime
from dsr.requests.workflow import Actor
from dsr.store_cli import audit_group
from tests.store.conftest import RECEIVED_AT, MakeRequest

OLD = "Ancienne Adresse, 12 rue des Lilas"
NEW = "Nouvelle Adresse, 3 place du Marché"
NOTE = "Mme Dupont a appelé: elle part au Canada."


def _rectified(session: Session, make_request: MakeRequest) -> RequestEvent:
    request = make_request()
    record_action(
        db_session=session,
        request=request,
        actor=Actor.STAFF,
        actor_label="dpo@example.org",
        action="note",
        at=RECEIVED_AT,
        reason=NOTE,
    )
    event = record_action(
        db_session=session,
        request=request,
        actor=Actor.SYSTEM,
        action="rectified",
        at=RECEIVED_AT + timedelta(minutes=1),
        details={"rows": 1, "old_values": {"app:learner.address": OLD}, "new_values": NEW},
    )
    record_action(
        db_session=session,
        request=request,
        actor=Actor.SYSTEM,
        action="report_sent",
        at=RECEIVED_AT + timedelta(minutes=2),
        details={"files": ["pdf"]},
    )
    session.commit()
    return event


def test_personal_content_is_stored_out_of_the_chained_row(
    session: Session, make_request: MakeRequest
) -> None:
    event = _rectified(session, make_request)
    session.expunge_all()

    chained = session.execute(text("SELECT * FROM dsr_request_event")).mappings().all()
    assert len(chained) == 3
    assert not any(
        personal in json.dumps(dict(row), default=str)
        for row in chained
        for personal in (OLD, NEW, "Dupont")
    )
    stored = session.exec(select(RequestEvent).where(RequestEvent.sequence == 2)).one()
    assert stored.facts == {"rows": 1}
    assert stored.details == {
        "rows": 1,
        "old_values": {"app:learner.address": OLD},
        "new_values": NEW,
    }
    assert stored.content is not None and stored.content_digest == stored.content.digest()
    assert len(stored.content.salt) == 32
    assert event.details == stored.details
    sent = session.exec(select(RequestEvent).where(RequestEvent.sequence == 3)).one()
    assert (sent.content_digest, sent.content, sent.details) == (None, None, {"files": ["pdf"]})
    note = session.exec(select(RequestEvent).where(RequestEvent.sequence == 1)).one()
    assert note.reason == NOTE
    report = verify_audit(db_session=session)
    assert (report.ok, report.events_checked, report.contents_removed) == (True, 3, 0)


def test_the_same_content_has_a_different_digest_in_each_event() -> None:
    content = {"reason": NOTE, "details": {}}
    assert content_digest("a" * 32, content) != content_digest("b" * 32, content)
    assert content_digest("a" * 32, content) == content_digest("a" * 32, dict(content))


def test_unclassified_details_are_content() -> None:
    """A key no one classified is minimised with the content rather than kept for ever."""
    facts, content = split_details({"rows": 2, "old_values": {}, "phone_given": "0612345678"})
    assert facts == {"rows": 2}
    assert content == {"old_values": {}, "phone_given": "0612345678"}


def test_edited_content_is_found(session: Session, make_request: MakeRequest) -> None:
    _rectified(session, make_request)
    session.execute(
        text("UPDATE dsr_request_event_content SET reason = 'Rien.' WHERE sequence = 1")
    )
    session.commit()

    report = verify_audit(db_session=session)
    assert report.fault is not None
    assert (report.fault.sequence, report.fault.tampering) == (1, Tampering.EDITED)
    assert report.message == (
        "The content of event #1 was edited after it was written: it no longer matches the "
        "digest in the chain."
    )


def test_content_moved_to_another_event_is_found(
    session: Session, make_request: MakeRequest
) -> None:
    _rectified(session, make_request)
    session.execute(text("DELETE FROM dsr_request_event_content WHERE sequence = 2"))
    session.execute(text("UPDATE dsr_request_event_content SET sequence = 2 WHERE sequence = 1"))
    session.commit()

    report = verify_audit(db_session=session)
    assert report.fault is not None
    assert (report.fault.sequence, report.fault.tampering) == (1, Tampering.REMOVED)


def test_content_deleted_without_minimisation_is_found(
    session: Session, make_request: MakeRequest
) -> None:
    _rectified(session, make_request)
    session.execute(text("DELETE FROM dsr_request_event_content WHERE sequence = 2"))
    session.commit()

    report = verify_audit(db_session=session)
    assert report.fault is not None
    assert (report.fault.sequence, report.fault.tampering) == (2, Tampering.REMOVED)
    assert report.message == (
        "The content of event #2 was deleted, but no minimisation of its request records it."
    )


def test_removed_content_still_verifies(
    migrated_url: str, session: Session, make_request: MakeRequest
) -> None:
    event = _rectified(session, make_request)
    other = make_request(email="other@example.org")
    record_action(
        db_session=session,
        request=other,
        actor=Actor.STAFF,
        actor_label="dpo@example.org",
        action="note",
        at=RECEIVED_AT,
        reason="Une autre note.",
    )
    request = session.get(type(other), event.request_id)
    assert request is not None
    assert remove_content(db_session=session, request=request, at=RECEIVED_AT) == 2
    session.commit()
    session.expunge_all()

    assert session.exec(select(RequestEventContent.sequence)).all() == [4]
    events = session.exec(select(RequestEvent).order_by(RequestEvent.sequence)).all()
    assert [event.action for event in events] == [
        "note",
        "rectified",
        "report_sent",
        "note",
        CONTENT_REMOVED_ACTION,
    ]
    assert (events[0].reason, events[0].content_removed) == (None, True)
    assert events[1].details == {"rows": 1}
    assert events[4].facts == {"events": 2, "cause": "retention"}
    report = verify_audit(db_session=session)
    assert (report.ok, report.events_checked, report.contents_removed) == (True, 5, 2)
    assert remove_content(db_session=session, request=request, at=RECEIVED_AT) == 0
    session.rollback()
    result = CliRunner().invoke(audit_group, ["verify", "--database-url", migrated_url])
    assert (result.exit_code, result.output) == (
        0,
        "Audit trail intact: 5 events.\n"
        "The content of 2 of them was removed by minimisation; their digests still verify.\n",
    )


# --- the migration ------------------------------------------------------------------------------

BEFORE = "5c1f0e7a2b93"
OLD_EVENTS = sa.table(
    "dsr_request_event",
    sa.column("sequence"),
    sa.column("request_id"),
    sa.column("actor_kind"),
    sa.column("actor_label"),
    sa.column("action"),
    sa.column("from_status"),
    sa.column("to_status"),
    sa.column("at", UTCDateTime()),
    sa.column("reason"),
    sa.column("details", sa.JSON()),
    sa.column("content_hash"),
    sa.column("previous_hash"),
    sa.column("hash"),
)
OLD_LOG = [
    ("staff", "dpo@example.org", "note", NOTE, {}),
    ("system", "system", "rectified", None, {"rows": 1, "old_values": {"a:b.c": OLD}}),
    ("system", "system", "report_sent", None, {"files": ["pdf"]}),
]


def _write_old_log(url: str) -> None:
    """Write a log sealed in the format before the migration: reason and details chained."""
    engine = db.make_engine(url)
    head = ChainAnchor(0, GENESIS)
    with engine.begin() as connection:
        for number, (kind, label, action, reason, details) in enumerate(OLD_LOG, start=1):
            row = {
                "request_id": None,
                "actor_kind": kind,
                "actor_label": label,
                "action": action,
                "from_status": None,
                "to_status": None,
                "at": RECEIVED_AT + timedelta(minutes=number),
                "reason": reason,
                "details": details,
            }
            sealed = append_event(head, row)
            connection.execute(
                sa.insert(OLD_EVENTS).values(
                    **row,
                    sequence=sealed.sequence,
                    content_hash=sealed.content_hash,
                    previous_hash=sealed.previous_hash,
                    hash=sealed.hash,
                )
            )
            head = sealed.anchor
        connection.execute(
            text("UPDATE dsr_audit_head SET last_sequence = :n, last_hash = :h"),
            {"n": head.sequence, "h": head.hash},
        )
    engine.dispose()


def test_the_migration_moves_content_out_and_reseals_the_chain(engine_url: str) -> None:
    db.run_migrations(engine_url, BEFORE)
    _write_old_log(engine_url)

    db.run_migrations(engine_url)

    store_models.import_models()
    engine = db.make_engine(engine_url)
    with db.open_session(engine) as session:
        assert verify_audit(db_session=session).events_checked == 3
        events = session.exec(select(RequestEvent).order_by(RequestEvent.sequence)).all()
        assert [event.reason for event in events] == [NOTE, None, None]
        assert [event.facts for event in events] == [{}, {"rows": 1}, {"files": ["pdf"]}]
        assert events[1].details == {"rows": 1, "old_values": {"a:b.c": OLD}}
        assert [event.content_digest is None for event in events] == [False, False, True]
    # Down and up again: the upgrade checks the chain the downgrade re-sealed in the old format.
    with engine.begin() as connection:
        command.downgrade(db.alembic_config(connection), BEFORE)
    db.run_migrations(engine_url)
    with db.open_session(engine) as session:
        assert verify_audit(db_session=session).events_checked == 3
        assert session.exec(select(RequestEventContent.reason)).all() == [NOTE, None]
    engine.dispose()


def test_the_migration_refuses_to_reseal_an_altered_log(engine_url: str) -> None:
    db.run_migrations(engine_url, BEFORE)
    _write_old_log(engine_url)
    engine = db.make_engine(engine_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE dsr_request_event SET reason = 'Rien.' WHERE sequence = 1"))
    engine.dispose()

    with pytest.raises(RuntimeError, match=r"not intact at event #1"):
        db.run_migrations(engine_url)
    assert db.current_revision(db.make_engine(engine_url)) == BEFORE
