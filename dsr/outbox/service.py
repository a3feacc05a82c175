"""Queue emails with what causes them, and deliver the due ones with retries.

`enqueue` only adds a row in the caller's transaction: the email exists if and only if what caused
it was committed. `deliver_due` then sends each due message in its own short transactions: it
claims the message (a lease in `claimed_until`, so two senders never send the same one), talks to
the SMTP server outside any transaction, and records the outcome. Logs name messages by id only.

Other packages learn of a delivery through `on_delivered`: their listeners run in the transaction
that marks the message sent, once per message (a message already marked sent is not again).
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import Executable, Update, bindparam, or_, update
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from dsr.db import (
    claim_row,
    insert_as_written,
    insert_unless_taken,
    keep_as_written,
    new_row,
    new_row_values,
    table_of,
)
from dsr.languages import Language
from dsr.outbox.compose import compose_email, compose_email_bytes
from dsr.outbox.emails import RenderedEmail
from dsr.outbox.models import LAST_ERROR_MAX, OutboxMessage, OutboxStatus, new_message_id
from dsr.outbox.smtp import (
    MAX_ATTEMPTS,
    DeliveryError,
    PermanentDeliveryError,
    SmtpConnection,
    SmtpSettings,
    TransientDeliveryError,
    next_attempt_delay,
)

log = logging.getLogger(__name__)

DEFAULT_MESSAGE_ID_DOMAIN = "privacy-desk.localhost"
SHORTEST_LEASE = timedelta(minutes=5)

SessionFactory = Callable[[], Session]
Composed = TypeVar("Composed")
LISTENER_TRIES = 3
"""How many times the transaction that records a delivery is tried with its listeners."""
CLAIM_BATCH = 10
"""How many due messages one claim takes at most (where the store claims several at once);
the ones not yet tried when half their lease has gone are given back."""


@dataclass(frozen=True, slots=True)
class DeliveredEmail:
    """A message the SMTP server accepted, as its listeners see it."""

    id: int
    request_id: int | None
    answers_request_id: int | None
    sent_at: datetime


DeliveryListener = Callable[[Session, DeliveredEmail], None]
_DELIVERY_LISTENERS: list[DeliveryListener] = []


def on_delivered(listener: DeliveryListener) -> DeliveryListener:
    """Call `listener` in the transaction that marks each delivered message sent (registering the
    same listener twice calls it once); return it, so that it can be used as a decorator."""
    if listener not in _DELIVERY_LISTENERS:
        _DELIVERY_LISTENERS.append(listener)
    return listener


def enqueue(
    *,
    db_session: Session,
    to: str,
    email: RenderedEmail,
    language: Language,
    dedup_key: str | None,
    now: datetime,
    request_id: int | None = None,
    answers_request: bool = False,
    message_id_domain: str = DEFAULT_MESSAGE_ID_DOMAIN,
    new_key: bool = False,
) -> OutboxMessage:
    """Queue one email, due at `now`, in the caller's transaction (flushed, not committed);
    `answers_request` marks it as the answer to the request `request_id`.

    A second call with the same `dedup_key` returns the message already queued and adds nothing.
    `new_key`: the caller made `dedup_key` unique (a fresh random nonce in it), so no message
    can hold it yet: nothing is looked up and no savepoint taken, and the message is added to
    the session for the caller's next flush (which may still change it) instead of flushed, or
    for `write_queued` to write once the caller is done changing it.
    """
    if answers_request and request_id is None:
        raise ValueError("an email that answers a request names the request")
    dialect = db_session.get_bind().dialect.name
    statement = insert_unless_taken(dialect, OutboxMessage, "dedup_key")
    if dedup_key is not None and not new_key and statement is None:
        queued = _by_dedup_key(db_session, dedup_key)
        if queued is not None:
            return queued
    message = new_row(
        OutboxMessage,
        message_id=new_message_id(message_id_domain),
        dedup_key=dedup_key,
        request_id=request_id,
        answers_request_id=request_id if answers_request else None,
        to_address=to.strip(),
        subject=email.subject,
        text_body=email.text,
        html_body=email.html,
        language=Language(language),
        next_attempt_at=now,
        created_at=now,
    )
    if new_key:
        db_session.add(message)
        return message
    if dedup_key is not None and statement is not None:
        # One statement: the message is added unless a twin holds the key (queued before, or
        # by a concurrent transaction: then it is read and returned); the ORM's look-up,
        # savepoint and flush cost more. A twin waiting in the session is written first.
        if any(isinstance(pending, OutboxMessage) for pending in db_session.new):
            db_session.flush()
        added = db_session.execute(statement, new_row_values(message)).first()
        if added is None:
            queued = _by_dedup_key(db_session, dedup_key)
            if queued is None:  # under read committed, a key held is a key readable
                raise RuntimeError("an email's dedup key is held by a message not readable")
            return queued
        keep_as_written(db_session, message, added.id)
        return message
    try:
        with db_session.begin_nested():  # a concurrent twin may win the dedup key
            db_session.add(message)
    except IntegrityError:
        queued = _by_dedup_key(db_session, dedup_key) if dedup_key is not None else None
        if queued is None:
            raise
        return queued
    return message


def send_again(*, db_session: Session, message: OutboxMessage, now: datetime) -> OutboxMessage:
    """Queue a copy of `message`, which failed for good, due at `now`: the same reader, words,
    links and cause, a new Message-ID. A second call for the same message returns the copy
    already queued. Raise ValueError when `message` did not fail for good."""
    if message.status is not OutboxStatus.FAILED or message.id is None:
        raise ValueError("only a message that failed for good is sent again")
    dedup_key = f"again:{message.id}"
    queued = _by_dedup_key(db_session, dedup_key)
    if queued is not None:
        return queued
    copy = OutboxMessage(
        message_id=new_message_id(message.message_id.strip("<>").rpartition("@")[2]),
        dedup_key=dedup_key,
        request_id=message.request_id,
        answers_request_id=message.answers_request_id,
        to_address=message.to_address,
        subject=message.subject,
        text_body=message.text_body,
        html_body=message.html_body,
        language=message.language,
        next_attempt_at=now,
        created_at=now,
    )
    db_session.add(copy)
    db_session.flush()
    return copy


def write_queued(db_session: Session, message: OutboxMessage) -> None:
    """Write now, in one INSERT, a message that `enqueue(new_key=True)` left pending for the
    session's next flush, once its caller has finished changing it: the ORM's unit of work cost
    more CPU than the statement for every public submission (issue 17)."""
    if message not in db_session.new:
        raise RuntimeError("only a message queued with a new key and not yet flushed is written")
    db_session.expunge(message)
    insert_as_written(db_session, message)


def _by_dedup_key(db_session: Session, dedup_key: str) -> OutboxMessage | None:
    return db_session.exec(
        select(OutboxMessage).where(OutboxMessage.dedup_key == dedup_key)
    ).one_or_none()


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What one delivery run did: messages sent, rescheduled, and given up."""

    sent: int = 0
    retried: int = 0
    failed: int = 0

    @property
    def attempted(self) -> int:
        return self.sent + self.retried + self.failed


