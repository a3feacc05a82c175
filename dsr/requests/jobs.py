"""The scheduled work on requests: deadline reminders and overdue alerts to staff, expiry of
unverified requests, failing the runs that are stuck, and minimisation of closed requests.

Each job has the signature of `dsr.scheduler.runs.Job`; the scheduler (dsr.scheduler.jobs) says
when each runs and records its runs. Status changes go through `change_status`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from dsr import db
from dsr.accounts.models import StaffRole, StaffUser
from dsr.audit.models import RequestEvent, record_action, remove_content
from dsr.config import DEFAULTS
from dsr.datamap import organisation_zone
from dsr.dates import days_between, written_date
from dsr.documents.models import RemovalCause
from dsr.documents.service import remove_documents
from dsr.execution.change_records import ErasureCertificate, RectificationValue
from dsr.languages import Language, translations
from dsr.links import public_url_for_settings
from dsr.outbox.emails import RenderedEmail, render_email
from dsr.outbox.models import OutboxMessage
from dsr.outbox.service import enqueue
from dsr.requests.identities import forget_identities
from dsr.requests.labels import staff_status_name, type_name
from dsr.requests.models import DataRequest, ReplacedStatusToken, Task
from dsr.requests.status import change_status
from dsr.requests.workflow import TERMINAL, Action, Actor, Status, WorkflowError
from dsr.scheduler.runs import JobOutcome, SchedulerSettings, each_item

MINIMISED_DOMAIN = "minimised.invalid"
"""Requester addresses of minimised requests end with @ this reserved domain."""
REMINDER_DAYS = (7, 2)
"""Staff are reminded this many days before a request's due date."""
MINIMISE_ACTION = "minimise"
_OPEN_TO_REMIND = frozenset(Status) - TERMINAL - {Status.RECEIVED, Status.AWAITING_REQUESTER}


# --- deadlines ----------------------------------------------------------------------------------


def deadline_staff(db_session: Session) -> list[StaffUser]:
    return list(
        db_session.exec(
            select(StaffUser)
            .where(col(StaffUser.active).is_(True))
            .where(col(StaffUser.role).in_([StaffRole.DPO, StaffRole.ADMIN]))
            .order_by(col(StaffUser.id))
        ).all()
    )


def notice_kind(due_at: datetime, now: datetime) -> tuple[str, int] | None:
    """Return which deadline email a request due at `due_at` calls for at `now` (the kind and
    the reminder's days), or None when none is due yet."""
    if now >= due_at:
        return "deadline_overdue", 0
    for days in sorted(REMINDER_DAYS):
        if now >= due_at - timedelta(days=days):
            return "deadline_reminder", days
    return None


def send_deadline_notices(
    engine: Engine, settings: SchedulerSettings, now: datetime, outcome: JobOutcome
) -> None:
    """Remind staff 7 and 2 days before each open request's due date and alert them once it is
    overdue: the assignee, else every DPO and admin. The outbox's dedup key (request, kind, due
    date, recipient) makes each notice go once, however often the job runs."""
    language = settings.staff_language
    with db.open_session(engine) as db_session:
        ids = list(
            db_session.exec(
                select(DataRequest.id)
                .where(col(DataRequest.status).in_(list(_OPEN_TO_REMIND)))
                .where(col(DataRequest.due_at) <= now + timedelta(days=max(REMINDER_DAYS)))
                .order_by(col(DataRequest.due_at))
            ).all()
        )

    def notify(request_id: int) -> bool:
        with db.transaction(engine) as db_session:
            request = db_session.get(DataRequest, request_id)
            if request is None or request.status not in _OPEN_TO_REMIND:
                return False
            due = request.due_at
            wanted = notice_kind(due, now)
            if wanted is None:
                return False
            kind, days = wanted
            assignee = (
                db_session.get(StaffUser, request.assignee_id) if request.assignee_id else None
            )
            recipients = [assignee] if assignee and assignee.active else deadline_staff(db_session)
            email = render_email(
                kind,
                language,
                reference=request.reference,
                days=days,
                due_on=written_date(due, language, request.zone),
                status=staff_status_name(request.status, language),
                request_type=type_name(request.type, translations(language)),
                request_url=dashboard_url(settings, request.reference),
            )
            queued = False
            for staff in recipients:
                key = f"{kind}:{days}:{request.id}:{due.isoformat()}:{staff.id}"
                if queue_once(db_session, staff, email, language, key, now):
                    queued = True
            return queued

    each_item("deadlines", outcome, ids, notify)
    _send_digest(engine, settings, now, outcome)


