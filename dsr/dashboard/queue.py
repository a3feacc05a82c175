"""The queue: every request with its deadline, filtered, searched, sorted by due date, paged,
with the saved views staff start from (mine, overdue, due this week, waiting for the requester)
and the assignment of several requests at once.

A page costs two queries: the page's rows (one more than shown, to know whether a next page
exists) and the counts per status and per saved view (one row). Both read indexed columns only,
but a search for part of an address, which reads every address (`queue_search`). The text
searched for never travels in a URL: the search form posts it, the session keeps it, and the
queue's URL says only `search=1`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode

import flask_babel  # type: ignore[import-untyped]
from babel.dates import format_date
from flask import Response, flash, redirect, render_template, request, session, url_for
from markupsafe import Markup, escape
from sqlalchemy import ColumnElement, Integer, Select, and_, bindparam, func, or_, select
from sqlmodel import Session
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as AnyResponse

from dsr.accounts.access import current_staff, for_any_staff, staff_required
from dsr.accounts.models import WORKING_ROLES, StaffRole
from dsr.dashboard.blueprint import blueprint
from dsr.dashboard.channel_forms import CHANNEL_LABELS
from dsr.dashboard.forms import BulkAssignForm, QueueFilterForm, SearchForm
from dsr.dashboard.queue_search import search_condition
from dsr.dates import days_between, pages_zone
from dsr.db import UTCDateTime, get_session, table_of, utcnow
from dsr.i18n import gettext, lazy_gettext
from dsr.requests.assignment import assign_many, assignable_staff
from dsr.requests.closed_counts import closed_count
from dsr.requests.deadlines import end_of_day
from dsr.requests.labels import REQUEST_TYPE_LABELS, STAFF_STATUS_LABELS
from dsr.requests.models import STATE_COLUMNS, Channel, DataRequest, state_of
from dsr.requests.refusals import OperationRefused, RequestChanged
from dsr.requests.workflow import TERMINAL, RequestState, RequestType, Status

PER_PAGE = 50
MAX_PAGE = 10_000
DUE_SOON_DAYS = 7
SEARCH_SESSION_KEY = "dashboard.search"
OPEN_STATUSES: tuple[Status, ...] = tuple(status for status in Status if status not in TERMINAL)

NOW_PARAMETER = bindparam("now", type_=UTCDateTime())
WEEK_END_PARAMETER = bindparam("week_end", type_=UTCDateTime())
"""The parameters of the queue's statements, built once per process: the moment they are run
at, and the end of its week (`end_of_week`)."""


class StatusScope(StrEnum):
    """Which statuses the queue shows when no single status is chosen."""

    OPEN = "open"
    ALL = "all"


class Urgency(StrEnum):
    """How close a request is to its deadline, shown with a class and words, not colour alone."""

    OVERDUE = "overdue"
    DUE_SOON = "due-soon"
    ON_TRACK = "on-track"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class QueueQuery:
    """What the queue is asked to show. `status` wins over `scope`; a search looks at every
    status unless a status is chosen."""

    scope: StatusScope = StatusScope.OPEN
    status: Status | None = None
    request_type: RequestType | None = None
    overdue: bool = False
    due_this_week: bool = False
    assignee_id: int | None = None
    unassigned: bool = False
    search: str | None = None
    descending: bool = False
    page: int = 1


@dataclass(frozen=True, slots=True)
class QueueRow:
    """One line of the queue: no personal data, only what the deadline needs."""

    id: int
    reference: str
    type: RequestType
    status: Status
    received_at: datetime
    due_at: datetime
    days_left: int | None
    urgency: Urgency
    paused: bool
    assignee_id: int | None
    version_id: int  # as shown: a bulk assignment leaves a request changed since
    group_id: int | None = None  # issue 19: a part of a submission that asked for several things
    channel: Channel = Channel.WEB  # how it came (R44): the queue names any other than the form


@dataclass(frozen=True, slots=True)
class QueuePage:
    rows: tuple[QueueRow, ...]
    page: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def urgency_of(state: RequestState, now: datetime) -> tuple[datetime, int | None, Urgency]:
    """Return the deadline as it stands at `now`, the days left to it (on the request's calendar;
    negative when overdue) and how urgent the request is. A closed request has no days left."""
    due = state.due_as_of(now)
    if state.is_terminal:
        return due, None, Urgency.CLOSED
    days_left = days_between(now, due, state.zone)
    # Not paused, the deadline as of `now` is the one `is_overdue` compares `now` with: compared
    # here, not worked out a second time (a queue page asks for 50 rows).
    overdue = state.is_overdue(now) if state.is_paused else now > due
    if overdue:
        return due, days_left, Urgency.OVERDUE
    if days_left <= DUE_SOON_DAYS:
        return due, days_left, Urgency.DUE_SOON
    return due, days_left, Urgency.ON_TRACK


def end_of_week(now: datetime, zone: tzinfo) -> datetime:
    """Return the last instant of the week (Monday to Sunday) of `now` on `zone`'s calendar."""
    today = now.astimezone(zone).date()
    return end_of_day(today + timedelta(days=6 - today.weekday()), zone)


