"""Who works a request: the staff it can be given to, and giving it to one of them.

Like the other staff operations, `assign` flushes, never commits, and does nothing when the
request changed since the acting person saw it.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from dsr.accounts.models import WORKING_ROLES, StaffUser
from dsr.audit.models import record_action
from dsr.requests.models import DataRequest
from dsr.requests.refusals import OperationRefused, check_version, flush_change
from dsr.requests.workflow import Actor

ASSIGN_ACTION = "assigned"


def assignable_staff(*, db_session: Session) -> list[tuple[int, str]]:
    """Return the active staff who work requests, as (id, shown name), by name."""
    people = db_session.exec(
        select(StaffUser)
        .where(col(StaffUser.active).is_(True), col(StaffUser.role).in_(WORKING_ROLES))
        .order_by(col(StaffUser.name), col(StaffUser.email))
    ).all()
    return [(person.id, person.shown_name) for person in people if person.id is not None]


def assign(
    *,
    db_session: Session,
    request: DataRequest,
    version_id: int | None,
    staff_label: str,
    assignee_id: int | None,
    now: datetime,
) -> None:
    """Give the request to an active member of staff who works requests, or to no one."""
    check_version(request, version_id)
    assignee: StaffUser | None = None
    if assignee_id is not None:
        assignee = db_session.get(StaffUser, assignee_id)
        if assignee is None or not assignee.active or assignee.role not in WORKING_ROLES:
            raise OperationRefused("Choose a member of staff who works on requests.")
    if request.assignee_id == assignee_id:
        return
    request.assignee_id = assignee_id
    flush_change(db_session)
    record_action(
        db_session=db_session,
        request=request,
        actor=Actor.STAFF,
        actor_label=staff_label,
        action=ASSIGN_ACTION,
        at=now,
        details={"assignee": assignee.email if assignee is not None else None},
    )
