"""Tell the requester who the recipients of their data are once each has been told of the change
(Art. 19, second sentence; R49): one email when the last recipient's task of a request is done,
naming each recipient and the day it was told."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from flask import current_app, has_app_context
from sqlmodel import Session, col, select

from dsr.dates import written_date
from dsr.languages import Language
from dsr.requests.emails import EmailKind
from dsr.requests.models import DataRequest, Task, TaskKind, TaskStatus
from dsr.requests.service import mail_requester


def tell_requester_when_all_told(
    db_session: Session, request: DataRequest, task: Task, *, now: datetime
) -> bool:
    """Email the requester the recipients told, if no recipient's task of the request is still
    open; return whether it was queued (once per closing task)."""
    tasks = db_session.exec(
        select(Task)
        .where(Task.request_id == request.id, Task.kind == TaskKind.NOTIFY_RECIPIENT)
        .order_by(col(Task.id))
    ).all()
    if any(one.status is TaskStatus.OPEN for one in tasks):
        return False
    told: dict[str, date] = {}
    for one in tasks:
        if one.status is TaskStatus.DONE and one.told_on is not None and one.recipient:
            told[one.recipient] = max(one.told_on, told.get(one.recipient, one.told_on))
    if not told:
        return False
    language = request.language
    mail_requester(
        db_session,
        request,
        EmailKind.RECIPIENTS_TOLD,
        dedup_key=f"recipients-told:{request.id}:{task.id}",
        now=now,
        recipients_told=[
            {"name": recipient_name(recipient, language), "told_on": _written(day, language)}
            for recipient, day in told.items()
        ],
        last_told_on=_written(max(told.values()), language),
    )
    return True


def recipient_name(recipient: str, language: Language) -> str:
    """Return the recipient's name in the map, in `language` (its id when the map is not known)."""
    if has_app_context():
        from dsr.datamap import desk_map

        known = desk_map(current_app.config).recipients.get(recipient)
        if known is not None:
            return known.name.get(language.value)
    return recipient


def _written(day: date, language: Language) -> str:
    return written_date(datetime.combine(day, time(12), tzinfo=UTC), language, UTC)  # a day
