"""The stored audit log: append-only, hash-chained events, one global chain (R8).

`record_event` (and `append_fact`, which returns nothing) writes the event of a workflow step in
the caller's transaction, so that the status change and its event are committed together or not
at all. Appends are serialised on the one-row `dsr_audit_head` table, which also keeps the
chain's last hash apart from the events, so that `verify_audit` notices events removed from the
end of the log.

An event's personal content (its reason and the details that are not CHAINED_DETAILS) lives in
`dsr_request_event_content`, beside the chained row that keeps its salted digest: minimising a
closed request deletes it (`remove_content`), the events themselves stay and still verify.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Insert,
    Select,
    Table,
    Text,
    Update,
    bindparam,
    delete,
    event,
    func,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.engine import Connection, Row
from sqlalchemy.orm import relationship
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.selectable import CTE, FromClause
from sqlmodel import Field, Relationship, Session, SQLModel

from dsr.audit.chain import (
    GENESIS,
    ChainAnchor,
    ChainFault,
    ChainReport,
    SealedEvent,
    Tampering,
    append_event,
    canonical_fields,
    chain_hash,
    content_digest,
    content_hash,
    new_salt,
    split_details,
    verify_chain,
)
from dsr.db import UTCDateTime, execute_core, string_enum, table_of
from dsr.requests.models import DataRequest
from dsr.requests.workflow import Actor, AuditFact, Status

ACTOR_LABEL_MAX = 200
VERIFY_BATCH = 1000
CONTENT_REMOVED_ACTION = "content_removed"
"""The event that records the removal of a request's event contents (details: events, cause)."""
RETENTION_CAUSE = "retention"


class AuditChainConflict(RuntimeError):
    """The chain's head moved while this transaction appended to it: retry the transaction."""


class RequestEventContent(SQLModel, table=True):
    """The personal content of one event: deleted when its request is minimised (R32).

    `salt` is random per event and goes with the content: once both are deleted, the digest left
    in the chain cannot confirm a guessed value.
    """

    __tablename__ = "dsr_request_event_content"

    sequence: int = Field(
        primary_key=True,
        foreign_key="dsr_request_event.sequence",
        sa_type=BigInteger,
        sa_column_kwargs={"autoincrement": False},
    )
    salt: str = Field(max_length=32)
    reason: str | None = Field(default=None, sa_type=Text)
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)

    def digest(self) -> str:
        return content_digest(self.salt, {"reason": self.reason, "details": self.details})


