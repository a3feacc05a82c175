"""The figures of the dashboard: requests per month by type, the share answered on time and the
median time to answer, over the last twelve months, drawn as server-side SVG.

A request is answered when its answer was delivered (completed: `answered_at`, R47) or when it
was denied (the first audit event that denied it dates the answer; for a request answered by
post, the day its refusal letter was posted). It is on time when that date
is no later than its deadline as it stood then, pauses for the requester's answers and any
extension included (`RequestState.due_as_of`).
Months are calendar months in the time zone people read the dashboard in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

from flask import render_template
from sqlalchemy import case, func, select
from sqlmodel import Session

from dsr.audit.models import RequestEvent
from dsr.dashboard.blueprint import blueprint
from dsr.dashboard.charts import ChartTable, Series, percent_line_chart, stacked_bar_chart
from dsr.dates import pages_zone, shown_decimal, shown_month, shown_percent
from dsr.db import get_session, table_of, utcnow
from dsr.i18n import gettext
from dsr.requests.labels import REQUEST_TYPE_LABELS
from dsr.requests.models import STATE_COLUMNS, AnswerChannel, DataRequest, state_of
from dsr.requests.workflow import RequestState, RequestType, Status

MONTHS_SHOWN = 12


@dataclass(frozen=True, slots=True)
class Month:
    """A calendar month in the readers' time zone, as the UTC instants it starts and ends at."""

    first_day: date
    start: datetime
    end: datetime


def _month_start(year: int, month: int, zone: tzinfo) -> datetime:
    return datetime(year, month, 1, tzinfo=zone).astimezone(UTC)


def last_months(now: datetime, *, zone: tzinfo, count: int = MONTHS_SHOWN) -> list[Month]:
    """Return the `count` calendar months up to and including the one `now` is in, oldest first."""
    local = now.astimezone(zone)
    months: list[Month] = []
    for back in range(count - 1, -1, -1):
        year, index = divmod(local.year * 12 + local.month - 1 - back, 12)
        next_year, next_index = divmod(year * 12 + index + 1, 12)
        months.append(
            Month(
                first_day=date(year, index + 1, 1),
                start=_month_start(year, index + 1, zone),
                end=_month_start(next_year, next_index + 1, zone),
            )
        )
    return months


# --- the SQL ------------------------------------------------------------------------------------


def requests_per_month(
    *, db_session: Session, months: Sequence[Month]
) -> dict[RequestType, list[int]]:
    """Count the requests received in each month, by type (every type, zeros included).

    One query: each request is put in its month's bucket by a CASE on the month boundaries.
    """
    counts = {kind: [0] * len(months) for kind in RequestType}
    if not months:
        return counts
    requests = table_of(DataRequest)
    bucket = case(
        *((requests.c.received_at < month.end, index) for index, month in enumerate(months))
    )
    received = (
        select(bucket.label("month"), requests.c.type.label("type"))
        .where(
            requests.c.received_at >= months[0].start,
            requests.c.received_at < months[-1].end,
        )
        .subquery()
    )
    rows = db_session.execute(
        select(received.c.month, received.c.type, func.count().label("requests")).group_by(
            received.c.month, received.c.type
        )
    )
    for month, kind, number in rows:
        counts[RequestType(kind)][int(month)] = int(number)
    return counts


@dataclass(frozen=True, slots=True)
class AnsweredRequest:
    """A completed or denied request: its deadline rules and when it was answered."""

    state: RequestState
    answered_at: datetime

    @property
    def on_time(self) -> bool:
        return self.answered_at <= self.state.due_as_of(self.answered_at)

    @property
    def time_to_answer(self) -> timedelta:
        return self.answered_at - self.state.received_at


def answered_requests(
    *, db_session: Session, since: datetime, until: datetime
) -> list[AnsweredRequest]:
    """Return the requests answered from `since` to before `until`: completed ones by the date
    their answer was delivered (`answered_at`, R47), denied ones by the date of the refusal. A
    request whose answer is ready but not yet delivered is not answered."""
    requests = table_of(DataRequest)
    events = table_of(RequestEvent)
    denials = (
        select(events.c.request_id, func.min(events.c.at).label("answered_at"))
        .where(events.c.request_id.is_not(None), events.c.to_status == Status.DENIED.value)
        .group_by(events.c.request_id)
        .subquery()
    )
    state_columns = tuple(requests.c[name] for name in STATE_COLUMNS)
    completed = select(*state_columns, requests.c.answered_at.label("answered_at")).where(
        requests.c.status == Status.COMPLETED.value,
        requests.c.answered_at >= since,
        requests.c.answered_at < until,
    )
    # a refusal answered by post is answered when its letter was posted (`answered_at`), not before
    refused_at = case(
        (requests.c.answer_channel == AnswerChannel.POST, requests.c.answered_at),
        else_=denials.c.answered_at,
    )
    denied = (
        select(*state_columns, refused_at.label("answered_at"))
        .join(denials, denials.c.request_id == requests.c.id)
        .where(
            requests.c.status == Status.DENIED.value,
            refused_at >= since,
            refused_at < until,
        )
    )
    return [
        AnsweredRequest(state=state_of(row), answered_at=row.answered_at)
        for query in (completed, denied)
        for row in db_session.execute(query)
    ]