def _conditions(query: QueueQuery) -> list[ColumnElement[bool]]:
    """Return the conditions on `dsr_request` of the requests `query` shows, as at the
    parameter `NOW_PARAMETER` (and its week, ending at `WEEK_END_PARAMETER`)."""
    requests = table_of(DataRequest)
    conditions: list[ColumnElement[bool]] = []
    if query.status is not None:
        conditions.append(requests.c.status == query.status.value)
    elif query.scope is StatusScope.OPEN and not query.search:
        conditions.append(requests.c.status.in_([status.value for status in OPEN_STATUSES]))
    if query.request_type is not None:
        conditions.append(requests.c.type == query.request_type.value)
    if query.overdue:
        # Paused, the clock stands still: overdue only if it was so when paused (is_overdue).
        # A pause began in the past, so either way the deadline is behind `now`: said once
        # more, it lets the (status, due_at) index read the overdue requests alone (the count
        # of the view "Overdue" is on every page).
        conditions.append(requests.c.status.in_([status.value for status in OPEN_STATUSES]))
        conditions.append(requests.c.due_at < NOW_PARAMETER)
        conditions.append(
            or_(
                and_(requests.c.paused_since.is_(None), requests.c.due_at < NOW_PARAMETER),
                and_(
                    requests.c.paused_since.is_not(None),
                    requests.c.due_at < requests.c.paused_since,
                ),
            )
        )
    if query.due_this_week:
        # Not yet overdue, due by Sunday; a paused request waits for its requester instead.
        conditions.append(requests.c.status.in_([status.value for status in OPEN_STATUSES]))
        conditions.append(requests.c.paused_since.is_(None))
        conditions.append(requests.c.due_at >= NOW_PARAMETER)
        conditions.append(requests.c.due_at <= WEEK_END_PARAMETER)
    if query.unassigned:
        conditions.append(requests.c.assignee_id.is_(None))
    elif query.assignee_id is not None:
        conditions.append(requests.c.assignee_id == query.assignee_id)
    if query.search:
        conditions.append(search_condition(query.search))
    return conditions


def queue_page(
    *,
    db_session: Session,
    query: QueueQuery,
    now: datetime,
    zone: tzinfo = UTC,
    per_page: int = PER_PAGE,
) -> QueuePage:
    """Return one page of the queue, sorted by due date (then by id, so pages are stable)."""
    page = min(max(query.page, 1), MAX_PAGE)
    found = db_session.execute(
        _page_statement(query, per_page),
        {"now": now, "week_end": end_of_week(now, zone), "skipped": (page - 1) * per_page},
    ).all()
    rows = []
    for row in found[:per_page]:
        status = Status(row.status)
        due, days_left, urgency = urgency_of(state_of(row), now)
        rows.append(
            QueueRow(
                id=row.id,
                reference=row.reference,
                type=RequestType(row.type),
                status=status,
                received_at=row.received_at,
                due_at=due,
                days_left=days_left,
                urgency=urgency,
                paused=row.paused_since is not None,
                assignee_id=row.assignee_id,
                version_id=row.version_id,
                group_id=row.group_id,
                channel=Channel(row.created_via),
            )
        )
    return QueuePage(rows=tuple(rows), page=page, has_next=len(found) > per_page)


def _page_statement(query: QueueQuery, per_page: int) -> Select[Any]:
    """Return the statement of `query`'s rows, the moment, the week's end and the rows skipped
    left as parameters: built once per process for each set of filters, but a search's, whose
    text (personal data) is not kept."""
    if query.search:
        return _build_page_statement(query, per_page)
    return _kept_page_statement(replace(query, page=1), per_page)


