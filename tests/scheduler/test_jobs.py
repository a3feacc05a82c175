"""Each job's effect on the store, on SQLite and PostgreSQL: expiry, deadline notices sent once,
the digest, minimisation that keeps the audit chain verifying, purges, stuck requests, and a
failing item skipped and recorded."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from dsr import db
from dsr.accounts.models import StaffRole
from dsr.audit.models import (
    CONTENT_REMOVED_ACTION,
    RequestEvent,
    RequestEventContent,
    append_fact,
    record_action,
    verify_audit,
)
from dsr.delivery.models import Report, ReportKind
from dsr.languages import Language
from dsr.links import DEVELOPMENT_PUBLIC_URL
from dsr.outbox.emails import RenderedEmail
from dsr.outbox.models import OutboxMessage
from dsr.outbox.service import enqueue
from dsr.requests.jobs import MINIMISED_DOMAIN, email_digest, notice_kind
from dsr.requests.models import DataRequest
from dsr.requests.workflow import Actor, Status
from dsr.scheduler import jobs
from dsr.scheduler.jobs import run_job
from dsr.scheduler.models import JobRun
from dsr.scheduler.runs import SchedulerSettings
from tests.accounts.helpers import make_staff
from tests.factories import reloaded
from tests.scheduler.conftest import NOW, MakeRequest

ON_ENGINES = pytest.mark.databases("sqlite", "postgresql")


def _messages(store: Engine, prefix: str) -> list[OutboxMessage]:
    with db.open_session(store) as session:
        return list(
            session.exec(
                select(OutboxMessage)
                .where(col(OutboxMessage.dedup_key).startswith(prefix))
                .order_by(col(OutboxMessage.id))
            ).all()
        )


def _audit_ok(store: Engine) -> None:
    with db.open_session(store) as session:
        assert verify_audit(db_session=session).ok


@ON_ENGINES
def test_unverified_requests_expire_after_the_period(
    store: Engine, settings: SchedulerSettings, make_request: MakeRequest
) -> None:
    old = make_request(status=Status.RECEIVED, received_at=NOW - timedelta(days=8))
    recent = make_request(status=Status.RECEIVED, received_at=NOW - timedelta(days=3))
    run = run_job("expire_unverified", engine=store, settings=settings, now=NOW)
    assert (run.items_done, run.errors) == (1, 0)
    assert reloaded(store, old).status is Status.EXPIRED
    assert reloaded(store, recent).status is Status.RECEIVED
    with db.open_session(store) as session:
        event = session.exec(
            select(RequestEvent).where(
                RequestEvent.request_id == old, RequestEvent.action == "expire"
            )
        ).one()
    assert (event.actor_kind, event.to_status) == ("system", Status.EXPIRED)
    assert run_job("expire_unverified", engine=store, settings=settings, now=NOW).items_done == 0
    _audit_ok(store)


def test_which_deadline_notice_is_due() -> None:
    due = NOW + timedelta(days=30)
    assert notice_kind(due, NOW) is None
    assert notice_kind(due, due - timedelta(days=7)) == ("deadline_reminder", 7)
    assert notice_kind(due, due - timedelta(days=3)) == ("deadline_reminder", 7)
    assert notice_kind(due, due - timedelta(days=2)) == ("deadline_reminder", 2)
    assert notice_kind(due, due) == ("deadline_overdue", 0)


@ON_ENGINES
def test_reminders_and_the_overdue_alert_are_sent_once_each(
    store: Engine, settings: SchedulerSettings, make_request: MakeRequest
) -> None:
    dpo = make_staff(store, role=StaffRole.DPO)
    make_staff(store, role=StaffRole.ADMIN)
    make_staff(store, role=StaffRole.AUDITOR)
    request_id = make_request(status=Status.IN_REVIEW)
    due = reloaded(store, request_id).due_at

    def run_at(moment: Any) -> JobRun:
        return run_job("deadlines", engine=store, settings=settings, now=moment)

    run_at(due - timedelta(days=10))
    assert _messages(store, "deadline_reminder") == []
    for _ in range(2):  # the job runs again: nothing is sent twice
        run_at(due - timedelta(days=6))
    seven = _messages(store, "deadline_reminder:7:")
    assert len(seven) == 2  # the DPO and the admin, not the auditor
    assert dpo.email in {message.to_address for message in seven}
    reference = reloaded(store, request_id).reference
    assert reference in seven[0].subject and "7" in seven[0].subject
    run_at(due - timedelta(days=1))
    run_at(due - timedelta(hours=12))
    assert len(_messages(store, "deadline_reminder:2:")) == 2
    run_at(due + timedelta(hours=1))
    run_at(due + timedelta(days=1))
    overdue = _messages(store, "deadline_overdue:")
    assert len(overdue) == 2
    assert "dépassée" in overdue[0].subject  # the staff's language: French by default
    assert "zoe" not in overdue[0].text_body.lower()  # references, never the requester's address
    assert f"{DEVELOPMENT_PUBLIC_URL}/dashboard/requests/{reference}" in overdue[0].text_body
    assert "(Accès, statut En cours d'examen)" in overdue[0].text_body


@ON_ENGINES
def test_a_request_ready_to_send_is_reminded_and_flagged_overdue_until_answered(
    store: Engine, settings: SchedulerSettings, make_request: MakeRequest
) -> None:
    """R47: carried out is not answered; a completed request (its answer delivered) is not."""
    make_staff(store, role=StaffRole.DPO)
    ready = make_request(status=Status.READY_TO_SEND)
    make_request(status=Status.COMPLETED)
    due = reloaded(store, ready).due_at
    reference = reloaded(store, ready).reference

    run_job("deadlines", engine=store, settings=settings, now=due - timedelta(days=1))
    run_job("deadlines", engine=store, settings=settings, now=due + timedelta(hours=1))

    [reminder] = _messages(store, "deadline_reminder:")
    [overdue] = _messages(store, "deadline_overdue:")
    assert reference in reminder.subject and reference in overdue.subject
    digests = _messages(store, "deadline_digest:")
    assert digests and all(reference in digest.text_body for digest in digests)
    assert all("1" in digest.subject for digest in digests)  # the completed one is not listed


@ON_ENGINES
def test_an_assigned_request_reminds_its_assignee_only(
    store: Engine, settings: SchedulerSettings, make_request: MakeRequest
) -> None:
    make_staff(store, role=StaffRole.DPO)
    assignee = make_staff(store, role=StaffRole.DPO)
    request_id = make_request(status=Status.IN_REVIEW, assignee_id=assignee.id)
    due = reloaded(store, request_id).due_at
    run_job("deadlines", engine=store, settings=settings, now=due - timedelta(days=5))
    assert [m.to_address for m in _messages(store, "deadline_reminder")] == [assignee.email]


@ON_ENGINES
def test_the_daily_digest_lists_open_requests_by_due_date_once_a_day(
    store: Engine, settings: SchedulerSettings, make_request: MakeRequest
) -> None:
    make_staff(store, role=StaffRole.DPO)
    later = make_request(status=Status.VERIFIED, received_at=NOW - timedelta(days=2))
    sooner = make_request(status=Status.IN_REVIEW, received_at=NOW - timedelta(days=20))
    make_request(status=Status.COMPLETED)
    make_request(status=Status.RECEIVED)
    english = SchedulerSettings(
        secret_key=settings.secret_key,
        smtp=settings.smtp,
        staff_language=Language.EN,
        run={"PUBLIC_URL": "https://privacy.example.org/desk"},
    )
    run_job("deadlines", engine=store, settings=english, now=NOW)
    run_job("deadlines", engine=store, settings=english, now=NOW + timedelta(hours=3))
    digests = _messages(store, "deadline_digest:")
    assert len(digests) == 1
    body = digests[0].text_body
    assert digests[0].subject == "Open requests: 2 to answer"
    first, second = reloaded(store, sooner).reference, reloaded(store, later).reference
    assert body.index(first) < body.index(second)
    assert "zoe" not in body.lower()
    # Each request links to its page on the dashboard (the configured public URL), and its type
    # and status are named as staff read them, not as codes.
    for reference in (first, second):
        link = f"https://privacy.example.org/desk/dashboard/requests/{reference}"
        assert link in body and f'href="{link}"' in str(digests[0].html_body)
    assert "(Access, In review)" in body and "(Access, Verified, to review)" in body
    assert "in_review" not in body and "verified)" not in body
    run_job("deadlines", engine=store, settings=english, now=NOW + timedelta(days=1))
    assert len(_messages(store, "deadline_digest:")) == 2


@ON_ENGINES
def test_closed_requests_are_minimised_and_the_audit_chain_still_verifies(
    store: Engine, settings: SchedulerSettings, make_request: MakeRequest
) -> None:
    old = make_request(
        status=Status.COMPLETED,
        received_at=NOW - timedelta(days=6 * 365),
        message="Please send me everything about my account",
    )
    recent = make_request(status=Status.DENIED, received_at=NOW - timedelta(days=300))
    still_open = make_request(status=Status.IN_REVIEW, received_at=NOW - timedelta(days=6 * 365))
    with db.transaction(store) as session:
        enqueue(
            db_session=session,
            to="Zoe.Lefevre@Example.org",
            email=RenderedEmail(
                subject="s", text="Your request about your account", html="<p>x</p>"
            ),
            language=Language.FR,
            dedup_key="test:minimise",
            now=NOW - timedelta(days=6 * 365),
            request_id=old,
        )
    run = run_job("minimise_closed", engine=store, settings=settings, now=NOW)
    assert (run.items_done, run.errors) == (1, 0)
    minimised = reloaded(store, old)
    assert minimised.requester_email.endswith(f"@{MINIMISED_DOMAIN}")
    assert "zoe" not in minimised.requester_email and "zoe" not in minimised.normalized_email
    assert minimised.message is None and minimised.rectification_details is None
    assert minimised.normalized_email == email_digest(
        settings.secret_key, "zoe.lefevre@example.org"
    )
    (message,) = _messages(store, "test:minimise")
    assert message.to_address == minimised.requester_email and message.text_body == ""
    assert reloaded(store, recent).requester_email == "Zoe.Lefevre@Example.org"
    assert reloaded(store, still_open).requester_email == "Zoe.Lefevre@Example.org"
    _audit_ok(store)
    with db.open_session(store) as session:
        events = session.exec(select(RequestEvent).where(RequestEvent.request_id == old)).all()
    assert [event.action for event in events] == ["received", "minimise"]
    assert all("zoe" not in repr(event.chain_fields()).lower() for event in events)
    assert run_job("minimise_closed", engine=store, settings=settings, now=NOW).items_done == 0


@ON_ENGINES
def test_minimisation_removes_the_content_of_the_requests_events(
    store: Engine, settings: SchedulerSettings, make_request: MakeRequest
) -> None:
    old = make_request(status=Status.COMPLETED, received_at=NOW - timedelta(days=6 * 365))
    recent = make_request(status=Status.COMPLETED, received_at=NOW - timedelta(days=300))
    for request_id, at in ((old, NOW - timedelta(days=6 * 365)), (recent, NOW)):
        with db.transaction(store) as session:
            request = session.get(DataRequest, request_id)
            for details in ({"old_values": {"app:learner.city": "Lyon"}}, {"rows": 1}):
                record_action(
                    db_session=session,
                    request=request,
                    actor=Actor.STAFF,
                    actor_label="dpo@example.org",
                    action="note",
                    at=at,
                    reason="Zoe called from her new number",
                    details=details,
                )

    assert run_job("minimise_closed", engine=store, settings=settings, now=NOW).items_done == 1

    with db.open_session(store) as session:
        events = session.exec(
            select(RequestEvent)
            .where(RequestEvent.request_id == old)
            .order_by(col(RequestEvent.sequence))
        ).all()
        kept = session.exec(select(RequestEventContent.sequence)).all()
        report = verify_audit(db_session=session)
    assert [event.action for event in events] == [
        "received",
        "note",
        "note",
        CONTENT_REMOVED_ACTION,
        "minimise",
    ]
    assert [event.content_removed for event in events[1:3]] == [True, True]
    assert events[1].reason is None and events[1].details == {}
    assert events[3].details == {"events": 2, "cause": "retention"}
    assert len(kept) == 2  # the recent request's notes
    assert (report.ok, report.contents_removed) == (True, 2)


@ON_ENGINES
def test_requests_stuck_in_processing_fail_with_a_reason(
    store: Engine, settings: SchedulerSettings, make_request: MakeRequest
) -> None:
    stuck = make_request(status=Status.PROCESSING, last_event_at=NOW - timedelta(hours=30))
    busy = make_request(status=Status.PROCESSING, last_event_at=NOW - timedelta(hours=1))
    run = run_job("fail_stuck", engine=store, settings=settings, now=NOW)
    assert (run.items_done, run.errors) == (1, 0)
    assert reloaded(store, stuck).status is Status.FAILED
    assert reloaded(store, busy).status is Status.PROCESSING
    with db.open_session(store) as session:
        event = session.exec(
            select(RequestEvent).where(
                RequestEvent.request_id == stuck, RequestEvent.action == "fail"
            )
        ).one()
    assert event.reason is not None and "24 hours" in event.reason
    _audit_ok(store)


@ON_ENGINES
def test_expired_reports_are_purged_with_their_files(
    store: Engine, settings: SchedulerSettings, make_request: MakeRequest, tmp_path: Path
) -> None:
    request_id = make_request(status=Status.COMPLETED)
    files = []
    with db.transaction(store) as session:
        for days, kind in ((-1, ReportKind.PDF), (5, ReportKind.ZIP)):
            path = tmp_path / f"report-{kind.value}"
            path.write_bytes(b"report")
            files.append(path)
            session.add(
                Report(
                    request_id=request_id,
                    kind=kind,
                    path=str(path),
                    size=6,
                    sha256="0" * 64,
                    created_at=NOW - timedelta(days=10),
                    expires_at=NOW + timedelta(days=days),
                    downloads_left=3,
                )
            )
    run = run_job("purge_reports", engine=store, settings=settings, now=NOW)
    assert (run.items_done, run.errors) == (1, 0)
    assert not files[0].exists() and files[1].exists()
    with db.open_session(store) as session:
        assert [r.kind for r in session.exec(select(Report)).all()] == [ReportKind.ZIP]
    _audit_ok(store)


@ON_ENGINES
def test_a_failing_item_is_logged_skipped_and_recorded(
    store: Engine,
    settings: SchedulerSettings,
    make_request: MakeRequest,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    first = make_request(status=Status.RECEIVED, received_at=NOW - timedelta(days=9))
    second = make_request(status=Status.RECEIVED, received_at=NOW - timedelta(days=9))
    real = append_fact
    calls = []

    def flaky(**kwargs: Any) -> Any:
        calls.append(kwargs["request"].id)
        if len(calls) == 1:
            raise RuntimeError("zoe.lefevre@example.org")  # a message must never reach the log
        return real(**kwargs)

    monkeypatch.setattr("dsr.requests.status.append_fact", flaky)
    run = run_job("expire_unverified", engine=store, settings=settings, now=NOW)
    assert (run.items_done, run.errors, run.error_summary) == (1, 1, "RuntimeError x1")
    assert reloaded(store, first).status is Status.RECEIVED  # rolled back, retried next run
    assert reloaded(store, second).status is Status.EXPIRED
    assert "zoe" not in caplog.text
    assert f"item {first} failed: RuntimeError" in caplog.text
    with db.open_session(store) as session:
        (recorded,) = session.exec(select(JobRun)).all()
    assert recorded.finished_at is not None and recorded.errors == 1
    _audit_ok(store)


@ON_ENGINES
def test_a_job_that_fails_altogether_is_recorded(
    store: Engine, settings: SchedulerSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: Any) -> None:
        raise ConnectionError("smtp.example.org refused")

    monkeypatch.setattr(jobs, "JOBS", {**jobs.JOBS, "outbox": broken})
    run = run_job("outbox", engine=store, settings=settings, now=NOW)
    assert (run.items_done, run.errors, run.error_summary) == (0, 1, "ConnectionError x1")