# --- the rules ----------------------------------------------------------------------------------


def median_duration(durations: Sequence[timedelta]) -> timedelta | None:
    """Return the median of `durations` (the mean of the middle two for an even count)."""
    if not durations:
        return None
    ordered = sorted(durations)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def on_time_percent(answered: Sequence[AnsweredRequest]) -> float | None:
    """Return the percentage of `answered` that were answered on time; None when empty."""
    if not answered:
        return None
    return 100 * sum(1 for one in answered if one.on_time) / len(answered)


@dataclass(frozen=True, slots=True)
class Figures:
    """Everything the figures page shows, for the months in `months`."""

    months: list[Month]
    received: dict[RequestType, list[int]]
    answered: int
    answered_on_time: int
    on_time_percent: float | None
    on_time_percent_by_month: list[float | None]
    median_time_to_answer: timedelta | None


def compute_figures(
    *, db_session: Session, now: datetime, zone: tzinfo, count: int = MONTHS_SHOWN
) -> Figures:
    """Compute the figures of the `count` months up to `now` (the current month included)."""
    months = last_months(now, zone=zone, count=count)
    received = requests_per_month(db_session=db_session, months=months)
    answered = answered_requests(db_session=db_session, since=months[0].start, until=months[-1].end)
    by_month: list[list[AnsweredRequest]] = [[] for _ in months]
    for one in answered:
        index = next(i for i, month in enumerate(months) if one.answered_at < month.end)
        by_month[index].append(one)
    return Figures(
        months=months,
        received=received,
        answered=len(answered),
        answered_on_time=sum(1 for one in answered if one.on_time),
        on_time_percent=on_time_percent(answered),
        on_time_percent_by_month=[on_time_percent(group) for group in by_month],
        median_time_to_answer=median_duration([one.time_to_answer for one in answered]),
    )


# --- the page -----------------------------------------------------------------------------------


def _days(duration: timedelta) -> str:
    days = duration / timedelta(days=1)
    return gettext("%(days)s days", days=shown_decimal(days))


@blueprint.get("/figures")
def figures() -> str:
    """Show the figures of the last twelve months as charts, each with its table."""
    zone = pages_zone()
    shown = compute_figures(db_session=get_session(), now=utcnow(), zone=zone)
    labels = [shown_month(month.first_day) for month in shown.months]
    kinds = [kind for kind in RequestType]
    type_names = [str(REQUEST_TYPE_LABELS[kind]) for kind in kinds]
    received_chart = stacked_bar_chart(
        chart_id="chart-received",
        title=gettext("Requests received per month, by type"),
        description=gettext(
            "A bar per month of the last twelve, split by type of request; the table below "
            "gives the same figures."
        ),
        categories=labels,
        series=[
            Series(name, tuple(float(n) for n in shown.received[kind]))
            for name, kind in zip(type_names, kinds, strict=True)
        ],
    )
    received_table = ChartTable(
        caption=gettext("Requests received per month, by type"),
        header=(gettext("Month"), *type_names, gettext("Total")),
        rows=tuple(
            (
                label,
                *(str(shown.received[kind][index]) for kind in kinds),
                str(sum(shown.received[kind][index] for kind in kinds)),
            )
            for index, label in enumerate(labels)
        ),
    )
    on_time_chart = percent_line_chart(
        chart_id="chart-on-time",
        title=gettext("Share of requests answered on time, per month"),
        description=gettext(
            "A point per month of the last twelve in which requests were answered: the "
            "percentage answered by their deadline. The table below gives the same figures."
        ),
        categories=labels,
        values=shown.on_time_percent_by_month,
        value_format=shown_percent,
    )
    on_time_table = ChartTable(
        caption=gettext("Share of requests answered on time, per month"),
        header=(gettext("Month"), gettext("Answered on time")),
        rows=tuple(
            (label, "–" if value is None else shown_percent(value))
            for label, value in zip(labels, shown.on_time_percent_by_month, strict=True)
        ),
    )
    median = shown.median_time_to_answer
    return render_template(
        "dashboard/figures.html",
        figures=shown,
        on_time_share=None
        if shown.on_time_percent is None
        else shown_percent(shown.on_time_percent),
        median=None if median is None else _days(median),
        received_chart=received_chart,
        received_table=received_table,
        on_time_chart=on_time_chart,
        on_time_table=on_time_table,
    )