def _build_page_statement(query: QueueQuery, per_page: int) -> Select[Any]:
    requests = table_of(DataRequest)
    order = (
        (requests.c.due_at.desc(), requests.c.id.desc())
        if query.descending
        else (requests.c.due_at.asc(), requests.c.id.asc())
    )
    return (
        select(
            requests.c.id,
            requests.c.reference,
            requests.c.type,
            requests.c.status,
            requests.c.due_at,
            requests.c.assignee_id,
            requests.c.version_id,
            requests.c.group_id,
            requests.c.created_via,
            *(requests.c[name] for name in STATE_COLUMNS),
        )
        .where(*_conditions(query))
        .order_by(*order)
        .limit(per_page + 1)
        .offset(bindparam("skipped", type_=Integer()))
    )


_kept_page_statement = functools.lru_cache(maxsize=256)(_build_page_statement)


@dataclass(frozen=True, slots=True)
class SavedView:
    """A view of the queue staff start from: filters of a fresh query (`changes`), shown as a
    link at the top of the queue with its count."""

    name: str
    label: str
    changes: Mapping[str, Any]

    def query(self) -> QueueQuery:
        return replace(QueueQuery(), **self.changes)

    def shown_in(self, query: QueueQuery) -> bool:
        """Tell whether `query` shows this view (perhaps with other filters)."""
        return all(getattr(query, field) == value for field, value in self.changes.items())


def saved_views(reader_id: int | None) -> tuple[SavedView, ...]:
    """Return the built-in views, "mine" being the requests assigned to `reader_id` (none
    without a reader)."""
    mine = (
        (SavedView("mine", lazy_gettext("Mine"), {"assignee_id": reader_id}),)
        if reader_id is not None
        else ()
    )
    return (
        *mine,
        SavedView("overdue", lazy_gettext("Overdue"), {"overdue": True}),
        SavedView("week", lazy_gettext("Due this week"), {"due_this_week": True}),
        SavedView(
            "waiting",
            lazy_gettext("Waiting for the requester"),
            {"status": Status.AWAITING_REQUESTER},
        ),
    )


def queue_counts(
    *,
    db_session: Session,
    views: Sequence[SavedView] = (),
    now: datetime | None = None,
    zone: tzinfo = UTC,
) -> tuple[dict[Status, int], dict[str, int]]:
    """Return how many requests are in each status (every status, zero included) and in each
    of `views` (as at `now`, the week on `zone`'s calendar).

    One count per status and per view, all in one row: an open status's and a view's read from
    an index (a GROUP BY over the whole table costs twice as much at 100,000 requests: it
    aggregates every row's status text), a closed status's as the store keeps it
    (`closed_counts`: counting every request ever closed was most of the counts' statement)."""
    moment = now or utcnow()
    counted = db_session.execute(
        _counts_statement(tuple(view.query() for view in views)),
        {"now": moment, "week_end": end_of_week(moment, zone)},
    ).one()
    statuses = {status: int(counted[index]) for index, status in enumerate(Status)}
    shown = {view.name: int(counted[len(Status) + index]) for index, view in enumerate(views)}
    return statuses, shown


@functools.lru_cache(maxsize=64)
def _counts_statement(view_queries: tuple[QueueQuery, ...]) -> Select[Any]:
    """Build the counts' statement once per process for each set of views (one per reader, for
    "Mine"), the moment and the week's end left as parameters: building its sixteen subqueries
    cost more than running them."""
    requests = table_of(DataRequest)
    by_status = [
        closed_count(status)
        if status in TERMINAL
        else select(func.count()).where(requests.c.status == status.value).scalar_subquery()
        for status in Status
    ]
    by_view = [
        select(func.count()).select_from(requests).where(*_conditions(query)).scalar_subquery()
        for query in view_queries
    ]
    return select(*by_status, *by_view)


def status_counts(*, db_session: Session) -> dict[Status, int]:
    """Return how many requests are in each status (every status, zero included)."""
    return queue_counts(db_session=db_session)[0]