@dataclass(frozen=True, slots=True)
class _Claimed:
    """A message this sender holds the lease of, read before leaving the transaction."""

    id: int
    message_id: str
    request_id: int | None
    answers_request_id: int | None
    to: str
    subject: str
    text: str
    html: str | None
    language: Language
    attempts: int


def claim_lease(settings: SmtpSettings) -> timedelta:
    """Return how long a claim lasts: longer than one delivery can take, so it is never reclaimed
    while its sender still talks to the server."""
    return max(SHORTEST_LEASE, timedelta(seconds=settings.timeout * 10))


def deliver_due(
    *,
    engine_or_session_factory: Engine | SessionFactory,
    settings: SmtpSettings,
    now: datetime,
    limit: int = 100,
    ssl_context: ssl.SSLContext | None = None,
    smtp: SmtpConnection | None = None,
) -> DeliveryReport:
    """Send up to `limit` messages due at `now`, oldest first, committing after each one.

    A transient failure reschedules the message with `next_attempt_delay`; a permanent one, or the
    MAX_ATTEMPTS-th failure, fails it for good. One bad message never stops the run.
    `smtp`: a connection the caller keeps across runs (a worker delivering run after run), else
    one is opened for this run. Given an engine, the run holds one of its connections (taken
    from the pool once, not once per statement's transaction).
    """
    started = time.monotonic()

    def clock() -> datetime:
        return now + timedelta(seconds=time.monotonic() - started)

    lease = claim_lease(settings)
    tried: list[int] = []
    sent = retried = failed = 0
    with (
        _run_store(engine_or_session_factory) as store,
        nullcontext(smtp)
        if smtp is not None
        else SmtpConnection(settings, ssl_context=ssl_context) as connection,
    ):
        more = True
        while more and len(tried) < limit:
            taken_at = clock()
            claims = _claim_some(
                store,
                at=taken_at,
                lease=lease,
                skip=tried,
                count=min(CLAIM_BATCH, limit - len(tried)),
            )
            more = claims.more_may_be_due
            for index, claimed in enumerate(claims.messages):
                if clock() - taken_at > lease / 2:  # give the rest back while the lease holds
                    _release(store, claims.messages[index:], until=taken_at + lease)
                    more = True
                    break
                tried.append(claimed.id)
                error = _attempt(claimed, settings, connection, at=clock())
                outcome = _record(store, claimed, error, at=clock())
                if outcome is OutboxStatus.SENT:
                    sent += 1
                elif outcome is OutboxStatus.PENDING:
                    retried += 1
                else:
                    failed += 1
    return DeliveryReport(sent=sent, retried=retried, failed=failed)


