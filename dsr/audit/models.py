"""The stored audit log: append-only, hash-chained events, one global chain (R8).

`record_event` writes the event of a workflow step in the caller's transaction, so that the
status change and its event are committed together or not at all. Appends are serialised on the
one-row `dsr_audit_head` table, which also keeps the chain's last hash apart from the events, so
that `verify_audit` notices events removed from the end of the log.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Table,
    Text,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, Row
from sqlmodel import Field, Session, SQLModel

from dsr.audit.chain import (
    GENESIS,
    ChainAnchor,
    ChainFault,
    ChainReport,
    Tampering,
    append_event,
    canonical_fields,
    verify_chain,
)
from dsr.db import UTCDateTime, string_enum, table_of
from dsr.requests.models import DataRequest
from dsr.requests.workflow import Actor, AuditFact, Status

ACTOR_LABEL_MAX = 200
VERIFY_BATCH = 1000


class AuditChainConflict(RuntimeError):
    """The chain's head moved while this transaction appended to it: retry the transaction."""


class RequestEvent(SQLModel, table=True):
    """One thing that happened, who did it and when; never updated nor deleted.

    The hashed content is `chain_fields()`; `content_hash`, `previous_hash` and `hash` link the
    event to the one before it (`dsr.audit.chain`).
    """

    __tablename__ = "dsr_request_event"

    sequence: int = Field(
        primary_key=True, sa_type=BigInteger, sa_column_kwargs={"autoincrement": False}
    )
    request_id: int | None = Field(default=None, foreign_key="dsr_request.id", index=True)
    actor_kind: Actor = Field(sa_type=string_enum(Actor, "actor_kind"))
    actor_label: str = Field(max_length=ACTOR_LABEL_MAX)
    action: str = Field(max_length=64)
    from_status: Status | None = Field(default=None, sa_type=string_enum(Status, "from_status"))
    to_status: Status | None = Field(default=None, sa_type=string_enum(Status, "to_status"))
    at: datetime = Field(sa_type=UTCDateTime, index=True)
    reason: str | None = Field(default=None, sa_type=Text)
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    content_hash: str = Field(max_length=64)
    previous_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)

    def chain_fields(self) -> dict[str, object]:
        """Return the content the event's hash covers, as it was when the event was sealed."""
        return _content(
            request_id=self.request_id,
            actor_kind=self.actor_kind,
            actor_label=self.actor_label,
            action=self.action,
            from_status=self.from_status,
            to_status=self.to_status,
            at=self.at,
            reason=self.reason,
            details=self.details,
        )


class AuditHead(SQLModel, table=True):
    """The last event of the chain; its single row is locked by every append."""

    __tablename__ = "dsr_audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: int = Field(default=1, primary_key=True, sa_column_kwargs={"autoincrement": False})
    last_sequence: int = Field(default=0, sa_type=BigInteger)
    last_hash: str = Field(default=GENESIS, max_length=64)


GENESIS_HEAD = {"id": 1, "last_sequence": 0, "last_hash": GENESIS}
"""The head of an empty log; the first migration inserts it."""


def _insert_genesis_head(target: Table, connection: Connection, **_kw: Any) -> None:
    connection.execute(insert(target).values(GENESIS_HEAD))


# A store built with `create_all` (not through the migrations) starts with its head too.
event.listen(table_of(AuditHead), "after_create", _insert_genesis_head)


def _content(**fields: object) -> dict[str, object]:
    return canonical_fields(fields)


def record_event(
    *,
    db_session: Session,
    request: DataRequest,
    fact: AuditFact,
    actor_label: str | None = None,
    details: Mapping[str, object] | None = None,
) -> RequestEvent:
    """Append the event of a workflow step on `request` to the log, in the caller's transaction.

    `actor_label` says who exactly acted (a staff member's login; "requester" or "system" by
    default for those). An extension's months and ground go into `details`.
    """
    extra = dict(details or {})
    if fact.months is not None:
        extra["months"] = fact.months
    if fact.ground is not None:
        extra["ground"] = fact.ground.value
    return record_action(
        db_session=db_session,
        request=request,
        actor=fact.actor,
        actor_label=actor_label,
        action=fact.action.value,
        at=fact.at,
        from_status=fact.from_status,
        to_status=fact.to_status,
        reason=fact.reason,
        details=extra,
    )