# --- the page -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RowWords:
    """The catalogue's words of the queue's rows in one language, as the template's `_()` makes
    them (Markup; the counts of days filled in per row)."""

    overdue: Markup
    due_soon: Markup
    closed: Markup
    days_late: Markup
    days_left: Markup
    select: Markup
    paused: Markup
    part_of_several: Markup
    type_labels: Mapping[RequestType, Markup]
    status_labels: Mapping[Status, Markup]


@functools.lru_cache(maxsize=8)
def row_words(_locale: str) -> RowWords:
    """Return the rows' words in the request's language (`_locale`, the cache's key): looked up
    in the catalogue once per process and language, not once per page."""
    return RowWords(
        overdue=Markup(gettext("Overdue")),  # noqa: S704
        due_soon=Markup(gettext("Due soon")),  # noqa: S704
        closed=Markup(gettext("Closed")),  # noqa: S704
        days_late=Markup(gettext("%(days)d days late")),  # noqa: S704
        days_left=Markup(gettext("%(days)d days left")),  # noqa: S704
        select=Markup(gettext("Select %(reference)s")),  # noqa: S704
        paused=Markup(gettext("paused")),  # noqa: S704
        part_of_several=Markup(gettext("one part of several asked for together")),  # noqa: S704
        # The labels are lazy: translated here, as the template placed them.
        type_labels={
            kind: Markup(str(text))  # noqa: S704
            for kind, text in REQUEST_TYPE_LABELS.items()
        },
        status_labels={
            status: Markup(str(text))  # noqa: S704
            for status, text in STAFF_STATUS_LABELS.items()
        },
    )


@functools.lru_cache(maxsize=4096)
def long_date(day: date, locale: str) -> str:
    """Return `day` written out in `locale`, formatted once per process (pages show the same
    few hundred days again and again)."""
    return str(format_date(day, format="long", locale=locale))


URGENCY_CLASSES = {urgency: str(escape(urgency.value)) for urgency in Urgency}
"""The class of a row's <tr>, escaped once per process."""


def row_markup(
    rows: Sequence[QueueRow], staff_names: Mapping[int, str], *, selectable: bool
) -> list[Markup]:
    """Return each row's <tr> of the queue's table, in the reader's language and zone, with a
    box to tick for a bulk assignment when `selectable`.

    Written here rather than cell by cell in queue.html: placing some thirty pieces per row,
    each escaped and joined by Jinja, cost the page more than its SQL. The markup is the one the
    template wrote, byte for byte. Every value is escaped exactly once (`escape`; catalogue
    texts are Markup, as the template's `_()` makes them), and what rows repeat (labels, dates,
    counts of days, assignees) once per page (`row_words`, `long_date`)."""
    locale = str(flask_babel.get_locale())
    zone = flask_babel.get_timezone()
    # A reference is letters, digits and hyphens: nothing to quote in a path. Escaping works
    # character by character: the URL escaped once, each escaped reference put in its place.
    request_url = str(escape(url_for("dashboard.request_page", reference="REFERENCE")))
    words = row_words(locale)
    select = str(words.select)  # its %(reference)s given the reference already escaped
    paused = f" <small>({words.paused})</small>"
    grouped = f' <small class="part-of-several">({words.part_of_several})</small>'

    @functools.cache
    def counted(text: Markup, days: int) -> Markup:
        return text % {"days": days}

    @functools.cache
    def on(day: date) -> Markup:
        return escape(long_date(day, locale))

    @functools.cache
    def came_by(channel: Channel) -> str:
        if channel is Channel.WEB:
            return ""
        return f' <small class="channel">({escape(CHANNEL_LABELS[channel])})</small>'

    @functools.cache
    def assignee(staff_id: int | None) -> Markup:
        return escape(staff_names.get(staff_id, "—") if staff_id else "—")

    lines = []
    for row in rows:
        reference = escape(row.reference)
        box = (
            f'<td><input type="checkbox" name="selected" value="{row.id}:{row.version_id}"'
            f' id="select-{row.id}" aria-label="{select % {"reference": reference}}"></td>'
            if selectable
            else ""
        )
        url = request_url.replace("REFERENCE", reference)
        kind = f"{words.type_labels[row.type]}{came_by(row.channel)}"
        status = f"{words.status_labels[row.status]}{paused if row.paused else ''}"
        if row.urgency is Urgency.OVERDUE:
            flag, days = words.overdue, counted(words.days_late, -(row.days_left or 0))
        elif row.urgency is Urgency.DUE_SOON:
            flag, days = words.due_soon, counted(words.days_left, row.days_left or 0)
        elif row.urgency is Urgency.ON_TRACK:
            flag, days = None, counted(words.days_left, row.days_left or 0)
        else:
            flag, days = None, words.closed
        received_on = on(row.received_at.astimezone(zone).date())
        due_on = (
            on(row.due_at.astimezone(zone).date()) if row.urgency is not Urgency.CLOSED else "—"
        )
        left = f'<span class="deadline-flag">{flag}</span> {days}' if flag else days
        lines.append(
            Markup(  # noqa: S704  # every piece escaped above, or Markup
                f'      <tr class="{URGENCY_CLASSES[row.urgency]}">\n'
                f"{box}"
                f'        <td><a href="{url}">{reference}</a></td>\n'
                f"        <td>{kind}{grouped if row.group_id else ''}</td>\n"
                f"        <td>{status}</td>\n"
                f"        <td>{received_on}</td>\n"
                f"        <td>{due_on}</td>\n"
                f"        <td>\n            {left}\n        </td>\n"
                f"        <td>{assignee(row.assignee_id)}</td>\n"
                "      </tr>\n"
            )
        )
    return lines


