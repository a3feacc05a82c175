"""Other identities of a request's subject: a second account under another email address, a
phone number, added by staff once proven, so that the locator finds the rows under each of them.

Stored in plain text, like the requester's address, and deleted with it when the request is
minimised (`dsr.requests.jobs.minimise_closed`). Each addition and removal is audited, with how
the identity was proven; the value itself never goes into the audit's chained part nor a log.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import Text, bindparam
from sqlmodel import Field, Session, SQLModel, col, select

from dsr.addresses import EMAIL_MAX
from dsr.audit.models import record_action
from dsr.db import UTCDateTime
from dsr.i18n import lazy_gettext
from dsr.requests.models import DataRequest
from dsr.requests.refusals import OperationRefused
from dsr.requests.workflow import TERMINAL, Actor
from inventory.model import DataMap, IdentityKind

ADDED_ACTION = "identity_added"
REMOVED_ACTION = "identity_removed"
PROOF_MAX = 2000
ADDABLE_KINDS = (IdentityKind.EMAIL, IdentityKind.PHONE)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9]{6,20}$")


class RequestIdentity(SQLModel, table=True):
    """Another identity of the subject of a request, under one of the map's identities."""

    __tablename__ = "dsr_request_identity"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="dsr_request.id", index=True)
    identity: str = Field(max_length=100)  # the name of an identity of the map
    value: str = Field(max_length=EMAIL_MAX)  # normalised as the map's identity compares it
    proof: str = Field(sa_type=Text)
    added_at: datetime = Field(sa_type=UTCDateTime)
    added_by: str = Field(max_length=200)


def addable_identities(data_map: DataMap) -> Mapping[str, IdentityKind]:
    """The map's identities staff may add to a request: those of kind email or phone."""
    return {
        name: spec.kind for name, spec in data_map.identities.items() if spec.kind in ADDABLE_KINDS
    }


def identities_of(db_session: Session, request_id: int | None) -> list[RequestIdentity]:
    """The other identities of a request, in the order they were added."""
    if request_id is None:
        return []
    return list(db_session.exec(_IDENTITIES, params={"p_request": request_id}).all())


_IDENTITIES = (
    select(RequestIdentity)
    .where(RequestIdentity.request_id == bindparam("p_request"))
    .order_by(col(RequestIdentity.id))
)
"""Built once: every run of a request reads its identities."""


def other_identities(db_session: Session, request_id: int | None) -> tuple[tuple[str, str], ...]:
    """The (identity, value) pairs the locator is given besides the subject's email (read as
    pairs: every run asks, and most requests have none)."""
    if request_id is None:
        return ()
    rows = db_session.execute(_PAIRS, {"p_request": request_id})
    return tuple((str(identity), str(value)) for identity, value in rows)


_PAIRS = (
    select(col(RequestIdentity.identity), col(RequestIdentity.value))
    .where(RequestIdentity.request_id == bindparam("p_request"))
    .order_by(col(RequestIdentity.id))
)


def add_identity(
    *,
    db_session: Session,
    data_map: DataMap,
    request: DataRequest,
    identity: str,
    value: str,
    proof: str,
    staff_label: str,
    now: datetime,
) -> RequestIdentity:
    """Add another identity of the subject, with how it was proven; raise OperationRefused (and
    store nothing) for an identity the map does not declare, a malformed value, a missing proof,
    a duplicate or a closed request."""
    kinds = addable_identities(data_map)
    if identity not in kinds:
        raise OperationRefused(lazy_gettext("Choose one of the identities in the list."))
    if request.status in TERMINAL:
        raise OperationRefused(
            lazy_gettext("This request is closed: no identity can be added to it.")
        )
    proof = (proof or "").strip()
    if not proof:
        raise OperationRefused(lazy_gettext("Say how this identity was proven to be the person's."))
    if len(proof) > PROOF_MAX:
        raise OperationRefused(
            lazy_gettext("Keep how it was proven under %(max)d characters.", max=PROOF_MAX)
        )
    normalized = data_map.identities[identity].normalize(value or "")
    kind = kinds[identity]
    pattern = _EMAIL if kind is IdentityKind.EMAIL else _PHONE
    if len(normalized) > EMAIL_MAX or not pattern.match(normalized):
        if kind is IdentityKind.EMAIL:
            raise OperationRefused(
                lazy_gettext("Enter a valid email address, like name@example.org.")
            )
        raise OperationRefused(lazy_gettext("Enter a phone number: digits, optionally after a +."))
    if kind is IdentityKind.EMAIL and normalized == request.subject_address.strip().lower():
        raise OperationRefused(lazy_gettext("This is already the address the request is made for."))
    if any(
        row.identity == identity and row.value == normalized
        for row in identities_of(db_session, request.id)
    ):
        raise OperationRefused(lazy_gettext("This identity is already added to the request."))
    if request.id is None:
        raise ValueError("the request is not stored yet")
    row = RequestIdentity(
        request_id=request.id,
        identity=identity,
        value=normalized,
        proof=proof,
        added_at=now,
        added_by=staff_label,
    )
    db_session.add(row)
    db_session.flush()
    record_action(
        db_session=db_session,
        request=request,
        actor=Actor.STAFF,
        actor_label=staff_label,
        action=ADDED_ACTION,
        at=now,
        reason=proof,
        details={"identity": identity, "entry": row.id},
    )
    return row


def remove_identity(
    *,
    db_session: Session,
    request: DataRequest,
    identity_id: int,
    staff_label: str,
    now: datetime,
) -> bool:
    """Remove an identity added by mistake; False when the request has no such identity."""
    row = db_session.get(RequestIdentity, identity_id)
    if row is None or row.request_id != request.id:
        return False
    db_session.delete(row)
    record_action(
        db_session=db_session,
        request=request,
        actor=Actor.STAFF,
        actor_label=staff_label,
        action=REMOVED_ACTION,
        at=now,
        details={"identity": row.identity, "entry": identity_id},
    )
    db_session.flush()
    return True


def forget_identities(db_session: Session, request_id: int) -> None:
    """Delete the other identities of a request (its minimisation)."""
    for row in identities_of(db_session, request_id):
        db_session.delete(row)