class RequestEvent(SQLModel, table=True):
    """One thing that happened, who did it and when; never updated nor deleted.

    The hashed content is `chain_fields()`: the non-personal `facts` and the digest of the
    personal content (`content_digest`, None when the event has none); `content_hash`,
    `previous_hash` and `hash` link the event to the one before it (`dsr.audit.chain`). `reason`
    and `details` read the event as it was written, less its content once removed.
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
    facts: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    content_digest: str | None = Field(default=None, max_length=64)
    content_hash: str = Field(max_length=64)
    previous_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)
    content: RequestEventContent | None = Relationship(
        sa_relationship=relationship(
            "RequestEventContent", uselist=False, lazy="selectin", viewonly=True
        )
    )

    @property
    def reason(self) -> str | None:
        return self.content.reason if self.content is not None else None

    @property
    def details(self) -> dict[str, Any]:
        return {**self.facts, **(self.content.details if self.content is not None else {})}

    @property
    def content_removed(self) -> bool:
        """Whether the event had personal content that minimisation deleted."""
        return self.content_digest is not None and self.content is None

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
            details=self.facts,
            content=self.content_digest,
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
    return record_action(
        db_session=db_session, request=request, **_of_fact(fact, actor_label, details)
    )


def append_fact(
    *,
    db_session: Session,
    request: DataRequest,
    fact: AuditFact,
    actor_label: str | None = None,
    details: Mapping[str, object] | None = None,
) -> None:
    """Append the event of a workflow step as `record_event` does, without building the
    `RequestEvent` it returns: a status change has no use for it, and every run makes two."""
    pending = pending_event(
        db_session=db_session, request=request, **_of_fact(fact, actor_label, details)
    )
    append_pending(db_session, pending)


def _of_fact(
    fact: AuditFact, actor_label: str | None, details: Mapping[str, object] | None
) -> dict[str, Any]:
    """The arguments of `record_action` that say a workflow step's fact."""
    extra = dict(details or {})
    if fact.months is not None:
        extra["months"] = fact.months
    if fact.ground is not None:
        extra["ground"] = fact.ground.value
    return {
        "actor": fact.actor,
        "actor_label": actor_label,
        "action": fact.action.value,
        "at": fact.at,
        "from_status": fact.from_status,
        "to_status": fact.to_status,
        "reason": fact.reason,
        "details": extra,
    }


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

    `reason` and the `details` that are not CHAINED_DETAILS are the event's content, kept apart
    and deleted when the request is minimised; the rest of the event is kept as long as the log.
    """
    pending = pending_event(
        db_session=db_session,
        actor=actor,
        action=action,
        at=at,
        request=request,
        actor_label=actor_label,
        from_status=from_status,
        to_status=to_status,
        reason=reason,
        details=details,
    )
    sealed = append_pending(db_session, pending)
    stored = RequestEvent(
        sequence=sealed.sequence,
        content_hash=sealed.content_hash,
        previous_hash=sealed.previous_hash,
        hash=sealed.hash,
        **pending.fields,
    )
    content_row = None
    if pending.content_fields is not None:
        content_row = RequestEventContent(sequence=sealed.sequence, **pending.content_fields)
    set_committed_value(stored, "content", content_row)  # what a load would find, unloaded
    return stored


def append_action(
    *,
    db_session: Session,
    actor: Actor,
    action: str,
    at: datetime,
    request: DataRequest | None = None,
    details: Mapping[str, object] | None = None,
    to_status: Status | None = None,
) -> None:
    """Append an event as `record_action` does, without building the `RequestEvent` it returns:
    a public submission, the busiest path, has no use for it (issue 17)."""
    pending = pending_event(
        db_session=db_session,
        actor=actor,
        action=action,
        at=at,
        request=request,
        details=details,
        to_status=to_status,
    )
    append_pending(db_session, pending)


def append_pending(db_session: Session, pending: PendingEvent) -> SealedEvent:
    """Append an event made ready by `pending_event`, in the caller's transaction."""
    if db_session.get_bind().dialect.name == "postgresql":
        written = execute_core(
            db_session, chained_append(pending.content_fields is not None), pending.parameters()
        ).one()
        return pending.sealed(written)
    return _append_in_four(db_session, pending)


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """An event made ready to append, before the chain's head is taken: its canonical content
    (what is hashed, and its hash), its chained row's fields, its content row's (None when it has
    no personal content)."""

    content: Mapping[str, object]
    content_hash: str
    fields: dict[str, Any]
    content_fields: dict[str, Any] | None

    def parameters(self) -> dict[str, Any]:
        """The values of `chained_append`'s parameters for this event."""
        return {
            **{f"e_{name}": value for name, value in self.fields.items()},
            "e_content_hash": self.content_hash,
            **{f"c_{name}": value for name, value in (self.content_fields or {}).items()},
        }

    def sealed(self, written: Row[Any]) -> SealedEvent:
        """The event as `chained_append` wrote it (its row: sequence, previous_hash, hash),
        after checking that the database linked it as `chain.py` does."""
        sealed = SealedEvent(
            sequence=written.sequence,
            fields=self.content,
            content_hash=self.content_hash,
            previous_hash=written.previous_hash,
            hash=written.hash,
        )
        if sealed.hash != chain_hash(sealed.previous_hash, self.content_hash):
            raise AuditChainConflict("the database linked the event with another hash")
        return sealed