class PageWords:
    """The templates' `_()` for one language, as Jinja's own gives it (the message translated,
    as Markup, its variables filled in) but each message looked up in the catalogue once per
    process: the queue's three templates say some thirty of them on every page. Only for the
    templates' literal messages, the desk's own words."""

    def __init__(self) -> None:
        self._translated: dict[str, Markup] = {}
        self._said: dict[str, Markup] = {}  # the messages said without variables, as said

    def __call__(self, message: str, **variables: Any) -> Markup:
        if not variables:
            said = self._said.get(message)
            if said is None:
                said = self._said[message] = self._translation(message) % {}
            return said
        return self._translation(message) % variables

    def _translation(self, message: str) -> Markup:
        translated = self._translated.get(message)
        if translated is None:
            translated = Markup(flask_babel.get_translations().ugettext(message))  # noqa: S704
            self._translated[message] = translated
        return translated


@functools.lru_cache(maxsize=8)
def page_words(_locale: str) -> PageWords:
    """Return the templates' `_()` in the request's language (`_locale`, the cache's key)."""
    return PageWords()


def query_from_args(args: Mapping[str, str], search: str | None) -> QueueQuery:
    """Read the queue's filters from the URL's arguments; ignore values that are not offered."""
    scope = StatusScope.OPEN
    status: Status | None = None
    chosen = args.get("status", "")
    if chosen == StatusScope.ALL.value:
        scope = StatusScope.ALL
    elif chosen in Status.__members__.values():
        status = Status(chosen)
    request_type = args.get("type", "")
    assignee = args.get("assignee", "")
    page = args.get("page", "1")
    return QueueQuery(
        scope=scope,
        status=status,
        request_type=(
            RequestType(request_type) if request_type in RequestType.__members__.values() else None
        ),
        overdue=args.get("overdue") == "1",
        due_this_week=args.get("week") == "1",
        assignee_id=int(assignee) if assignee.isdigit() else None,
        unassigned=assignee == "none",
        search=search if args.get("search") == "1" else None,
        descending=args.get("sort") == "-due",
        page=int(page) if page.isdigit() else 1,
    )


def queue_args(query: QueueQuery, **changes: Any) -> dict[str, Any]:
    """Return the arguments of the queue's URL for `query` with some of its fields changed (the
    search as a flag: its text stays in the session)."""
    changed = replace(query, **changes) if changes else query
    args: dict[str, Any] = {}
    if changed.status is not None:
        args["status"] = changed.status.value
    elif changed.scope is StatusScope.ALL:
        args["status"] = StatusScope.ALL.value
    if changed.request_type is not None:
        args["type"] = changed.request_type.value
    if changed.overdue:
        args["overdue"] = "1"
    if changed.due_this_week:
        args["week"] = "1"
    if changed.unassigned:
        args["assignee"] = "none"
    elif changed.assignee_id is not None:
        args["assignee"] = str(changed.assignee_id)
    if changed.search:
        args["search"] = "1"
    if changed.descending:
        args["sort"] = "-due"
    if changed.page > 1:
        args["page"] = str(changed.page)
    return args


