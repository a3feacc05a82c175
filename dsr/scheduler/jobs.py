"""The scheduled jobs and how each run is recorded.

Every job takes the store's engine, the settings and the time of the run; it handles its items
one by one, each in its own transaction, so that a failing item is logged (by id and error class,
never personal data) and skipped without stopping the batch. `run_job` records each run in
`dsr_job_run`.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from dsr import db
from dsr.accounts.models import StaffRole, StaffUser
from dsr.api.callback_addresses import ALLOWED_NETWORKS_KEY, IPNetwork, parse_allowed_networks
from dsr.audit.models import RequestEvent, record_action, record_event
from dsr.config import DEFAULTS, Settings
from dsr.languages import Language
from dsr.outbox.models import OutboxMessage
from dsr.outbox.service import enqueue
from dsr.outbox.smtp import SmtpSettings
from dsr.requests.emails import RenderedEmail, email_environment, shown_date
from dsr.requests.models import DataRequest
from dsr.requests.workflow import TERMINAL, Action, Actor, Status, WorkflowError, apply
from dsr.scheduler.models import ERROR_SUMMARY_MAX, JobRun

log = logging.getLogger(__name__)

MINIMISED_DOMAIN = "minimised.invalid"
"""Requester addresses of minimised requests end with @ this reserved domain."""
REMINDER_DAYS = (7, 2)
"""Staff are reminded this many days before a request's due date."""
DEFAULT_CLOSED_RETENTION_DAYS: int = DEFAULTS["CLOSED_REQUEST_RETENTION_DAYS"]  # R32: five years
MINIMISE_ACTION = "minimise"
_OPEN_TO_REMIND = frozenset(Status) - TERMINAL - {Status.RECEIVED, Status.AWAITING_REQUESTER}


@dataclass(frozen=True, slots=True)
class SchedulerSettings:
    """What the jobs need to know, taken from the desk's settings (`from_settings`); `run`
    holds the settings the retention sweeps read (the map, its systems, the sweeps' own)."""

    secret_key: str
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    unverified_expiry_days: int = 7
    closed_request_retention_days: int = DEFAULT_CLOSED_RETENTION_DAYS
    stuck_processing_hours: int = 24
    staff_language: Language = Language.FR
    callback_allowed_networks: tuple[IPNetwork, ...] = ()
    run: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> SchedulerSettings:
        """Read SECRET_KEY, the SMTP_* settings, UNVERIFIED_EXPIRY_DAYS,
        CLOSED_REQUEST_RETENTION_DAYS, STUCK_PROCESSING_HOURS, STAFF_LANGUAGE and
        CALLBACK_ALLOWED_NETWORKS (each set as DSR_<NAME>); raise ValueError or
        SmtpSettingsError naming the variable whose value does not parse."""
        values = settings.values

        def number(name: str) -> int:
            given = values.get(name)
            raw = "" if given is None else str(given).strip()
            if not raw:
                return int(DEFAULTS[name])
            value = int(raw)
            if value < 1:
                raise ValueError(f"DSR_{name} must be a positive whole number")
            return value

        language = str(values.get("STAFF_LANGUAGE") or "").strip() or str(
            DEFAULTS["STAFF_LANGUAGE"]
        )
        return cls(
            secret_key=str(values["SECRET_KEY"]),
            smtp=SmtpSettings.from_config(values),
            unverified_expiry_days=number("UNVERIFIED_EXPIRY_DAYS"),
            closed_request_retention_days=number("CLOSED_REQUEST_RETENTION_DAYS"),
            stuck_processing_hours=number("STUCK_PROCESSING_HOURS"),
            staff_language=Language(language),
            callback_allowed_networks=parse_allowed_networks(values.get(ALLOWED_NETWORKS_KEY)),
            run=settings.for_run(),
        )


@dataclass(slots=True)
class JobOutcome:
    """What a run did: items handled, and the kinds of the errors met."""

    items_done: int = 0
    error_kinds: Counter[str] = field(default_factory=Counter)

    @property
    def errors(self) -> int:
        return sum(self.error_kinds.values())

    def failed(self, kind: str, count: int = 1) -> None:
        self.error_kinds[kind] += count

    def summary(self) -> str | None:
        """The error kinds with their counts, e.g. "OperationalError x2"; no messages."""
        if not self.error_kinds:
            return None
        shown = ", ".join(f"{kind} x{count}" for kind, count in sorted(self.error_kinds.items()))
        return shown[:ERROR_SUMMARY_MAX]


Job = Callable[[Engine, SchedulerSettings, datetime, JobOutcome], None]


def each_item(
    job: str, outcome: JobOutcome, item_ids: Iterable[int | None], handle: Callable[[int], bool]
) -> None:
    """Handle every item in turn; one that raises is logged by id and skipped. `handle` returns
    whether it did something (counted in items_done)."""
    for item_id in item_ids:
        if item_id is None:
            continue
        try:
            if handle(item_id):
                outcome.items_done += 1
        except Exception as error:  # one bad item never stops the batch
            log.error("job %s: item %s failed: %s", job, item_id, type(error).__name__)
            outcome.failed(type(error).__name__)