def pending_event(
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
) -> PendingEvent:
    """Make the event `record_action` appends ready, without taking the chain's head: its
    content canonical and hashed, its personal content digested with a new salt. A request
    not yet written is flushed first (the event names its id)."""
    label = actor_label or ("" if actor is Actor.STAFF else actor.value)
    if not label:
        raise ValueError("an event made by staff names the staff member (actor_label)")
    request_id: int | None = None
    if request is not None:
        if request.id is None:
            db_session.flush()
        request_id = request.id
    facts, personal = split_details(canonical_fields(details or {}))
    salt = new_salt()
    has_content = reason is not None or bool(personal)
    digest = content_digest(salt, {"reason": reason, "details": personal}) if has_content else None
    content = _content(
        request_id=request_id,
        actor_kind=actor,
        actor_label=label,
        action=action,
        from_status=from_status,
        to_status=to_status,
        at=at,
        details=facts,
        content=digest,
    )
    return PendingEvent(
        content=content,
        content_hash=content_hash(content),
        fields={
            "request_id": request_id,
            "actor_kind": actor,
            "actor_label": label,
            "action": action,
            "from_status": from_status,
            "to_status": to_status,
            "at": at,
            "facts": facts,
            "content_digest": digest,
        },
        content_fields=(
            {"salt": salt, "reason": reason, "details": personal} if has_content else None
        ),
    )


def _head(db_session: Session) -> ChainAnchor:
    """Return the chain's head, locked until the transaction ends (SELECT ... FOR UPDATE)."""
    head = db_session.execute(_append_statements().head).one_or_none()
    if head is None:
        raise RuntimeError("the audit log has no head row: run `dsr db upgrade`")
    return ChainAnchor(sequence=head.last_sequence, hash=head.last_hash)


