"""The audit log as staff read it: events filtered by request reference, actor kind, action and
date, page by page, under the result of the hash chain's verification; and the same selection as
CSV (a GET: it changes nothing), every cell neutralised against spreadsheet formulas.

Filters name requests by their reference, never by an email address: URLs end up in logs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, render_template, request
from sqlalchemy import func
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select
from werkzeug.datastructures import MultiDict
from wtforms import DateField, Form, SelectField, StringField
from wtforms.validators import Length, Optional

from dsr.audit.models import VERIFY_BATCH, RequestEvent, content_removals, verify_audit
from dsr.dashboard.blueprint import blueprint
from dsr.dashboard.request_page import event_label, removal_note
from dsr.dates import pages_zone, shown_moment
from dsr.db import get_session, utcnow
from dsr.i18n import gettext, lazy_gettext
from dsr.requests.models import DataRequest
from dsr.requests.status import normalize_reference
from dsr.requests.workflow import Actor
from exports.csv_safe import csv_bytes

EVENTS_PER_PAGE = 50
REFERENCE_MAX = 20
ACTION_MAX = 64
ACTOR_KIND_LABELS = {
    Actor.STAFF: lazy_gettext("Staff"),
    Actor.REQUESTER: lazy_gettext("Requester"),
    Actor.SYSTEM: lazy_gettext("System"),
}
CSV_HEADER = (
    "sequence",
    "at_utc",
    "request",
    "actor_kind",
    "actor",
    "action",
    "from_status",
    "to_status",
    "reason",
    "details",
    "hash",
)


@dataclass(frozen=True, slots=True)
class AuditFilters:
    """Which events to show. Dates are whole days, both included, in the readers' time zone."""

    reference: str | None = None
    actor_kind: Actor | None = None
    action: str | None = None
    since: date | None = None
    until: date | None = None


