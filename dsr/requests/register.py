"""The register of data-subject requests (accountability, Art. 5(2); R8, R47, R48): every request
received within a period, with its dates, its outcome and whether it was answered on time.

A request is answered when its answer was sent to the requester (R47): a completed request at the
delivery of its answer (`answered_at`), a refused one at the delivery of the refusal email (or,
answered by post, on the day staff record its refusal letter posted: `answered_at`), never at the
decision. It is on time when answered by its deadline as it stood then (pauses for the
requester and any extension included: `RequestState.due_as_of`). The register names requests by
their reference only: no address, name or message of a requester, so that it can be shown to the
supervisory authority. Minimised requests (R32) keep their dates and outcome, and are listed too.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import Any

from sqlalchemy import Subquery, and_, func, select, union_all
from sqlmodel import Session

from dsr.audit.models import RequestEvent, RequestEventContent
from dsr.dates import days_between
from dsr.db import table_of
from dsr.languages import N_
from dsr.outbox.models import OutboxMessage
from dsr.requests.deadlines import add_months
from dsr.requests.extension_grounds import ExtensionGround
from dsr.requests.models import STATE_COLUMNS, DataRequest, state_of
from dsr.requests.workflow import RequestType, Status

MAX_PERIOD_YEARS = 10
REFUSAL_DEDUP_PREFIX = "denied:"
"""The refusal email's dedup key is "denied:<request id>" (`staff_actions.deny`)."""
AGAIN_DEDUP_PREFIX = "again:"
"""A copy of an email sent again has the dedup key "again:<its id>" (`outbox.send_again`)."""


ENDS_BEFORE_START = N_("The end of the period is before its start.")
TOO_LONG = N_("A period is at most %(years)d years long.")


class PeriodError(ValueError):
    """A period the register cannot be made for: `message` (a catalogue's msgid) with `values`,
    in English as the exception's text."""

    def __init__(self, message: str, **values: object) -> None:
        super().__init__(message % values)
        self.message = message
        self.values = values


class Outcome(StrEnum):
    ANSWERED = "answered"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"  # cancelled by the requester (or by staff at their word)
    EXPIRED = "expired"  # the address was never verified
    OPEN = "open"


class OnTime(StrEnum):
    YES = "yes"
    NO = "no"
    NOT_YET_DUE = "not_yet_due"
    OVERDUE = "overdue"
    NOT_APPLICABLE = "not_applicable"  # withdrawn or never verified: nothing was owed


@dataclass(frozen=True, slots=True)
class Period:
    """Whole days from `first` to `last`, both included, on the organisation's calendar."""

    first: date
    last: date
    zone: tzinfo

    @classmethod
    def checked(cls, first: date, last: date, zone: tzinfo) -> Period:
        """Return the period, or raise `PeriodError` for one that ends before it starts or is
        longer than `MAX_PERIOD_YEARS`."""
        if last < first:
            raise PeriodError(ENDS_BEFORE_START)
        if last >= add_months(first, 12 * MAX_PERIOD_YEARS):
            raise PeriodError(TOO_LONG, years=MAX_PERIOD_YEARS)
        return cls(first, last, zone)

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(), tzinfo=self.zone)

    @property
    def end(self) -> datetime:
        """The first instant after the period."""
        return datetime.combine(self.last + timedelta(days=1), time(), tzinfo=self.zone)


@dataclass(frozen=True, slots=True)
class RegisterRow:
    """One request of the register: no personal data, the reference identifies its file."""

    reference: str
    type: RequestType
    channel: str
    received_at: datetime
    verified_at: datetime | None
    due_at: datetime
    extension_months: int
    extension_ground: ExtensionGround | None
    answered_at: datetime | None
    outcome: Outcome
    refusal_ground: str | None
    closed_at: datetime | None  # when it was withdrawn or expired
    on_time: OnTime
    days_taken: int | None  # calendar days from receipt to the answer sent


@dataclass(frozen=True, slots=True)
class RegisterSummary:
    counts: dict[tuple[RequestType, Outcome], int]
    answered: int
    answered_on_time: int
    overdue: int
    median_days: float | None

    @property
    def on_time_percent(self) -> float | None:
        return None if not self.answered else 100 * self.answered_on_time / self.answered


@dataclass(frozen=True, slots=True)
class RequestRegister:
    period: Period
    made_at: datetime
    rows: list[RegisterRow]
    summary: RegisterSummary


def _first_event(*statuses: Status) -> Subquery:
    """The first event that moved each request to one of `statuses`: its date and reason."""
    events = table_of(RequestEvent)
    first = (
        select(events.c.request_id, func.min(events.c.sequence).label("sequence"))
        .where(
            events.c.request_id.is_not(None),
            events.c.to_status.in_([status.value for status in statuses]),
        )
        .group_by(events.c.request_id)
        .subquery()
    )
    contents = table_of(RequestEventContent)  # the reason, until minimisation removes it
    return (
        select(events.c.request_id, events.c.at, contents.c.reason)
        .join(first, first.c.sequence == events.c.sequence)
        .outerjoin(contents, contents.c.sequence == events.c.sequence)
        .subquery()
    )