URL_SAFE = "!$'()*,/:;?@"
"""The characters werkzeug leaves as they are in a URL's query string (`werkzeug.urls`)."""


@dataclass(frozen=True, slots=True)
class QueueLinks:
    """The queue's URL for a query with some of its fields changed (`queue_args`), for one page,
    which links to the queue some twenty times (the saved views, the counts per status, the
    pager): the queue's path built once (`url_for`), each query string then encoded as
    `url_for` encodes it (the arguments in their order, `URL_SAFE`)."""

    path: str

    def __call__(self, query: QueueQuery, **changes: Any) -> str:
        return self.with_args(queue_args(query, **changes))

    def with_args(self, args: Mapping[str, str]) -> str:
        """Return the queue's URL with the arguments `args` (`queue_args`), in their order."""
        return f"{self.path}?{_query_string(tuple(args.items()))}" if args else self.path

    def per_status(self, query: QueueQuery) -> dict[Status, str]:
        """Return the link of each count per status: `query` with that status, on its first
        page. The arguments but the status, the first of them, are worked out once."""
        others = queue_args(query, status=None, page=1)
        others.pop("status", None)
        return {status: self.with_args({"status": status.value, **others}) for status in Status}


@functools.lru_cache(maxsize=1024)
def _query_string(args: tuple[tuple[str, str], ...]) -> str:
    """Encode the queue's arguments once per process: filters, a page number, the search's flag
    (never its text), the same few hundred again and again."""
    return urlencode(args, safe=URL_SAFE)


QUEUE_FILTERS = ("status", "type", "assignee", "sort")
"""The <select>s of the queue's filters (`QueueFilterForm`); the bulk assignment has one."""


@dataclass(frozen=True, slots=True)
class ShownField:
    """A <select> of the queue's forms and its label, as the form's field renders them."""

    label: Markup
    control: Markup


def shown_fields(
    form_class: type[QueueFilterForm | BulkAssignForm],
    names: tuple[str, ...],
    args: Mapping[str, str],
    staff: tuple[tuple[int, str], ...],
) -> dict[str, ShownField]:
    """Return the <select>s `names` of `form_class` with their labels, the option `args` chose
    selected if it is offered: each rendered once per process for each language, list of staff
    and chosen option. Building the form and putting its labels and options into words and
    markup one by one cost the queue more than its 50 rows."""
    locale = str(flask_babel.get_locale())
    offered = _offered_values(form_class, names, staff)
    shown = {}
    for name in names:
        chosen = args.get(name)
        shown[name] = _shown_field(
            form_class, name, locale, staff, chosen if chosen in offered[name] else None
        )
    return shown


@functools.lru_cache(maxsize=64)
def _offered_values(
    form_class: type[QueueFilterForm | BulkAssignForm],
    names: tuple[str, ...],
    staff: tuple[tuple[int, str], ...],
) -> dict[str, frozenset[str]]:
    """Return the values the <select>s `names` of `form_class` offer (no words of a language)."""
    form = form_class(staff=staff)
    return {
        name: frozenset(choice.value for choice in getattr(form, name).choices) for name in names
    }


@functools.lru_cache(maxsize=256)
def _shown_field(
    form_class: type[QueueFilterForm | BulkAssignForm],
    name: str,
    _locale: str,  # the labels' language, the request's: part of what is cached
    staff: tuple[tuple[int, str], ...],
    chosen: str | None,
) -> ShownField:
    form = form_class(MultiDict({} if chosen is None else {name: chosen}), staff=staff)
    field = getattr(form, name)
    # The field's own markup.
    return ShownField(label=Markup(field.label()), control=Markup(field()))  # noqa: S704


def assignee_choices(db_session: Session) -> Sequence[tuple[int, str]]:
    """Return the staff a request can be assigned to, as (id, label)."""
    return assignable_staff(db_session=db_session)


def _url_args() -> dict[str, Any]:
    """The queue's filters as this request's URL gives them (no personal data), to come back to."""
    return dict(request.args.items())