def _append_in_four(db_session: Session, pending: PendingEvent) -> SealedEvent:
    """SQLite and MariaDB: the head locked and read, moved, the event and its content written,
    in Core (an event is never changed once written: the ORM's unit of work bought nothing)."""
    statements = _append_statements()
    anchor = _head(db_session)
    sealed = append_event(anchor, pending.content)
    moved = db_session.execute(
        statements.move, {"was": anchor.sequence, "sequence": sealed.sequence, "hash": sealed.hash}
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise AuditChainConflict("another transaction appended to the audit log meanwhile")
    db_session.execute(
        statements.event,
        {
            "sequence": sealed.sequence,
            "content_hash": sealed.content_hash,
            "previous_hash": sealed.previous_hash,
            "hash": sealed.hash,
            **pending.fields,
        },
    )
    if pending.content_fields is not None:
        db_session.execute(
            statements.content, {"sequence": sealed.sequence, **pending.content_fields}
        )
    return sealed


@cache
def chained_append(with_content: bool, after: tuple[CTE, ...] = ()) -> Select[Any]:
    """PostgreSQL: lock the head, move it, and write the event (and its content) in one
    statement, whose values are `PendingEvent.parameters()`: the database links the event to
    the head it locked (`chain_hash`, in SQL), so nothing is read first and no head is kept
    between appends.

    `after`: CTEs of one row each (other writes of the caller's, in the same statement) that run
    before the head is locked: the head is locked on the rows of a join with them, so the locks
    they take are taken first, as they would be by statements sent before the append, and the
    head is held for the rest of the statement only; their columns follow the event's.

    `WITH moved AS (UPDATE head SET last_sequence = was.last_sequence + 1, last_hash =
    sha256(was.last_hash || ':' || :content_hash) FROM (SELECT ... FOR UPDATE) AS was RETURNING
    the new sequence and hash and the previous hash), written AS (INSERT the event ... FROM moved)
    [, kept AS (INSERT its content ... FROM written)] SELECT sequence, previous_hash, hash FROM
    written`. The locking sub-select returns the head as the last transaction before this one
    left it (PostgreSQL reads a row locked FOR UPDATE at its newest version), so the event is
    linked to it even when the statement waited for another append. Built once; its values are
    parameters, named apart from the columns."""
    heads, events = table_of(AuditHead), table_of(RequestEvent)
    locked = select(heads.c.id, heads.c.last_sequence, heads.c.last_hash)
    if after:
        locked = locked.select_from(_joined(heads, after))
    was = locked.where(heads.c.id == 1).with_for_update(of=heads).subquery("was")
    link = func.encode(
        func.sha256(
            func.convert_to(
                was.c.last_hash + ":" + bindparam("e_content_hash", type_=Text()), "UTF8"
            )
        ),
        "hex",
    )
    moved = (
        update(heads)
        .where(heads.c.id == was.c.id)
        .values(last_sequence=was.c.last_sequence + 1, last_hash=link)
        .returning(
            heads.c.last_sequence.label("sequence"),
            heads.c.last_hash.label("hash"),
            was.c.last_hash.label("previous_hash"),
        )
        .cte("moved")
    )
    from_head = {name: moved.c[name] for name in ("sequence", "previous_hash", "hash")}
    event_values = [
        from_head.get(column.name, bindparam(f"e_{column.name}", type_=column.type))
        for column in events.c
    ]
    written = (
        insert(events)
        .from_select([column.name for column in events.c], select(*event_values))
        .returning(events.c.sequence, events.c.previous_hash, events.c.hash)
        .cte("written")
    )
    result = select(written.c.sequence, written.c.previous_hash, written.c.hash)
    if with_content:
        contents = table_of(RequestEventContent)
        content_values = [
            written.c.sequence
            if column.name == "sequence"
            else bindparam(f"c_{column.name}", type_=column.type)
            for column in contents.c
        ]
        kept = (
            insert(contents)
            .from_select(
                [column.name for column in contents.c],
                select(*content_values).select_from(written),
            )
            .cte("kept")
        )
        result = result.add_cte(kept)
    if after:
        result = result.add_columns(*(column for cte in after for column in cte.c))
        result = result.select_from(_joined(written, after))
    return result


def _joined(first: FromClause, others: tuple[CTE, ...]) -> FromClause:
    """`first JOIN other ON true ...`: rows of one each, joined without a condition."""
    joined = first
    for other in others:
        joined = joined.join(other, true())
    return joined


@dataclass(frozen=True, slots=True)
class _AppendStatements:
    """The statements of an append, built once: the head locked, moved, the rows written."""

    head: Select[Any]
    move: Update
    event: Insert
    content: Insert


@cache
def _append_statements() -> _AppendStatements:
    head = table_of(AuditHead)
    return _AppendStatements(
        head=select(head.c.last_sequence, head.c.last_hash).where(head.c.id == 1).with_for_update(),
        move=update(head)
        .where(head.c.id == 1, head.c.last_sequence == bindparam("was"))
        .values(last_sequence=bindparam("sequence"), last_hash=bindparam("hash")),
        event=insert(table_of(RequestEvent)),
        content=insert(table_of(RequestEventContent)),
    )


def remove_content(
    *, db_session: Session, request: DataRequest, at: datetime, cause: str = RETENTION_CAUSE
) -> int:
    """Delete the personal content of the request's events and record how many were removed, in
    the caller's transaction; the events and their digests stay, so the chain still verifies."""
    db_session.flush()
    events, contents = table_of(RequestEvent), table_of(RequestEventContent)
    removed = db_session.execute(
        delete(contents).where(
            contents.c.sequence.in_(
                select(events.c.sequence).where(events.c.request_id == request.id)
            )
        )
    ).rowcount  # type: ignore[attr-defined]
    if removed:
        db_session.expire_all()
        record_action(
            db_session=db_session,
            request=request,
            actor=Actor.SYSTEM,
            action=CONTENT_REMOVED_ACTION,
            at=at,
            details={"events": removed, "cause": cause},
        )
    return int(removed)


@dataclass(frozen=True, slots=True)
class ContentRemoval:
    """When and why the content of a request's events was removed."""

    at: datetime
    cause: str
    sequence: int


def content_removals(
    *, db_session: Session, request_ids: Collection[int] | None = None
) -> dict[int, ContentRemoval]:
    """Return, per request, the event that removed its events' content (all requests if None)."""
    events = table_of(RequestEvent)
    statement = select(events.c.request_id, events.c.sequence, events.c.at, events.c.facts).where(
        events.c.action == CONTENT_REMOVED_ACTION, events.c.request_id.is_not(None)
    )
    if request_ids is not None:
        if not request_ids:
            return {}
        statement = statement.where(events.c.request_id.in_(list(request_ids)))
    removals: dict[int, ContentRemoval] = {}
    for row in db_session.execute(statement.order_by(events.c.sequence)):
        cause = str((row.facts or {}).get("cause") or RETENTION_CAUSE)
        removals.setdefault(row.request_id, ContentRemoval(row.at, cause, row.sequence))
    return removals


@dataclass(frozen=True, slots=True)
class _StoredEvent:
    sequence: int
    fields: Mapping[str, object]
    content_hash: str
    previous_hash: str
    hash: str
    request_id: int | None
    digest: str | None
    content: RequestEventContent | None


def _stored_events(rows: Iterable[Row[Any]]) -> Iterator[_StoredEvent]:
    for row in rows:
        content = None
        if row.salt is not None:
            content = RequestEventContent(
                sequence=row.sequence, salt=row.salt, reason=row.reason, details=row.details
            )
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
                details=row.facts,
                content=row.content_digest,
            ),
            content_hash=row.content_hash,
            previous_hash=row.previous_hash,
            hash=row.hash,
            request_id=row.request_id,
            digest=row.content_digest,
            content=content,
        )


