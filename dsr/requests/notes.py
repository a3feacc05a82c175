"""Internal notes staff add to a request's audit trail; they are never sent to the requester."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from dsr.audit.models import record_action
from dsr.languages import N_
from dsr.requests.models import DataRequest
from dsr.requests.refusals import OperationRefused
from dsr.requests.workflow import Actor

NOTE_ACTION = "note_added"


def add_note(
    *,
    db_session: Session,
    request: DataRequest,
    staff_label: str,
    note: str,
    now: datetime,
) -> None:
    """Add an internal note to the request's audit trail; it is never sent to the requester.

    Notes do not change the request, so they need no version: two notes never conflict.
    """
    note = (note or "").strip()
    if not note:
        raise OperationRefused(N_("Write the note."))
    record_action(
        db_session=db_session,
        request=request,
        actor=Actor.STAFF,
        actor_label=staff_label,
        action=NOTE_ACTION,
        at=now,
        reason=note,
    )