# --- mail and callbacks -------------------------------------------------------------------------


def deliver_outbox(
    engine: Engine, settings: SchedulerSettings, now: datetime, outcome: JobOutcome
) -> None:
    """Send the emails that are due."""
    from dsr.outbox.service import deliver_due

    report = deliver_due(engine_or_session_factory=engine, settings=settings.smtp, now=now)
    outcome.items_done += report.sent
    if report.failed:
        outcome.failed("DeliveryFailed", report.failed)


def deliver_callbacks(
    engine: Engine, settings: SchedulerSettings, now: datetime, outcome: JobOutcome
) -> None:
    """POST the API status callbacks that are due."""
    from dsr.api.callbacks import deliver_due_callbacks

    report = deliver_due_callbacks(
        engine=engine,
        secret_key=settings.secret_key,
        now=now,
        allowed_networks=settings.callback_allowed_networks,
    )
    outcome.items_done += report.sent
    if report.failed:
        outcome.failed("CallbackFailed", report.failed)


# --- deadlines ----------------------------------------------------------------------------------

STAFF_SUBJECTS: Mapping[str, Mapping[Language, str]] = MappingProxyType(
    {
        "deadline_digest": {
            Language.FR: "Demandes ouvertes : {count} à traiter",
            Language.EN: "Open requests: {count} to answer",
        },
        "deadline_reminder": {
            Language.FR: "Demande {reference} : échéance dans {days} jours",
            Language.EN: "Request {reference}: due in {days} days",
        },
        "deadline_overdue": {
            Language.FR: "Demande {reference} : échéance dépassée",
            Language.EN: "Request {reference}: overdue",
        },
    }
)
_environment = email_environment()


def render_staff_notice(kind: str, language: Language, **context: Any) -> RenderedEmail:
    """Render one deadline email to staff (templates/emails/<kind>.<language>.txt|html)."""
    values = {"language": language.value, **context}
    return RenderedEmail(
        subject=STAFF_SUBJECTS[kind][language].format(**context),
        text=_environment.get_template(f"{kind}.{language.value}.txt").render(values),
        html=_environment.get_template(f"{kind}.{language.value}.html").render(values),
    )


def _deadline_staff(db_session: Session) -> list[StaffUser]:
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
            recipients = [assignee] if assignee and assignee.active else _deadline_staff(db_session)
            email = render_staff_notice(
                kind,
                language,
                reference=request.reference,
                days=days,
                due_on=shown_date(due, language),
                status=request.status.value,
                request_type=request.type.value,
            )
            queued = False
            for staff in recipients:
                key = f"{kind}:{days}:{request.id}:{due.isoformat()}:{staff.id}"
                before = db_session.exec(
                    select(OutboxMessage.id).where(OutboxMessage.dedup_key == key)
                ).first()
                if before is not None:
                    continue
                enqueue(
                    db_session=db_session,
                    to=staff.email,
                    subject=email.subject,
                    text=email.text,
                    html=email.html,
                    language=language,
                    dedup_key=key,
                    now=now,
                )
                queued = True
            return queued

    each_item("deadlines", outcome, ids, notify)
    _send_digest(engine, settings, now, outcome)


def _send_digest(
    engine: Engine, settings: SchedulerSettings, now: datetime, outcome: JobOutcome
) -> None:
    """Send each DPO and admin, once a day, the open requests by due date (references only)."""
    language = settings.staff_language
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
                "type": request.type.value,
                "status": request.status.value,
                "due_on": shown_date(request.state.due_as_of(now), language),
                "days_left": (request.state.due_as_of(now) - now).days,
            }
            for request in requests
        ]
        email = render_staff_notice(
            "deadline_digest",
            language,
            count=len(rows),
            requests=rows,
            today=shown_date(now, language),
        )
        for staff in _deadline_staff(db_session):
            key = f"deadline_digest:{now.date().isoformat()}:{staff.id}"
            before = db_session.exec(
                select(OutboxMessage.id).where(OutboxMessage.dedup_key == key)
            ).first()
            if before is not None:
                continue
            enqueue(
                db_session=db_session,
                to=staff.email,
                subject=email.subject,
                text=email.text,
                html=email.html,
                language=language,
                dedup_key=key,
                now=now,
            )
            outcome.items_done += 1


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
            transition = apply(request.state, Action.EXPIRE, actor=Actor.SYSTEM, at=now)
            request.store_state(transition.state)
            request.verification_nonce = None
            record_event(db_session=db_session, request=request, fact=transition.fact)
            return True

    each_item("expire_unverified", outcome, ids, expire)


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
                transition = apply(
                    request.state, Action.FAIL, actor=Actor.SYSTEM, at=now, reason=reason
                )
            except WorkflowError:
                return False
            request.store_state(transition.state)
            record_event(db_session=db_session, request=request, fact=transition.fact)
            return True

    each_item("fail_stuck", outcome, ids, fail)


