"""The chain's anchor, exported and kept outside the store, shows a rewrite of the whole log that
the chain alone cannot: printed, written to a file, emailed to the DPOs, checked by
`dsr audit verify --anchor`."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from dsr import db
from dsr.accounts.models import StaffRole
from dsr.audit.anchor import ANCHOR_FORMAT, AnchorUnreadable, read_anchor
from dsr.audit.chain import ORIGIN, ChainAnchor, Tampering, append_event, verify_chain
from dsr.audit.models import AuditHead, RequestEvent, record_action, verify_audit
from dsr.languages import Language
from dsr.outbox.models import OutboxMessage
from dsr.requests.workflow import Actor
from dsr.scheduler.jobs import JOBS, SCHEDULES, run_job
from dsr.scheduler.runs import SchedulerSettings
from dsr.store_cli import audit_group
from tests.accounts.helpers import make_staff
from tests.store.conftest import RECEIVED_AT, MakeRequest

NOTE = "Mme Dupont a rappelé."


def _log(session: Session, make_request: MakeRequest, events: int = 3) -> None:
    request = make_request()
    for number in range(events):
        record_action(
            db_session=session,
            request=request,
            actor=Actor.STAFF,
            actor_label="dpo@example.org",
            action="note",
            at=RECEIVED_AT + timedelta(minutes=number),
            reason=NOTE,
            details={"rows": number},
        )
    session.commit()


def _rewrite_whole_store(session: Session) -> None:
    """What someone with write access to the store can do: edit an event and recompute every
    hash after it, and the head, so that the chain on its own verifies."""
    events = session.exec(select(RequestEvent).order_by(col(RequestEvent.sequence))).all()
    head = ORIGIN
    table = db.table_of(RequestEvent)
    for event in events:
        fields = event.chain_fields()
        if event.sequence == 1:
            fields["actor_label"] = "someone.else@example.org"
        sealed = append_event(head, fields)
        session.execute(
            update(table)
            .where(table.c.sequence == event.sequence)
            .values(
                actor_label=fields["actor_label"],
                content_hash=sealed.content_hash,
                previous_hash=sealed.previous_hash,
                hash=sealed.hash,
            )
        )
        head = sealed.anchor
    heads = db.table_of(AuditHead)
    session.execute(update(heads).values(last_sequence=head.sequence, last_hash=head.hash))
    session.commit()


def test_a_log_must_pass_through_its_anchor() -> None:
    events = []
    head = ORIGIN
    for number in range(5):
        event = append_event(head, {"n": number})
        events.append(event)
        head = event.anchor
    assert verify_chain(events, through=events[2].anchor).ok
    assert verify_chain(events, through=ORIGIN).ok

    forged = verify_chain(events, through=ChainAnchor(3, "a" * 64))
    assert forged.fault is not None
    assert (forged.fault.sequence, forged.fault.tampering) == (3, Tampering.EDITED)
    assert forged.message == (
        "Event #3 does not have the hash the anchor recorded: the log was rewritten after the "
        "anchor was taken."
    )
    cut = verify_chain(events[:2], through=events[3].anchor)
    assert cut.fault is not None
    assert (cut.fault.sequence, cut.fault.tampering) == (3, Tampering.REMOVED)


def test_anchor_round_trip_and_a_rewritten_store(
    migrated_url: str, session: Session, make_request: MakeRequest, tmp_path: Path
) -> None:
    _log(session, make_request)
    runner = CliRunner()
    anchor_file = tmp_path / "anchor.json"

    printed = runner.invoke(audit_group, ["anchor", "--database-url", migrated_url])
    written = runner.invoke(
        audit_group, ["anchor", "--out", str(anchor_file), "--database-url", migrated_url]
    )

    assert printed.exit_code == 0, printed.output
    assert written.exit_code == 0, written.output
    assert written.output == f"Anchor of event #3 (3 events) written to {anchor_file}.\n"
    anchor = json.loads(anchor_file.read_text(encoding="utf-8"))
    head = session.get(AuditHead, 1)
    assert head is not None
    assert anchor["format"] == ANCHOR_FORMAT
    assert (anchor["sequence"], anchor["hash"], anchor["events"]) == (3, head.last_hash, 3)
    assert anchor["last_event_at"] == "2026-01-31T09:17:30.123456Z"
    assert set(anchor) == {"format", "sequence", "hash", "events", "last_event_at", "taken_at"}
    assert json.loads(printed.output)["hash"] == head.last_hash
    assert "Dupont" not in anchor_file.read_text(encoding="utf-8")

    _log(session, make_request, events=1)  # the log goes on after the anchor was taken
    verify = ["verify", "--anchor", str(anchor_file), "--database-url", migrated_url]
    intact = runner.invoke(audit_group, verify)
    assert intact.exit_code == 0, intact.output
    assert intact.output == (
        "Audit trail intact: 4 events.\nThe log still holds the anchor at event #3.\n"
    )

    _rewrite_whole_store(session)
    assert verify_audit(db_session=session).ok  # the chain alone cannot tell
    session.rollback()
    rewritten = runner.invoke(audit_group, verify)
    assert rewritten.exit_code == 1
    assert "Event #3 does not have the hash the anchor recorded" in rewritten.output


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("not json", "it is not JSON"),
        ('{"format": "other"}', '"format" is not dsr-audit-anchor/1'),
        ('{"format": "dsr-audit-anchor/1", "sequence": -1, "hash": ""}', '"sequence"'),
        ('{"format": "dsr-audit-anchor/1", "sequence": 2, "hash": "ABC"}', '"hash"'),
    ],
)
def test_a_file_that_is_not_an_anchor_is_refused(text: str, said: str, tmp_path: Path) -> None:
    with pytest.raises(AnchorUnreadable, match=said.replace("/", ".")):
        read_anchor(text)
    bad = tmp_path / "bad.json"
    bad.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(
        audit_group, ["verify", "--anchor", str(bad), "--database-url", "sqlite://"]
    )
    assert result.exit_code == 2
    assert said in result.output


@pytest.mark.parametrize(
    ("language", "subject"),
    [
        (Language.EN, "Anchor of the audit log: event #3"),
        (Language.FR, "Ancre du journal d'audit : événement n° 3"),
    ],
)
def test_the_anchor_is_emailed_to_the_dpos_each_week(
    store: Engine,
    session: Session,
    make_request: MakeRequest,
    language: Language,
    subject: str,
) -> None:
    _log(session, make_request)
    dpo = make_staff(store, role=StaffRole.DPO, email="dpo@desk.example")
    make_staff(store, role=StaffRole.AUDITOR, email="auditor@desk.example")
    settings = SchedulerSettings(secret_key="k" * 32, staff_language=language)
    assert SCHEDULES["audit_anchor"]["day_of_week"] == "mon" and "audit_anchor" in JOBS

    first = run_job("audit_anchor", engine=store, settings=settings, now=RECEIVED_AT)
    again = run_job("audit_anchor", engine=store, settings=settings, now=RECEIVED_AT)

    assert (first.items_done, again.items_done) == (1, 0)  # once per anchor and recipient
    with db.open_session(store) as fresh:
        (message,) = fresh.exec(select(OutboxMessage)).all()
        head = fresh.get(AuditHead, 1)
    assert head is not None
    assert message.to_address == dpo.email
    assert message.subject == subject
    assert head.last_hash in message.text_body and "Dupont" not in message.text_body
    assert "verify --anchor" in message.text_body


def test_the_weekly_email_can_be_turned_off(
    store: Engine, session: Session, make_request: MakeRequest
) -> None:
    _log(session, make_request)
    make_staff(store, role=StaffRole.DPO)
    settings = SchedulerSettings(secret_key="k" * 32, run={"AUDIT_ANCHOR_EMAIL": "false"})
    run = run_job("audit_anchor", engine=store, settings=settings, now=RECEIVED_AT)
    assert (run.items_done, run.errors) == (0, 0)
    with db.open_session(store) as fresh:
        assert fresh.exec(select(OutboxMessage)).all() == []


def test_dsr_audit_anchor_email_queues_it(
    migrated_url: str, store: Engine, session: Session, make_request: MakeRequest
) -> None:
    _log(session, make_request)
    make_staff(store, role=StaffRole.ADMIN)
    result = CliRunner().invoke(audit_group, ["anchor", "--email", "--database-url", migrated_url])
    assert result.exit_code == 0, result.output
    assert result.output.endswith("Anchor emailed to 1 member of staff.\n")
    with db.open_session(store) as fresh:
        assert len(fresh.exec(select(OutboxMessage)).all()) == 1


def test_an_altered_log_is_not_anchored(
    migrated_url: str, store: Engine, session: Session, make_request: MakeRequest, tmp_path: Path
) -> None:
    """An anchor vouches for the log as it is: one taken after an edit would hide it."""
    _log(session, make_request)
    make_staff(store, role=StaffRole.DPO)
    table = db.table_of(RequestEvent)
    session.execute(update(table).where(table.c.sequence == 2).values(action="approve"))
    session.commit()
    out = tmp_path / "anchor.json"

    result = CliRunner().invoke(
        audit_group, ["anchor", "--out", str(out), "--email", "--database-url", migrated_url]
    )
    settings = SchedulerSettings(secret_key="k" * 32)
    run = run_job("audit_anchor", engine=store, settings=settings, now=RECEIVED_AT)

    assert result.exit_code == 1
    assert "error: no anchor taken: Event #2 was edited" in result.output
    assert not out.exists()
    assert (run.items_done, run.errors) == (0, 1)
    with db.open_session(store) as fresh:
        assert fresh.exec(select(OutboxMessage)).all() == []
