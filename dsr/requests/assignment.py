"""Who works a request: the staff it can be given to, and giving it to one of them.

Like the other staff operations, `assign` flushes, never commits, and does nothing when the
request changed since the acting person saw it; `assign_many` assigns several requests with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from dsr.accounts.models import WORKING_ROLES, StaffUser, shown_name
from dsr.audit.models import record_action
from dsr.languages import N_
from dsr.requests.models import DataRequest
from dsr.requests.refusals import OperationRefused, check_version, flush_change
from dsr.requests.workflow import TERMINAL, Actor

ASSIGN_ACTION = "assigned"


def assignable_staff(*, db_session: Session) -> list[tuple[int, str]]:
    """Return the active staff who work requests, as (id, shown name), by name. Reads the three
    columns it needs, not whole accounts: the queue asks on every page."""
    people = db_session.exec(
        select(col(StaffUser.id), col(StaffUser.name), col(StaffUser.email))
        .where(col(StaffUser.active).is_(True), col(StaffUser.role).in_(WORKING_ROLES))
        .order_by(col(StaffUser.name), col(StaffUser.email))
    ).all()
    return [
        (staff_id, shown_name(name, email))
        for staff_id, name, email in people
        if staff_id is not None
    ]


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
    assignee = _assignee(db_session, assignee_id)
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


def _assignee(db_session: Session, assignee_id: int | None) -> StaffUser | None:
    """Return the member of staff `assignee_id` (None: no one); refuse one who does not work
    requests."""
    if assignee_id is None:
        return None
    assignee = db_session.get(StaffUser, assignee_id)
    if assignee is None or not assignee.active or assignee.role not in WORKING_ROLES:
        raise OperationRefused(N_("Choose a member of staff who works on requests."))
    return assignee


@dataclass(frozen=True, slots=True)
class ManyAssigned:
    """What `assign_many` did: how many requests it assigned, how many were already the
    assignee's, the references of the closed ones it left, and how many it could not find as
    shown (changed meanwhile, or gone)."""

    assigned: int
    already: int
    closed: tuple[str, ...]
    stale: int


def assign_many(
    *,
    db_session: Session,
    shown: Mapping[int, int | None],
    staff_label: str,
    assignee_id: int | None,
    now: datetime,
) -> ManyAssigned:
    """Give each request of `shown` (id: the version the acting person saw) to `assignee_id`
    with `assign`, so each is recorded as one assignment. Closed requests and those no longer
    as shown are left as they are; a refusal of the assignee, or a request changed by another
    transaction while this one writes, raises, and the caller rolls back all of it."""
    _assignee(db_session, assignee_id)
    found = db_session.exec(
        select(DataRequest)
        .where(col(DataRequest.id).in_(list(shown)))
        .order_by(col(DataRequest.id))
    ).all()
    assigned = already = 0
    closed: list[str] = []
    for request in found:
        if request.status in TERMINAL:
            closed.append(request.reference)
        elif request.version_id != shown[request.id or 0]:
            continue
        elif request.assignee_id == assignee_id:
            already += 1
        else:
            assign(
                db_session=db_session,
                request=request,
                version_id=shown[request.id or 0],
                staff_label=staff_label,
                assignee_id=assignee_id,
                now=now,
            )
            assigned += 1
    stale = len(shown) - assigned - already - len(closed)
    return ManyAssigned(assigned=assigned, already=already, closed=tuple(closed), stale=stale)