def _queue_response(search_form: SearchForm | None = None, code: int = 200) -> AnyResponse:
    """Render the queue for the URL's filters and the session's search; `search_form`: a search
    refused, shown with its message."""
    db_session = get_session()
    search = session.get(SEARCH_SESSION_KEY)
    search = search if isinstance(search, str) else None
    query = query_from_args(request.args, search)
    reader = current_staff()
    views = saved_views(reader.id if reader is not None else None)
    now, zone = utcnow(), pages_zone()
    page = queue_page(db_session=db_session, query=query, now=now, zone=zone)
    counts, view_counts = queue_counts(db_session=db_session, views=views, now=now, zone=zone)
    staff = tuple(assignee_choices(db_session))
    staff_names = dict(staff)
    can_assign = reader is not None and reader.role in WORKING_ROLES
    locale = str(flask_babel.get_locale())
    links = QueueLinks(url_for("dashboard.queue"))
    bulk_fields = (
        shown_fields(BulkAssignForm, ("assignee",), {}, staff) if can_assign and page.rows else None
    )
    page_html = render_template(
        "dashboard/queue.html",
        _=page_words(locale),
        page=page,
        rows=row_markup(page.rows, staff_names, selectable=bulk_fields is not None),
        status_labels=row_words(locale).status_labels,
        counts=counts,
        views=views,
        view_counts=view_counts,
        query=query,
        queue_url=links,
        status_urls=links.per_status(query),
        filters=shown_fields(QueueFilterForm, QUEUE_FILTERS, request.args, staff),
        search_form=search_form or SearchForm(data={"query": query.search}),
        bulk_fields=bulk_fields,
        assign_url=url_for("dashboard.assign_selected", **_url_args()),
    )
    return Response(page_html, status=code)


@blueprint.get("/")
def queue() -> AnyResponse:
    """Show the queue with its saved views, its filters, its counts per status and one page of
    requests."""
    return _queue_response()


@blueprint.post("/search")
@for_any_staff
def search() -> AnyResponse:
    """Keep the search in the session and show the queue filtered by it: the text searched for
    never appears in a URL, a log line or a Referer header. A POST that changes nothing but the
    searcher's own session, so auditors may search too. "Clear" forgets it; an empty or
    over-long search is refused with a message, the queue shown as it was."""
    if "clear" in request.form:
        session.pop(SEARCH_SESSION_KEY, None)
        return redirect(url_for("dashboard.queue"))
    form = SearchForm(request.form)
    if not form.validate():
        return _queue_response(form, 400)
    session[SEARCH_SESSION_KEY] = form.query.data
    return redirect(url_for("dashboard.queue", search="1"))


@blueprint.post("/assign")
@staff_required(StaffRole.ADMIN, StaffRole.DPO)
def assign_selected() -> AnyResponse:
    """Assign the requests ticked on the queue to one member of staff, each as a request's page
    assigns it (recorded in its audit trail); closed requests and those that changed since the
    queue was shown are left as they are, and said. All or nothing: a refusal assigns none.
    The queue's filters come back in the URL (they are no personal data)."""
    back = redirect(url_for("dashboard.queue", **_url_args()), 303)
    reader = current_staff()
    db_session = get_session()
    staff = assignee_choices(db_session)
    form = BulkAssignForm(request.form, staff=staff)
    if reader is None or not form.validate():
        for errors in form.errors.values():
            for error in errors:
                flash(str(error), "error")
        return back
    try:
        done = assign_many(
            db_session=db_session,
            shown=form.shown_versions(),
            staff_label=reader.email,
            assignee_id=form.assignee_id,
            now=utcnow(),
        )
    except OperationRefused:
        db_session.rollback()
        flash(
            gettext("Nothing was assigned: choose a member of staff who works on requests."),
            "error",
        )
        return back
    except RequestChanged:
        db_session.rollback()
        flash(
            gettext(
                "Nothing was assigned: a request changed meanwhile (someone else acted on it). "
                "Check the queue again."
            ),
            "error",
        )
        return back
    flash(
        gettext(
            "%(count)d request(s) assigned to %(name)s.",
            count=done.assigned,
            name=dict(staff).get(form.assignee_id or 0, ""),
        )
    )
    if done.already:
        flash(gettext("%(count)d request(s) were already theirs.", count=done.already))
    if done.closed:
        flash(
            gettext(
                "%(count)d closed request(s) left as they are: %(references)s.",
                count=len(done.closed),
                references=", ".join(done.closed),
            ),
            "error",
        )
    if done.stale:
        flash(
            gettext(
                "%(count)d request(s) changed or disappeared since the queue was shown: left "
                "as they are, check them again.",
                count=done.stale,
            ),
            "error",
        )
    return back