def _day_start(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def _conditions(filters: AuditFilters, zone: tzinfo) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.reference:
        conditions.append(col(DataRequest.reference) == normalize_reference(filters.reference))
    if filters.actor_kind is not None:
        conditions.append(col(RequestEvent.actor_kind) == filters.actor_kind)
    if filters.action:
        conditions.append(col(RequestEvent.action) == filters.action)
    if filters.since is not None:
        conditions.append(col(RequestEvent.at) >= _day_start(filters.since, zone))
    if filters.until is not None:
        conditions.append(
            col(RequestEvent.at) < _day_start(filters.until + timedelta(days=1), zone)
        )
    return conditions


@dataclass(frozen=True, slots=True)
class AuditRow:
    event: RequestEvent
    reference: str | None
    content_removed: str | None = None  # what shows instead of a content minimisation removed


@dataclass(frozen=True, slots=True)
class AuditPage:
    rows: list[AuditRow]
    total: int
    page: int
    pages: int


def _selection(filters: AuditFilters, zone: tzinfo) -> Any:
    return (
        select(RequestEvent, DataRequest.reference)
        .outerjoin(DataRequest, col(DataRequest.id) == col(RequestEvent.request_id))
        .where(*_conditions(filters, zone))
    )


def audit_page(
    *,
    db_session: Session,
    filters: AuditFilters,
    zone: tzinfo,
    page: int = 1,
    per_page: int = EVENTS_PER_PAGE,
) -> AuditPage:
    """Return one page of the events matching `filters`, newest first."""
    counted = (
        select(func.count())
        .select_from(RequestEvent)
        .outerjoin(DataRequest, col(DataRequest.id) == col(RequestEvent.request_id))
        .where(*_conditions(filters, zone))
    )
    total = db_session.exec(counted).one()
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    statement = (
        _selection(filters, zone)
        .order_by(col(RequestEvent.sequence).desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    found = list(db_session.exec(statement))
    removed = {event.request_id for event, _ in found if event.content_removed}
    removals = content_removals(db_session=db_session, request_ids=removed - {None})
    rows = [
        AuditRow(
            event,
            reference,
            removal_note(removals.get(event.request_id or 0)) if event.content_removed else None,
        )
        for event, reference in found
    ]
    return AuditPage(rows=rows, total=total, page=page, pages=pages)


def recorded_actions(*, db_session: Session) -> list[str]:
    """Return the actions present in the log, for the filter's choices."""
    return list(
        db_session.exec(
            select(RequestEvent.action).distinct().order_by(col(RequestEvent.action))
        ).all()
    )


def audit_csv_rows(
    *, db_session: Session, filters: AuditFilters, zone: tzinfo
) -> Iterator[tuple[str, ...]]:
    """Yield the events matching `filters` as CSV cells, oldest first, read in batches."""
    statement = (
        _selection(filters, zone)
        .order_by(col(RequestEvent.sequence))
        .execution_options(yield_per=VERIFY_BATCH)
    )
    removals = content_removals(db_session=db_session)
    for event, reference in db_session.exec(statement):
        removed = removal_note(removals.get(event.request_id or 0)) if event.content_removed else ""
        yield (
            str(event.sequence),
            event.at.isoformat(timespec="microseconds"),
            reference or "",
            event.actor_kind.value,
            event.actor_label,
            event.action,
            event.from_status.value if event.from_status else "",
            event.to_status.value if event.to_status else "",
            event.reason or removed,
            json.dumps(event.details, ensure_ascii=False, sort_keys=True) if event.details else "",
            event.hash,
        )


def audit_csv(*, db_session: Session, filters: AuditFilters, zone: tzinfo) -> bytes:
    """Return the events matching `filters` as CSV for a spreadsheet (formulas neutralised)."""
    return csv_bytes(CSV_HEADER, audit_csv_rows(db_session=db_session, filters=filters, zone=zone))


# --- the form and the views ---------------------------------------------------------------------


class AuditFilterForm(Form):
    """The filters of the audit log, read from the query string."""

    reference = StringField(
        lazy_gettext("Request reference"),
        validators=[Optional(), Length(max=REFERENCE_MAX)],
        render_kw={"maxlength": REFERENCE_MAX, "placeholder": "DSR-2026-000123"},
    )
    actor_kind = SelectField(lazy_gettext("Who acted"), validate_choice=False)
    action = SelectField(lazy_gettext("Action"), validate_choice=False)
    since = DateField(lazy_gettext("From"), validators=[Optional()], render_kw={"type": "date"})
    until = DateField(lazy_gettext("To"), validators=[Optional()], render_kw={"type": "date"})


def _zone() -> ZoneInfo:
    return pages_zone()


def _filters(args: MultiDict[str, str], actions: list[str]) -> tuple[AuditFilterForm, AuditFilters]:
    """Read the filters; a value that is not valid (a bad date, an unknown kind) is ignored."""
    form = AuditFilterForm(args)
    form.actor_kind.choices = [
        ("", gettext("Anyone")),
        *((kind.value, str(label)) for kind, label in ACTOR_KIND_LABELS.items()),
    ]
    form.action.choices = [
        ("", gettext("Any action")),
        *sorted(((one, str(event_label(one))) for one in actions), key=lambda choice: choice[1]),
    ]
    form.validate()
    kinds = {kind.value: kind for kind in Actor}
    filters = AuditFilters(
        reference=(form.reference.data or "").strip() or None
        if not form.reference.errors
        else None,
        actor_kind=kinds.get(form.actor_kind.data or ""),
        action=(form.action.data or None) if (form.action.data or "") in actions else None,
        since=None if form.since.errors else form.since.data,
        until=None if form.until.errors else form.until.data,
    )
    return form, filters


@blueprint.get("/audit")
def audit() -> str:
    """Show the verification of the chain, then the matching events, newest first."""
    db_session = get_session()
    actions = recorded_actions(db_session=db_session)
    form, filters = _filters(request.args, actions)
    verification = verify_audit(db_session=db_session)
    page = request.args.get("page", "1")
    shown = audit_page(
        db_session=db_session,
        filters=filters,
        zone=_zone(),
        page=int(page) if page.isdigit() else 1,
    )
    query = {key: value for key, value in request.args.items() if key != "page"}
    return render_template(
        "dashboard/audit.html",
        form=form,
        events=shown,
        verification=verification,
        query=query,
        actor_kind_label=ACTOR_KIND_LABELS.__getitem__,
        event_label=event_label,
        shown_moment=shown_moment,
    )


@blueprint.get("/audit.csv")
def audit_export() -> Response:
    """Download the matching events as CSV, oldest first."""
    db_session = get_session()
    _form, filters = _filters(request.args, recorded_actions(db_session=db_session))
    body = audit_csv(db_session=db_session, filters=filters, zone=_zone())
    stamp = utcnow().strftime("%Y%m%d-%H%M%S")
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response