class _ContentCheck:
    """Check each event's content against the digest its chained row keeps; count the contents
    removed by a recorded minimisation and report any other that is missing."""

    def __init__(self, removals: Mapping[int, ContentRemoval]) -> None:
        self.removals = removals
        self.removed = 0

    def __call__(self, event: _StoredEvent) -> ChainFault | None:
        number = event.sequence
        if event.content is not None and event.content.digest() != event.digest:
            return ChainFault(
                number,
                Tampering.EDITED,
                f"The content of event #{number} was edited after it was written: it no longer "
                "matches the digest in the chain.",
            )
        if event.content is None and event.digest is not None:
            removal = self.removals.get(event.request_id or 0)
            if removal is None or removal.sequence < number:
                return ChainFault(
                    number,
                    Tampering.REMOVED,
                    f"The content of event #{number} was deleted, but no minimisation of its "
                    "request records it.",
                )
            self.removed += 1
        return None


def verify_audit(*, db_session: Session, anchor: ChainAnchor | None = None) -> ChainReport:
    """Check the whole stored log against its hashes and its recorded head, and that it still
    holds `anchor` (exported earlier, dsr.audit.anchor) if given; report the first event that was
    edited, removed, inserted or reordered."""
    head_table = table_of(AuditHead)
    head_row = db_session.execute(
        select(head_table.c.last_sequence, head_table.c.last_hash).where(head_table.c.id == 1)
    ).one_or_none()
    head = None if head_row is None else ChainAnchor(head_row.last_sequence, head_row.last_hash)
    events, contents = table_of(RequestEvent), table_of(RequestEventContent)
    check = _ContentCheck(content_removals(db_session=db_session))
    rows = db_session.execute(
        select(events, contents.c.salt, contents.c.reason, contents.c.details)
        .outerjoin(contents, contents.c.sequence == events.c.sequence)
        .order_by(events.c.sequence)
        .execution_options(yield_per=VERIFY_BATCH)
    )
    try:
        report = verify_chain(_stored_events(rows), head=head, through=anchor, check=check)
    finally:
        rows.close()  # the check may stop at the first fault, before the last row
    report = replace(report, contents_removed=check.removed)
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
