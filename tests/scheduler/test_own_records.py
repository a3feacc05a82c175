"""The desk keeps its own records no longer than it may (issue 18, R32, R43): requests never
verified are deleted with everything attached, and `housekeeping` deletes job runs, runs of
closed requests, sent emails and callbacks, used recovery codes and expired download links past
their periods, on every engine; the periods are refused at start when invalid."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import Table, func, select
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel, col

from dsr import db
from dsr.accounts.models import StaffRecoveryCode, StaffRole
from dsr.api.models import CallbackDelivery, CallbackDeliveryStatus, StatusCallback
from dsr.audit.models import RequestEvent, verify_audit
from dsr.config import DEFAULTS, InsecureConfiguration, Settings, check_settings
from dsr.delivery.models import DeliveryMethod, DownloadLink
from dsr.execution.change_records import RectificationValue
from dsr.execution.runs import ProgressState, RequestRun, RunProgress
from dsr.languages import Language
from dsr.outbox.emails import RenderedEmail
from dsr.outbox.models import OutboxMessage, OutboxStatus
from dsr.outbox.service import enqueue
from dsr.records import RecordPeriods
from dsr.requests.closed_counts import ClosedCount, ClosedCountDelta
from dsr.requests.models import AnswerChannel, DataRequest, Task, TaskKind
from dsr.requests.unverified import DELETE_ACTION, DELETED_ADDRESS
from dsr.requests.workflow import RequestType, Status
from dsr.scheduler import housekeeping
from dsr.scheduler.cli import scheduler_group
from dsr.scheduler.housekeeping import HOUSEKEEPING_ACTION
from dsr.scheduler.jobs import run_job
from dsr.scheduler.models import JobRun
from dsr.scheduler.runs import SchedulerSettings
from tests import factories
from tests.accounts.helpers import StaffClientFactory, make_staff, staff_client
from tests.factories import reloaded
from tests.scheduler.conftest import NOW, MakeRequest

__all__ = ["staff_client"]  # the fixtures used here

EVERY_ENGINE = pytest.mark.databases("sqlite", "postgresql", "mariadb")
EMAIL = "Zoe.Lefevre@Example.org"


def _count(store: Engine, model: type[SQLModel] | Table, *where: Any) -> int:
    table = model if isinstance(model, Table) else db.table_of(model)
    with db.open_session(store) as session:
        return int(session.execute(select(func.count()).select_from(table).where(*where)).one()[0])


def _events(store: Engine, action: str) -> list[RequestEvent]:
    with db.open_session(store) as session:
        return list(
            session.execute(select(RequestEvent).where(col(RequestEvent.action) == action))
            .scalars()
            .all()
        )


def _audit_ok(store: Engine) -> None:
    with db.open_session(store) as session:
        assert verify_audit(db_session=session).ok


def _email(store: Engine, request_id: int | None, *, status: OutboxStatus, at: datetime) -> int:
    """Queue an email at `at` about the request (None: to staff), then give it `status`."""
    with db.transaction(store) as session:
        message = enqueue(
            db_session=session,
            to=EMAIL,
            email=RenderedEmail(subject="s", text="About your account, Zoe", html=None),
            language=Language.FR,
            dedup_key=None,
            now=at,
            request_id=request_id,
        )
        message.status = status
        message.sent_at = at if status is OutboxStatus.SENT else None
        session.add(message)
        session.flush()
        assert message.id is not None
        return message.id


def _callback(
    store: Engine, request_id: int, *, status: CallbackDeliveryStatus, at: datetime
) -> int:
    with db.transaction(store) as session:
        callback = StatusCallback(request_id=request_id, url="https://platform.example.org/cb")
        session.add(callback)
        session.flush()
        assert callback.id is not None
        delivery = CallbackDelivery(
            callback_id=callback.id,
            event_id="e1",
            body='{"status": "expired"}',
            status=status,
            next_attempt_at=at,
            created_at=at,
            sent_at=at if status is CallbackDeliveryStatus.SENT else None,
        )
        session.add(delivery)
        session.flush()
        assert delivery.id is not None
        return delivery.id


def _link(store: Engine, request_id: int, *, expires_at: datetime) -> int:
    with db.transaction(store) as session:
        link = DownloadLink(
            request_id=request_id,
            token_hash=f"{request_id:064x}",
            method=DeliveryMethod.LINK,
            created_at=expires_at - timedelta(days=7),
            expires_at=expires_at,
            wrong_codes=2,
        )
        session.add(link)
        session.flush()
        assert link.id is not None
        return link.id


def _run(store: Engine, request_id: int, *, started_at: datetime) -> None:
    with db.transaction(store) as session:
        session.add(RequestRun(request_id=request_id, started_at=started_at))
        session.add(
            RunProgress(
                request_id=request_id,
                system="learner_platform",
                state=ProgressState.DONE,
                rows=3,
                started_at=started_at,
                finished_at=started_at,
            )
        )


# --- requests never verified --------------------------------------------------------------------


@EVERY_ENGINE
def test_unverified_requests_are_deleted_with_all_attached_and_the_chain_still_verifies(
    store: Engine, settings: SchedulerSettings, make_request: MakeRequest
) -> None:
    old_at = NOW - timedelta(days=31)
    expired = make_request(
        status=Status.EXPIRED, received_at=old_at, email=EMAIL, message="I am Zoe, 12 rue X"
    )
    cancelled = make_request(
        status=Status.CANCELLED, received_at=old_at, email=EMAIL, verified_at=None
    )
    recent = make_request(status=Status.EXPIRED, received_at=NOW - timedelta(days=29), email=EMAIL)
    answered = make_request(status=Status.COMPLETED, received_at=old_at, email=EMAIL)
    waiting = make_request(status=Status.RECEIVED, received_at=old_at, email=EMAIL)
    for request_id in (expired, recent, answered):
        _email(store, request_id, status=OutboxStatus.SENT, at=old_at)
    _email(store, expired, status=OutboxStatus.PENDING, at=old_at)
    _callback(store, expired, status=CallbackDeliveryStatus.PENDING, at=old_at)
    _link(store, expired, expires_at=old_at)
    _run(store, expired, started_at=old_at)
    with db.transaction(store) as session:
        session.add(
            Task(
                request_id=expired,
                kind=TaskKind.MANUAL_CHECK,
                title="Look in the paper archive",
                created_at=old_at,
                subject_identity=EMAIL,
            )
        )
        stub = session.get(DataRequest, expired)
        assert stub is not None
        stub.issue_status_token()
        stub.verification_nonce = "n" * 32

    run = run_job(DELETE_ACTION, engine=store, settings=settings, now=NOW)

    assert (run.items_done, run.errors) == (2, 0)
    for deleted in (expired, cancelled):
        request = reloaded(store, deleted)
        assert request.requester_email == request.normalized_email == DELETED_ADDRESS
        assert (request.message, request.verification_nonce, request.status_token_hash) == (
            None,
            None,
            None,
        )
        assert request.reference.startswith("DSR-")  # what proves it was handled stays
    for table in SQLModel.metadata.sorted_tables:  # nothing else refers to it but its events
        for key in table.foreign_keys:
            if key.column.table.name == "dsr_request" and table.name != "dsr_request_event":
                assert _count(store, table, key.parent.in_([expired, cancelled])) == 0
    assert _count(store, CallbackDelivery) == 0
    for kept in (recent, answered, waiting):
        assert reloaded(store, kept).requester_email == EMAIL
    assert _count(store, OutboxMessage) == 2  # the recent and the answered requests' emails
    _audit_ok(store)
    events = _events(store, DELETE_ACTION)
    assert sorted(event.request_id or 0 for event in events) == [expired, cancelled]
    counts = next(event for event in events if event.request_id == expired).details["rows"]
    assert counts == {
        "dsr_callback_delivery": 1,
        "dsr_download_link": 1,
        "dsr_outbox_message": 2,
        "dsr_request_run": 1,
        "dsr_run_progress": 1,
        "dsr_status_callback": 1,
        "dsr_task": 1,
    }
    assert all("zoe" not in repr(event.chain_fields()).lower() for event in events)
    assert run_job(DELETE_ACTION, engine=store, settings=settings, now=NOW).items_done == 0


# --- housekeeping -------------------------------------------------------------------------------


@EVERY_ENGINE
def test_housekeeping_deletes_each_record_past_its_period_and_keeps_the_rest(
    store: Engine, settings: SchedulerSettings, make_request: MakeRequest
) -> None:
    periods = settings.records
    past = {  # a day past each period, and a day before its end
        name: (NOW - timedelta(days=days + 1), NOW - timedelta(days=days - 1))
        for name, days in (
            ("runs", periods.job_run_days),
            ("outbox", periods.outbox_days),
            ("callbacks", periods.callback_days),
            ("security", periods.security_log_days),
        )
    }
    old, young = past["runs"]
    with db.transaction(store) as session:
        for started, finished in ((old, old), (young, young), (old, None)):
            session.add(JobRun(job="outbox", started_at=started, finished_at=finished))
    closed_old, closed_young, still_open = (
        make_request(status=Status.COMPLETED),
        make_request(status=Status.COMPLETED),
        make_request(status=Status.PROCESSING),
    )
    _run(store, closed_old, started_at=old)
    _run(store, closed_young, started_at=young)
    _run(store, still_open, started_at=old)

    old, young = past["outbox"]
    sent_old = _email(store, closed_old, status=OutboxStatus.SENT, at=old)
    _email(store, closed_old, status=OutboxStatus.SENT, at=young)
    _email(store, None, status=OutboxStatus.PENDING, at=old - timedelta(days=400))
    _email(store, closed_old, status=OutboxStatus.FAILED, at=old - timedelta(days=400))

    old, young = past["callbacks"]
    delivered_old = _callback(store, closed_old, status=CallbackDeliveryStatus.SENT, at=old)
    _callback(store, closed_old, status=CallbackDeliveryStatus.SENT, at=young)
    _callback(store, closed_old, status=CallbackDeliveryStatus.PENDING, at=old)
    _callback(store, closed_old, status=CallbackDeliveryStatus.FAILED, at=old)

    old, young = past["security"]
    staff = make_staff(store, role=StaffRole.DPO)
    assert staff.id is not None
    with db.transaction(store) as session:
        for used_at in (old, young, None):
            session.add(StaffRecoveryCode(staff_id=staff.id, code_hash="0" * 64, used_at=used_at))
    link_old = _link(store, closed_old, expires_at=old)
    _link(store, closed_young, expires_at=young)
    assert _count(store, ClosedCountDelta) == 2  # the two requests filed completed

    run = run_job(HOUSEKEEPING_ACTION, engine=store, settings=settings, now=NOW)

    assert run.errors == 0
    assert _count(store, JobRun) == 2 + 1  # the young, the unfinished, and this run
    assert _count(store, RequestRun) == 2 and _count(store, RunProgress) == 2
    assert _count(store, RequestRun, RequestRun.request_id == closed_old) == 0
    assert _count(store, OutboxMessage) == 3
    assert _count(store, OutboxMessage, OutboxMessage.id == sent_old) == 0
    assert _count(store, CallbackDelivery) == 3
    assert _count(store, CallbackDelivery, CallbackDelivery.id == delivered_old) == 0
    assert _count(store, StaffRecoveryCode) == 2
    assert _count(store, DownloadLink) == 1
    assert _count(store, DownloadLink, DownloadLink.id == link_old) == 0
    (event,) = _events(store, HOUSEKEEPING_ACTION)
    assert event.request_id is None
    assert event.details["rows"] == {
        "dsr_job_run": 1,
        "dsr_run_progress": 1,
        "dsr_request_run": 1,
        "dsr_outbox_message": 1,
        "dsr_callback_delivery": 1,
        "dsr_staff_recovery_code": 1,
        "dsr_download_link": 1,
    }
    assert run.items_done == 7  # the closed counts folded are not records deleted
    assert _count(store, ClosedCountDelta) == 0
    assert _count(store, ClosedCount, ClosedCount.total == 2, ClosedCount.status == "completed")
    _audit_ok(store)
    again = run_job(HOUSEKEEPING_ACTION, engine=store, settings=settings, now=NOW)
    assert again.items_done == 0
    assert len(_events(store, HOUSEKEEPING_ACTION)) == 1  # nothing deleted, nothing recorded


# --- the settings -------------------------------------------------------------------------------


def test_the_periods_have_their_documented_defaults() -> None:
    assert RecordPeriods.from_config(DEFAULTS) == RecordPeriods(
        unverified_days=30,
        job_run_days=90,
        outbox_days=90,
        callback_days=90,
        security_log_days=365,
    )
    chosen = RecordPeriods.from_config({"OUTBOX_RETENTION_DAYS": "30"})
    assert chosen.outbox_days == 30


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"UNVERIFIED_RETENTION_DAYS": "0"}, "DSR_UNVERIFIED_RETENTION_DAYS must be a whole"),
        ({"UNVERIFIED_RETENTION_DAYS": 3}, r"7 or more \(a request is not deleted before DSR_UN"),
        ({"JOB_RUN_RETENTION_DAYS": "soon"}, "DSR_JOB_RUN_RETENTION_DAYS must be a whole"),
        ({"OUTBOX_RETENTION_DAYS": -5}, "DSR_OUTBOX_RETENTION_DAYS must be a whole"),
        ({"CALLBACK_RETENTION_DAYS": True}, "DSR_CALLBACK_RETENTION_DAYS must be a whole"),
        ({"SECURITY_LOG_RETENTION_DAYS": 30}, "from 183 to 366, not 30"),
        ({"SECURITY_LOG_RETENTION_DAYS": "0"}, "from 183 to 366, not '0'"),
        ({"SECURITY_LOG_RETENTION_DAYS": 730}, "from 183 to 366, not 730"),
    ],
)
def test_an_invalid_period_stops_the_desk_and_the_scheduler_at_start(
    given: dict[str, Any], message: str, tmp_path: Any
) -> None:
    with pytest.raises(InsecureConfiguration, match=message):
        check_settings({**DEFAULTS, **given})
    with pytest.raises(ValueError, match=message):
        SchedulerSettings.from_settings(Settings.from_mapping(given, instance_path=tmp_path))


@pytest.mark.databases("sqlite")
def test_run_once_runs_the_new_jobs_and_refuses_a_bad_period(
    engine_url: str, store: Engine, make_request: MakeRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    request_id = make_request(status=Status.EXPIRED, received_at=db.utcnow() - timedelta(days=40))
    runner = CliRunner()
    for job, done in (("delete_unverified", 1), ("housekeeping", 0)):
        result = runner.invoke(scheduler_group, ["--database-url", engine_url, "run-once", job])
        assert result.exit_code == 0, result.output
        assert f"{job}: {done} done, 0 errors." in result.output
    assert reloaded(store, request_id).requester_email == DELETED_ADDRESS
    monkeypatch.setenv("DSR_SECURITY_LOG_RETENTION_DAYS", "30")
    refused = runner.invoke(
        scheduler_group, ["--database-url", engine_url, "run-once", "housekeeping"]
    )
    assert refused.exit_code == 1
    assert "DSR_SECURITY_LOG_RETENTION_DAYS must be a whole number of days" in refused.output


def test_the_request_page_says_the_request_was_deleted_and_shows_nothing_of_it(
    app: Flask, staff_client: StaffClientFactory
) -> None:
    engine = db.get_engine(app)
    request = factories.make_request(
        engine, status=Status.EXPIRED, received_at=NOW - timedelta(days=40), email=EMAIL
    )
    settings = SchedulerSettings(secret_key="a secret for the tests only")
    assert run_job(DELETE_ACTION, engine=engine, settings=settings, now=NOW).items_done == 1
    client = staff_client("dpo")
    for language, label in (
        ("fr", "Supprimée, jamais vérifiée"),
        ("en", "Deleted, never verified"),
    ):
        page = client.get(
            f"/dashboard/requests/{request.reference}", headers={"Accept-Language": language}
        )
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        assert label in text
        assert "zoe" not in text.lower()


@pytest.mark.databases("sqlite", "postgresql")
def test_minimisation_deletes_the_approved_values_of_a_rectification(
    store: Engine, settings: SchedulerSettings, make_request: MakeRequest
) -> None:
    years_ago = NOW - timedelta(days=6 * 365)
    old, recent = (
        make_request(
            status=Status.COMPLETED,
            request_type=RequestType.RECTIFICATION,
            received_at=received_at,
            rectification_details="My name is Zoé, not Zoe",
        )
        for received_at in (years_ago, NOW - timedelta(days=30))
    )
    with db.transaction(store) as session:
        for request_id in (old, recent):
            session.add(
                RectificationValue(
                    request_id=request_id,
                    system="learner_platform",
                    column="learner.first_name",
                    new_value="Zoé",
                    approved_by="dpo",
                    approved_at=years_ago,
                )
            )
    assert run_job("minimise_closed", engine=store, settings=settings, now=NOW).items_done == 1
    assert _count(store, RectificationValue, RectificationValue.request_id == old) == 0
    assert _count(store, RectificationValue, RectificationValue.request_id == recent) == 1
    _audit_ok(store)


@pytest.mark.databases("sqlite", "postgresql", "mariadb")
def test_minimisation_removes_post_mortem_directives_and_their_designated_person(
    store: Engine, settings: SchedulerSettings, make_request: MakeRequest
) -> None:
    old = make_request(
        status=Status.COMPLETED,
        request_type=RequestType.POST_MORTEM,
        received_at=NOW - timedelta(days=6 * 365),
        message="Erase my account; my certificates go to my daughter.",
        designee_name="Inès Lefèvre",
        designee_email="ines@example.org",
    )
    assert run_job("minimise_closed", engine=store, settings=settings, now=NOW).items_done == 1
    minimised = reloaded(store, old)
    assert (minimised.message, minimised.designee_name, minimised.designee_email) == (
        None,
        None,
        None,
    )
    _audit_ok(store)


@pytest.mark.databases("sqlite")
def test_housekeeping_deletes_in_batches_until_none_is_left(
    store: Engine, settings: SchedulerSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(housekeeping, "BATCH_SIZE", 2)
    old = NOW - timedelta(days=settings.records.job_run_days + 1)
    with db.transaction(store) as session:
        for _ in range(5):
            session.add(JobRun(job="outbox", started_at=old, finished_at=old))
    run = run_job(HOUSEKEEPING_ACTION, engine=store, settings=settings, now=NOW)
    assert (run.items_done, run.errors) == (5, 0)
    assert _count(store, JobRun, col(JobRun.started_at) <= old) == 0


@pytest.mark.databases("sqlite", "postgresql", "mariadb")
def test_minimisation_removes_the_answer_letter_and_the_postal_address(
    store: Engine, settings: SchedulerSettings, make_request: MakeRequest
) -> None:
    old = make_request(
        status=Status.DENIED,
        received_at=NOW - timedelta(days=6 * 365),
        answer_channel=AnswerChannel.POST,
        contact_details="Zoé Lefèvre, 12 rue des Lilas, 69003 Lyon",
        answer_letter="Votre demande est refusée\n\nBonjour Zoé, ...",
    )
    assert run_job("minimise_closed", engine=store, settings=settings, now=NOW).items_done == 1
    minimised = reloaded(store, old)
    assert (minimised.answer_letter, minimised.contact_details) == (None, None)
    _audit_ok(store)