@dataclass(frozen=True, slots=True)
class _RunStore:
    """Where a run reads and writes: sessions from `new_session` and, given an engine, the one
    connection held for the run, on which the statements that need no session (a claim, a
    release, a failure recorded) run in Core, without a session's unit of work and events,
    which cost more CPU than the statement (issue 17)."""

    new_session: SessionFactory
    connection: Connection | None = None

    def committed(
        self, statement: Executable, parameters: Mapping[str, object], *, returning: bool = False
    ) -> list[Row[Any]]:
        """Run `statement` in a transaction of its own and commit it; return its rows
        (`returning`: it has a RETURNING clause), else none."""
        if self.connection is None:
            with self.new_session() as session:
                result = session.execute(statement, parameters)
                rows = list(result.all()) if returning else []
                session.commit()
                return rows
        try:
            found = self.connection.execute(statement, parameters)
            rows = list(found.all()) if returning else []
            self.connection.commit()
        except BaseException:
            self.connection.rollback()
            raise
        return rows

    def update_returning(self) -> bool:
        """Tell whether the store has UPDATE ... RETURNING."""
        if self.connection is not None:
            return bool(self.connection.dialect.update_returning)
        with self.new_session() as session:
            return bool(session.get_bind().dialect.update_returning)


@contextmanager
def _run_store(source: Engine | SessionFactory) -> Iterator[_RunStore]:
    """Yield the store of a run: on an engine, one connection held for the run, and sessions on
    it (each commit ends its transaction; the connection idles between them)."""
    if not isinstance(source, Engine):
        yield _RunStore(source)
        return
    with source.connect() as connection:
        yield _RunStore(lambda: Session(bind=connection, expire_on_commit=False), connection)


@dataclass(frozen=True, slots=True)
class _Claims:
    """The messages one claim took, oldest first; `more_may_be_due`: it took as many as it could,
    so others may be waiting."""

    messages: list[_Claimed]
    more_may_be_due: bool


def _claim_some(
    store: _RunStore, *, at: datetime, lease: timedelta, skip: list[int], count: int
) -> _Claims:
    """Take the lease of up to `count` of the oldest due messages nobody holds (in one statement
    where the store has UPDATE ... RETURNING, else one message)."""
    if store.update_returning():
        taken = _claim_in_one_statement(store, at=at, lease=lease, skip=skip, count=count)
        return _Claims(taken, more_may_be_due=len(taken) == count)
    claimed = _claim_next(store.new_session, at=at, lease=lease, skip=skip)
    return _Claims([claimed] if claimed else [], more_may_be_due=claimed is not None)


def _release(store: _RunStore, claims: list[_Claimed], *, until: datetime) -> None:
    """Give back the claims of messages not tried (still held with the lease ending `until`)."""
    messages = table_of(OutboxMessage)
    store.committed(
        update(messages)
        .where(
            messages.c.id.in_([claimed.id for claimed in claims]),
            messages.c.status == OutboxStatus.PENDING,
            messages.c.claimed_until == until,
        )
        .values(claimed_until=None),
        {},
    )