def purge_reports(
    engine: Engine, settings: SchedulerSettings, now: datetime, outcome: JobOutcome
) -> None:
    """Delete delivered reports and collected data whose download window is over."""
    from dsr.delivery.service import purge_expired_reports

    outcome.items_done += purge_expired_reports(engine=engine, now=now)


def email_digest(secret_key: str, normalized_email: str) -> str:
    """A keyed hash of an address: the same person's minimised requests still match, but the
    address cannot be read back (nor guessed without the key)."""
    key = hashlib.sha256(f"dsr-minimise:{secret_key}".encode()).digest()
    return hmac.new(key, normalized_email.encode(), hashlib.sha256).hexdigest()


def minimise_closed(
    engine: Engine, settings: SchedulerSettings, now: datetime, outcome: JobOutcome
) -> None:
    """Minimise the requests closed for longer than the retention period (R32): the address is
    replaced by a keyed hash, the free texts cleared, in the request and its emails. The audit
    events hold no personal data, so the chain is untouched and still verifies."""
    cutoff = now - timedelta(days=settings.closed_request_retention_days)
    last = _last_event_at()
    with db.open_session(engine) as db_session:
        ids = list(
            db_session.exec(
                select(DataRequest.id)
                .join(last, last.c.request_id == DataRequest.id)
                .where(col(DataRequest.status).in_(list(TERMINAL)))
                .where(last.c.last_at <= cutoff)
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
            request.verification_nonce = None
            request.status_token_hash = None
            db_session.execute(
                update(db.table_of(OutboxMessage))
                .where(db.table_of(OutboxMessage).c.request_id == request_id)
                .values(to_address=placeholder, text_body="", html_body=None)
            )
            record_action(
                db_session=db_session,
                request=request,
                actor=Actor.SYSTEM,
                action=MINIMISE_ACTION,
                at=now,
                details={"fields": ["requester_email", "message", "rectification_details"]},
            )
            return True

    each_item("minimise_closed", outcome, ids, minimise)


def retention_available() -> bool:
    """Tell whether this version has the retention sweeps (dsr.retention.service)."""
    return importlib.util.find_spec("dsr.retention.service") is not None


def sweep_retention(
    engine: Engine, settings: SchedulerSettings, now: datetime, outcome: JobOutcome
) -> None:
    """Apply the data map's retention periods (dsr.retention): warn, then sweep in batches."""
    from dsr.retention.service import run_retention

    report = run_retention(engine=engine, settings=settings.run, now=now)
    outcome.items_done += report.rows + report.warnings_sent


_RETENTION: Mapping[str, Job] = {"retention": sweep_retention} if retention_available() else {}

JOBS: Mapping[str, Job] = MappingProxyType(
    {
        **_RETENTION,
        "outbox": deliver_outbox,
        "callbacks": deliver_callbacks,
        "deadlines": send_deadline_notices,
        "expire_unverified": expire_unverified,
        "fail_stuck": fail_stuck_processing,
        "purge_reports": purge_reports,
        "minimise_closed": minimise_closed,
    }
)
"""Every job by name, as `dsr scheduler run-once NAME` and the dashboard call them."""

SCHEDULES: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {
        "outbox": {"trigger": "interval", "minutes": 1},
        "callbacks": {"trigger": "interval", "minutes": 1},
        "deadlines": {"trigger": "cron", "hour": 7, "minute": 0},
        "expire_unverified": {"trigger": "interval", "hours": 1},
        "fail_stuck": {"trigger": "interval", "minutes": 30},
        "purge_reports": {"trigger": "cron", "hour": 3, "minute": 0},
        "minimise_closed": {"trigger": "cron", "hour": 3, "minute": 30},
        "retention": {"trigger": "cron", "hour": 2, "minute": 0},
    }
)
"""When each job runs (APScheduler trigger arguments; cron times in UTC)."""


def run_job(name: str, *, engine: Engine, settings: SchedulerSettings, now: datetime) -> JobRun:
    """Run the job `name` once at `now` and record the run; a job that raises is recorded as
    one error (its class only) and does not propagate."""
    job = JOBS[name]
    with db.transaction(engine) as db_session:
        run = JobRun(job=name, started_at=db.utcnow())
        db_session.add(run)
    outcome = JobOutcome()
    try:
        job(engine, settings, now, outcome)
    except Exception as error:
        log.error("job %s failed: %s", name, type(error).__name__)
        outcome.failed(type(error).__name__)
    with db.transaction(engine) as db_session:
        run.finished_at = db.utcnow()
        run.items_done = outcome.items_done
        run.errors = outcome.errors
        run.error_summary = outcome.summary()
        db_session.add(run)
    log.info("job %s: %d done, %d errors", name, outcome.items_done, outcome.errors)
    return run