def _send_digest(
    engine: Engine, settings: SchedulerSettings, now: datetime, outcome: JobOutcome
) -> None:
    """Send each DPO and admin, once a day, the open requests by due date (references only)."""
    language = settings.staff_language
    catalogue = translations(language)
    with db.transaction(engine) as db_session:
        requests = db_session.exec(
            select(DataRequest)
            .where(col(DataRequest.status).notin_(list(TERMINAL | {Status.RECEIVED})))
            .order_by(col(DataRequest.due_at), col(DataRequest.id))
        ).all()
        if not requests:
            return
        rows = [
            {
                "reference": request.reference,
                "type": type_name(request.type, catalogue),
                "status": staff_status_name(request.status, language),
                "url": dashboard_url(settings, request.reference),
                "due_on": written_date(request.state.due_as_of(now), language, request.zone),
                "days_left": days_between(now, request.state.due_as_of(now), request.zone),
            }
            for request in requests
        ]
        email = render_email(
            "deadline_digest",
            language,
            count=len(rows),
            requests=rows,
            today=written_date(now, language, organisation_zone(settings.run)),
        )
        for staff in deadline_staff(db_session):
            key = f"deadline_digest:{now.date().isoformat()}:{staff.id}"
            if queue_once(db_session, staff, email, language, key, now):
                outcome.items_done += 1


def dashboard_url(settings: SchedulerSettings, reference: str) -> str:
    """The request's page on the dashboard, on the desk's public URL (from its settings)."""
    return public_url_for_settings(settings.run, "dashboard.request_page", reference=reference)


def queue_once(
    db_session: Session,
    staff: StaffUser,
    email: RenderedEmail,
    language: Language,
    key: str,
    now: datetime,
) -> bool:
    """Queue `email` to `staff` under the dedup `key` unless one was queued under it before (sent
    or not); say whether it was queued now."""
    before = db_session.exec(select(OutboxMessage.id).where(OutboxMessage.dedup_key == key)).first()
    if before is not None:
        return False
    enqueue(
        db_session=db_session,
        to=staff.email,
        email=email,
        language=language,
        dedup_key=key,
        now=now,
    )
    return True


# --- the life of requests -----------------------------------------------------------------------


def expire_unverified(
    engine: Engine, settings: SchedulerSettings, now: datetime, outcome: JobOutcome
) -> None:
    """Expire the requests whose address was not verified within the expiry period."""
    cutoff = now - timedelta(days=settings.unverified_expiry_days)
    with db.open_session(engine) as db_session:
        ids = list(
            db_session.exec(
                select(DataRequest.id)
                .where(DataRequest.status == Status.RECEIVED)
                .where(col(DataRequest.received_at) <= cutoff)
                .order_by(col(DataRequest.id))
            ).all()
        )

    def expire(request_id: int) -> bool:
        with db.transaction(engine) as db_session:
            request = db_session.get(DataRequest, request_id)
            if request is None or request.status is not Status.RECEIVED:
                return False
            change_status(
                db_session=db_session,
                request=request,
                action=Action.EXPIRE,
                actor=Actor.SYSTEM,
                at=now,
                also=lambda _fact: _forget_nonce(request),
            )
            return True

    each_item("expire_unverified", outcome, ids, expire)


def _forget_nonce(request: DataRequest) -> None:
    request.verification_nonce = None


def _last_event_at() -> Any:
    """A subquery: each request's id and the time of its latest audit event."""
    return (
        select(RequestEvent.request_id, func.max(RequestEvent.at).label("last_at"))
        .where(col(RequestEvent.request_id).is_not(None))
        .group_by(col(RequestEvent.request_id))
        .subquery()
    )


def fail_stuck_processing(
    engine: Engine, settings: SchedulerSettings, now: datetime, outcome: JobOutcome
) -> None:
    """Fail the requests still processing hours after their last event, with a reason, so that
    staff see them and retry."""
    hours = settings.stuck_processing_hours
    last = _last_event_at()
    with db.open_session(engine) as db_session:
        ids = list(
            db_session.exec(
                select(DataRequest.id)
                .join(last, last.c.request_id == DataRequest.id)
                .where(DataRequest.status == Status.PROCESSING)
                .where(last.c.last_at <= now - timedelta(hours=hours))
                .order_by(col(DataRequest.id))
            ).all()
        )
    reason = f"Processing did not finish within {hours} hours: check the systems and retry."

    def fail(request_id: int) -> bool:
        with db.transaction(engine) as db_session:
            request = db_session.get(DataRequest, request_id)
            if request is None or request.status is not Status.PROCESSING:
                return False
            try:
                change_status(
                    db_session=db_session,
                    request=request,
                    action=Action.FAIL,
                    actor=Actor.SYSTEM,
                    at=now,
                    reason=reason,
                )
            except WorkflowError:
                return False
            return True

    each_item("fail_stuck", outcome, ids, fail)