def _claim_next(
    new_session: SessionFactory, *, at: datetime, lease: timedelta, skip: list[int]
) -> _Claimed | None:
    """Take the lease of the oldest due message nobody holds; None when there is none left.

    The claim is a conditional UPDATE: of two senders racing for a message, one changes the row
    and the other changes nothing and moves on to the next message.
    """
    messages = table_of(OutboxMessage)
    free = or_(messages.c.claimed_until.is_(None), messages.c.claimed_until <= at)
    with new_session() as session:
        while True:
            candidate = session.exec(
                select(OutboxMessage)
                .where(
                    OutboxMessage.status == OutboxStatus.PENDING,
                    col(OutboxMessage.next_attempt_at) <= at,
                    or_(
                        col(OutboxMessage.claimed_until).is_(None),
                        col(OutboxMessage.claimed_until) <= at,
                    ),
                    col(OutboxMessage.id).not_in(skip),
                )
                .order_by(col(OutboxMessage.next_attempt_at), col(OutboxMessage.id))
                .limit(1)
            ).one_or_none()
            if candidate is None or candidate.id is None:
                session.rollback()
                return None
            claimed = _Claimed(
                id=candidate.id,
                message_id=candidate.message_id,
                request_id=candidate.request_id,
                answers_request_id=candidate.answers_request_id,
                to=candidate.to_address,
                subject=candidate.subject,
                text=candidate.text_body,
                html=candidate.html_body,
                language=candidate.language,
                attempts=candidate.attempts,
            )
            if claim_row(
                session,
                messages,
                claimed.id,
                pending=OutboxStatus.PENDING,
                free=free,
                until=at + lease,
            ):
                return claimed
            session.expunge_all()  # another sender took it: look again


_CLAIMED_COLUMNS = (
    "id",
    "message_id",
    "request_id",
    "answers_request_id",
    "to_address",
    "subject",
    "text_body",
    "html_body",
    "language",
    "attempts",
    "next_attempt_at",
)


@cache
def _claim_statement(skipping: bool) -> Update:
    """UPDATE the `count` oldest due messages nobody holds, found by its subquery, RETURNING
    them: the claim in one statement where the store can (PostgreSQL, SQLite). The subquery
    skips rows another sender has locked (PostgreSQL), and the UPDATE checks again that each row
    is pending and free: a message taken meanwhile is changed by one sender only."""
    messages = table_of(OutboxMessage)
    at = bindparam("at", type_=messages.c.next_attempt_at.type)
    free = or_(messages.c.claimed_until.is_(None), messages.c.claimed_until <= at)
    pending = messages.c.status == OutboxStatus.PENDING
    oldest = (
        select(messages.c.id)
        .where(pending, messages.c.next_attempt_at <= at, free)
        .order_by(messages.c.next_attempt_at, messages.c.id)
        .limit(bindparam("count"))
        .with_for_update(skip_locked=True)
    )
    if skipping:
        oldest = oldest.where(messages.c.id.not_in(bindparam("skip", expanding=True)))
    return (
        update(messages)
        .where(messages.c.id.in_(oldest.scalar_subquery()), pending, free)
        .values(claimed_until=bindparam("until", type_=messages.c.claimed_until.type))
        .returning(*(messages.c[name] for name in _CLAIMED_COLUMNS))
    )


def _claim_in_one_statement(
    store: _RunStore, *, at: datetime, lease: timedelta, skip: list[int], count: int
) -> list[_Claimed]:
    parameters: dict[str, object] = {"at": at, "until": at + lease, "count": count}
    if skip:
        parameters["skip"] = skip
    rows = store.committed(_claim_statement(bool(skip)), parameters, returning=True)
    return [
        _Claimed(
            id=row.id,
            message_id=row.message_id,
            request_id=row.request_id,
            answers_request_id=row.answers_request_id,
            to=row.to_address,
            subject=row.subject,
            text=row.text_body,
            html=row.html_body,
            language=Language(row.language),
            attempts=row.attempts,
        )
        for row in sorted(rows, key=lambda row: (row.next_attempt_at, row.id))
    ]


def _attempt(
    claimed: _Claimed, settings: SmtpSettings, connection: SmtpConnection, *, at: datetime
) -> DeliveryError | None:
    """Send one message; return why it was not delivered, or None once the server accepted it."""
    try:
        message = _composed(claimed, settings, at=at)
        if isinstance(message, bytes):
            connection.send_flat(message, recipient=claimed.to.strip())
        else:
            connection.send(message)
    except DeliveryError as error:
        return error
    except ValueError as error:  # compose_email's messages name the header, never its value
        return PermanentDeliveryError(f"cannot be sent: {error}")
    except Exception as error:  # one broken message must not stop the others
        return TransientDeliveryError(f"unexpected {type(error).__name__}")
    return None