def record_action(
    *,
    db_session: Session,
    actor: Actor,
    action: str,
    at: datetime,
    request: DataRequest | None = None,
    actor_label: str | None = None,
    from_status: Status | None = None,
    to_status: Status | None = None,
    reason: str | None = None,
    details: Mapping[str, object] | None = None,
) -> RequestEvent:
    """Append an event that is not a status change (an email sent, an erasure applied...).

    Never put personal data in `details` or `reason` that must later be minimised: events are
    never edited, so whatever they hold is kept as long as the log.
    """
    label = actor_label or ("" if actor is Actor.STAFF else actor.value)
    if not label:
        raise ValueError("an event made by staff names the staff member (actor_label)")
    request_id: int | None = None
    if request is not None:
        if request.id is None:
            db_session.flush()
        request_id = request.id
    content = _content(
        request_id=request_id,
        actor_kind=actor,
        actor_label=label,
        action=action,
        from_status=from_status,
        to_status=to_status,
        at=at,
        reason=reason,
        details=dict(details or {}),
    )
    head_table = table_of(AuditHead)
    head = db_session.execute(
        select(head_table.c.last_sequence, head_table.c.last_hash)
        .where(head_table.c.id == 1)
        .with_for_update()
    ).one_or_none()
    if head is None:
        raise RuntimeError("the audit log has no head row: run `dsr db upgrade`")
    sealed = append_event(ChainAnchor(sequence=head.last_sequence, hash=head.last_hash), content)
    moved = db_session.execute(
        update(head_table)
        .where(head_table.c.id == 1, head_table.c.last_sequence == head.last_sequence)
        .values(last_sequence=sealed.sequence, last_hash=sealed.hash)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise AuditChainConflict("another transaction appended to the audit log meanwhile")
    stored = RequestEvent(
        sequence=sealed.sequence,
        request_id=request_id,
        actor_kind=actor,
        actor_label=label,
        action=action,
        from_status=from_status,
        to_status=to_status,
        at=at,
        reason=reason,
        details=dict(content["details"]),  # type: ignore[call-overload]
        content_hash=sealed.content_hash,
        previous_hash=sealed.previous_hash,
        hash=sealed.hash,
    )
    db_session.add(stored)
    db_session.flush()
    return stored


@dataclass(frozen=True, slots=True)
class _StoredEvent:
    sequence: int
    fields: Mapping[str, object]
    content_hash: str
    previous_hash: str
    hash: str


def _stored_events(rows: Iterable[Row[Any]]) -> Iterator[_StoredEvent]:
    for row in rows:
        yield _StoredEvent(
            sequence=row.sequence,
            fields=_content(
                request_id=row.request_id,
                actor_kind=row.actor_kind,
                actor_label=row.actor_label,
                action=row.action,
                from_status=row.from_status,
                to_status=row.to_status,
                at=row.at,
                reason=row.reason,
                details=row.details,
            ),
            content_hash=row.content_hash,
            previous_hash=row.previous_hash,
            hash=row.hash,
        )


def verify_audit(*, db_session: Session) -> ChainReport:
    """Check the whole stored log against its hashes and its recorded head; report the first
    event that was edited, removed, inserted or reordered."""
    head_table = table_of(AuditHead)
    head_row = db_session.execute(
        select(head_table.c.last_sequence, head_table.c.last_hash).where(head_table.c.id == 1)
    ).one_or_none()
    head = None if head_row is None else ChainAnchor(head_row.last_sequence, head_row.last_hash)
    events = table_of(RequestEvent)
    rows = db_session.execute(
        select(events).order_by(events.c.sequence).execution_options(yield_per=VERIFY_BATCH)
    )
    try:
        report = verify_chain(_stored_events(rows), head=head)
    finally:
        rows.close()  # the check may stop at the first fault, before the last row
    if head is None and report.ok and report.events_checked:
        return ChainReport(
            events_checked=report.events_checked,
            fault=ChainFault(
                sequence=report.events_checked,
                tampering=Tampering.REMOVED,
                message="The record of the end of the audit log was removed: events may be "
                "missing from its end.",
            ),
        )
    return report