def email_digest(secret_key: str, normalized_email: str) -> str:
    """A keyed hash of an address: the same person's minimised requests still match, but the
    address cannot be read back (nor guessed without the key)."""
    key = hashlib.sha256(f"dsr-minimise:{secret_key}".encode()).digest()
    return hmac.new(key, normalized_email.encode(), hashlib.sha256).hexdigest()


def closed_request_retention_days(settings: Mapping[str, Any]) -> int:
    """Return CLOSED_REQUEST_RETENTION_DAYS from the desk's settings, as the scheduler reads it."""
    raw = str(settings.get("CLOSED_REQUEST_RETENTION_DAYS") or "").strip()
    days = int(raw) if raw else int(DEFAULTS["CLOSED_REQUEST_RETENTION_DAYS"])
    if days < 1:
        raise ValueError("DSR_CLOSED_REQUEST_RETENTION_DAYS must be a positive whole number")
    return days


def closed_request_kept_until(start: datetime, days: int) -> datetime:
    """Return the instant from which `minimise_closed` minimises a closed request whose period
    started at `start` (its erasure, or else its last event): the certificate promises it."""
    return start + timedelta(days=days)


def minimise_closed(
    engine: Engine, settings: SchedulerSettings, now: datetime, outcome: JobOutcome
) -> None:
    """Minimise the requests closed for longer than the retention period (R32): the address is
    replaced by a keyed hash, the free texts cleared, in the request and its emails. The period
    of an erasure runs from the erasure, the date its certificate gives; that of any other
    request from its last event. The approved values of a rectification are deleted, and so is
    the content of its audit events (reasons, notes, questions, old and new values); the events
    and their digests stay, so the chain still verifies."""
    days = settings.closed_request_retention_days
    last = _last_event_at()
    certificate = db.table_of(ErasureCertificate)
    start = func.coalesce(certificate.c.created_at, last.c.last_at)
    with db.open_session(engine) as db_session:
        ids = list(
            db_session.exec(
                select(DataRequest.id)
                .join(last, last.c.request_id == DataRequest.id)
                .outerjoin(certificate, certificate.c.request_id == DataRequest.id)
                .where(col(DataRequest.status).in_(list(TERMINAL)))
                .where(start <= now - timedelta(days=days))
                .where(col(DataRequest.requester_email).not_like(f"%@{MINIMISED_DOMAIN}"))
                .order_by(col(DataRequest.id))
            ).all()
        )

    def minimise(request_id: int) -> bool:
        with db.transaction(engine) as db_session:
            request = db_session.get(DataRequest, request_id)
            if request is None or request.requester_email.endswith(f"@{MINIMISED_DOMAIN}"):
                return False
            digest = email_digest(settings.secret_key, request.normalized_email)
            placeholder = f"{digest[:32]}@{MINIMISED_DOMAIN}"
            request.requester_email = placeholder
            request.normalized_email = digest
            request.message = None
            request.rectification_details = None
            request.designee_name = None
            request.designee_email = None
            # R45: whom it was for; the person's other identities (their role stays)
            request.subject_email = request.subject_name = None
            forget_identities(db_session, request_id)
            request.contact_details = None  # a postal address or phone (R44)
            request.answer_letter = None  # the answer posted, with its personal data
            request.verification_nonce = None
            request.status_token_hash = None
            db_session.execute(
                delete(db.table_of(ReplacedStatusToken)).where(
                    db.table_of(ReplacedStatusToken).c.request_id == request_id
                )
            )
            db_session.execute(
                update(db.table_of(OutboxMessage))
                .where(db.table_of(OutboxMessage).c.request_id == request_id)
                .values(to_address=placeholder, text_body="", html_body=None)
            )
            db_session.execute(  # how a recipient could find the person: served its purpose
                update(db.table_of(Task))
                .where(db.table_of(Task).c.request_id == request_id)
                .values(subject_identity=None)
            )
            remove_content(db_session=db_session, request=request, at=now)
            remove_documents(  # letters, mandates...: their content goes with the request's
                db_session=db_session, request=request, cause=RemovalCause.MINIMISED, now=now
            )
            db_session.execute(  # the approved new values: applied long ago, and personal
                delete(db.table_of(RectificationValue)).where(
                    db.table_of(RectificationValue).c.request_id == request_id
                )
            )
            record_action(
                db_session=db_session,
                request=request,
                actor=Actor.SYSTEM,
                action=MINIMISE_ACTION,
                at=now,
                details={
                    "fields": [
                        "requester_email",
                        "message",
                        "rectification_details",
                        "designee_name",
                        "designee_email",
                        "subject_email",
                        "subject_name",
                        "identities",
                        "contact_details",
                        "answer_letter",
                    ]
                },
            )
            return True

    each_item("minimise_closed", outcome, ids, minimise)