def _refusals_sent() -> Subquery:
    """When each refusal email was delivered (the answer of a refused request): the email
    itself, or a copy that staff sent again after it failed for good (`send_again`), known by
    its request, subject and "again:" key (matching "again:<id>" would compare a concatenation,
    whose collation differs from the column's on MariaDB)."""
    outbox = table_of(OutboxMessage)
    copies = outbox.alias("sent_again")
    refusal = outbox.c.dedup_key.like(f"{REFUSAL_DEDUP_PREFIX}%")
    itself = select(outbox.c.request_id, outbox.c.sent_at).where(
        refusal, outbox.c.sent_at.is_not(None)
    )
    again = (
        select(outbox.c.request_id, copies.c.sent_at)
        .join(
            copies,
            and_(
                copies.c.request_id == outbox.c.request_id,
                copies.c.subject == outbox.c.subject,
                copies.c.dedup_key.like(f"{AGAIN_DEDUP_PREFIX}%"),
            ),
        )
        .where(refusal, copies.c.sent_at.is_not(None))
    )
    either = union_all(itself, again).subquery()
    return (
        select(either.c.request_id, func.min(either.c.sent_at).label("sent_at"))
        .group_by(either.c.request_id)
        .subquery()
    )


def request_register(*, db_session: Session, period: Period, now: datetime) -> RequestRegister:
    """Return the register of the requests received within `period`, by date of receipt, with
    their standing at `now`. One query: the events and refusal emails that date what the request
    itself does not (its verification when `verified_at` is unset, its refusal, withdrawal or
    expiry) are joined."""
    requests = table_of(DataRequest)
    verified, denied = _first_event(Status.VERIFIED), _first_event(Status.DENIED)
    closed, refusal = _first_event(Status.CANCELLED, Status.EXPIRED), _refusals_sent()
    statement = (
        select(
            *(requests.c[name] for name in STATE_COLUMNS),
            requests.c.reference,
            requests.c.type,
            requests.c.created_via,
            func.coalesce(requests.c.verified_at, verified.c.at).label("verified_at"),
            requests.c.answered_at,
            denied.c.reason.label("refusal_ground"),
            refusal.c.sent_at.label("refusal_sent_at"),
            closed.c.at.label("closed_at"),
        )
        .outerjoin(verified, verified.c.request_id == requests.c.id)
        .outerjoin(denied, denied.c.request_id == requests.c.id)
        .outerjoin(refusal, refusal.c.request_id == requests.c.id)
        .outerjoin(closed, closed.c.request_id == requests.c.id)
        .where(requests.c.received_at >= period.start, requests.c.received_at < period.end)
        .order_by(requests.c.received_at, requests.c.id)
    )
    rows = [_row(found, now, period.zone) for found in db_session.execute(statement)]
    return RequestRegister(period=period, made_at=now, rows=rows, summary=summarise(rows))


_OUTCOMES = {
    Status.COMPLETED: Outcome.ANSWERED,
    Status.DENIED: Outcome.REFUSED,
    Status.CANCELLED: Outcome.WITHDRAWN,
    Status.EXPIRED: Outcome.EXPIRED,
}


def _row(found: Any, now: datetime, zone: tzinfo) -> RegisterRow:
    """Return the register's row of one request read by `request_register`, as at `now`."""
    state = state_of(found)
    outcome = _OUTCOMES.get(state.status, Outcome.OPEN)
    answered_at: datetime | None = None
    if outcome is Outcome.ANSWERED:
        answered_at = found.answered_at
    elif outcome is Outcome.REFUSED:
        # a refusal letter posted (`channels.record_answer_posted`), else its email delivered
        answered_at = found.answered_at or found.refusal_sent_at
    if answered_at is not None:
        due = state.due_as_of(answered_at)
        on_time = OnTime.YES if answered_at <= due else OnTime.NO
    elif outcome in (Outcome.WITHDRAWN, Outcome.EXPIRED):
        due, on_time = state.due_at, OnTime.NOT_APPLICABLE
    else:  # still open, or refused while the refusal is not yet delivered
        due = state.due_as_of(now)
        overdue = now > due if state.is_terminal else state.is_overdue(now)
        on_time = OnTime.OVERDUE if overdue else OnTime.NOT_YET_DUE
    closing = outcome in (Outcome.WITHDRAWN, Outcome.EXPIRED)
    return RegisterRow(
        reference=found.reference,
        type=RequestType(found.type),
        channel=str(found.created_via),
        received_at=state.received_at,
        verified_at=found.verified_at,
        due_at=due,
        extension_months=state.extension_months,
        extension_ground=state.extension_ground,
        answered_at=answered_at,
        outcome=outcome,
        refusal_ground=found.refusal_ground if outcome is Outcome.REFUSED else None,
        closed_at=found.closed_at if closing else None,
        on_time=on_time,
        days_taken=None
        if answered_at is None
        else days_between(state.received_at, answered_at, zone),
    )


def summarise(rows: Sequence[RegisterRow]) -> RegisterSummary:
    """Count the rows per type and outcome; the share of the answered ones answered on time and
    their median days taken; the unanswered ones overdue."""
    answered = [row for row in rows if row.answered_at is not None]
    days = [row.days_taken for row in answered if row.days_taken is not None]
    return RegisterSummary(
        counts=dict(Counter((row.type, row.outcome) for row in rows)),
        answered=len(answered),
        answered_on_time=sum(1 for row in answered if row.on_time is OnTime.YES),
        overdue=sum(1 for row in rows if row.on_time is OnTime.OVERDUE),
        median_days=float(statistics.median(days)) if days else None,
    )


__all__ = [
    "MAX_PERIOD_YEARS",
    "OnTime",
    "Outcome",
    "Period",
    "PeriodError",
    "RegisterRow",
    "RegisterSummary",
    "RequestRegister",
    "request_register",
    "summarise",
]