def _composed(claimed: _Claimed, settings: SmtpSettings, *, at: datetime) -> bytes | EmailMessage:
    """Return the message of `claimed`: its bytes, written directly, or the email package's
    message where compose_email_bytes leaves it to it (an address beyond plain ASCII)."""

    def compose(composer: Callable[..., Composed]) -> Composed:
        return composer(
            sender=settings.sender,
            to=claimed.to,
            subject=claimed.subject,
            text=claimed.text,
            html=claimed.html,
            message_id_domain=DEFAULT_MESSAGE_ID_DOMAIN,
            message_id=claimed.message_id,
            date=at,
            language=claimed.language.value,
        )

    flat = compose(compose_email_bytes)
    return flat if flat is not None else compose(compose_email)


def _record(
    store: _RunStore, claimed: _Claimed, error: DeliveryError | None, *, at: datetime
) -> OutboxStatus:
    """Write down the outcome of one attempt and release the claim; return the new status."""
    attempts = claimed.attempts + 1
    values: dict[str, object] = {"attempts": attempts, "claimed_until": None}
    if error is None:
        status = OutboxStatus.SENT
        log.info("outbox message %d sent (attempt %d)", claimed.id, attempts)
    elif isinstance(error, PermanentDeliveryError) or attempts >= MAX_ATTEMPTS:
        status = OutboxStatus.FAILED
        values.update(status=status, last_error=error.reason[:LAST_ERROR_MAX])
        log.error(
            "outbox message %d failed for good after %d attempt(s): %s",
            claimed.id,
            attempts,
            error.reason,
        )
    else:
        status = OutboxStatus.PENDING
        retry_at = at + next_attempt_delay(attempts)
        values.update(next_attempt_at=retry_at, last_error=error.reason[:LAST_ERROR_MAX])
        log.warning(
            "outbox message %d not sent (attempt %d): %s; next attempt at %s",
            claimed.id,
            attempts,
            error.reason,
            retry_at.isoformat(timespec="seconds"),
        )
    if status is OutboxStatus.SENT:
        _record_sent(store.new_session, claimed, attempts=attempts, at=at)
        return status
    messages = table_of(OutboxMessage)
    store.committed(update(messages).where(messages.c.id == claimed.id).values(**values), {})
    return status


@cache
def _mark_sent_statement() -> Update:
    """UPDATE a message still pending to sent, releasing its claim: built once, as the statement
    of every delivered message (building and compiling it per message cost more than running it)."""
    messages = table_of(OutboxMessage)
    return (
        update(messages)
        .where(
            messages.c.id == bindparam("message"),
            messages.c.status == OutboxStatus.PENDING.value,
        )
        .values(
            status=OutboxStatus.SENT,
            attempts=bindparam("attempt"),
            sent_at=bindparam("delivered_at", type_=messages.c.sent_at.type),
            claimed_until=None,
            last_error=None,
        )
    )


def _record_sent(
    new_session: SessionFactory, claimed: _Claimed, *, attempts: int, at: datetime
) -> None:
    """Mark the message sent and call the delivery listeners in the same transaction, once: the
    update only changes a message still pending, and the listeners run only if it did.

    A listener that fails rolls the whole back and the transaction is tried again; after
    LISTENER_TRIES the message is marked sent without them (it was delivered: sending it again
    would be worse), and the failure is logged as an error.
    """
    mark_sent = _mark_sent_statement()
    parameters = {"message": claimed.id, "attempt": attempts, "delivered_at": at}
    delivered = DeliveredEmail(
        id=claimed.id,
        request_id=claimed.request_id,
        answers_request_id=claimed.answers_request_id,
        sent_at=at,
    )
    for attempt in range(1, LISTENER_TRIES + 1):
        with new_session() as session:
            try:
                # Core on the session's connection: the ORM's execute costs more than the UPDATE
                marked = session.connection().execute(mark_sent, parameters).rowcount
                if marked == 1:
                    for listener in list(_DELIVERY_LISTENERS):
                        listener(session, delivered)
                session.commit()
                return
            except Exception as error:
                session.rollback()
                log.error(
                    "outbox message %d: a delivery listener failed (try %d of %d): %s",
                    claimed.id,
                    attempt,
                    LISTENER_TRIES,
                    type(error).__name__,
                )
    with new_session() as session:
        session.execute(mark_sent, parameters)
        session.commit()
