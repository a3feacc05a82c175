"""How requests and their manual tasks are stored; the rules that move them live in workflow.py.

`DataRequest.state` gives the workflow its view of a request and `store_state` writes the result
of `workflow.apply` back; `dsr.requests.status.change_status` pairs them with the audit event.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import Any, ClassVar, Self
from zoneinfo import ZoneInfo

from pydantic import model_validator
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ColumnElement,
    Index,
    Insert,
    Integer,
    Text,
    UniqueConstraint,
    bindparam,
    cast,
    func,
    select,
    update,
)
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlmodel import Field, Session, SQLModel

from dsr.addresses import EMAIL_MAX, normalize_email
from dsr.db import UTCDateTime, execute_core, new_row, string_enum, table_of
from dsr.languages import Language
from dsr.requests.extension_grounds import ExtensionGround
from dsr.requests.workflow import RequestState, RequestType, Status
from dsr.tokens import token_digest

MESSAGE_MAX = 5000
RECTIFICATION_MAX = 2000
DESIGNEE_NAME_MAX = 200
IDEMPOTENCY_KEY_MAX = 128
REFERENCE_PREFIX = "DSR"
ZONE_NAME_MAX = 64


class Channel(StrEnum):
    """How a request reached the tool."""

    WEB = "web"
    API = "api"
    # Received by another channel and recorded by staff (R44): `dsr.requests.channels`.
    EMAIL = "email"
    LETTER = "letter"
    PHONE = "phone"
    IN_PERSON = "in_person"


ELECTRONIC_CHANNELS = frozenset({Channel.WEB, Channel.API, Channel.EMAIL})
"""The channels by which a request comes electronically: answered electronically (Art. 12(3))."""
STAFF_CHANNELS = (Channel.EMAIL, Channel.LETTER, Channel.PHONE, Channel.IN_PERSON)
"""The channels of the requests that staff record on the dashboard, in the order offered."""
CONTACT_MAX = 1000


class AnswerChannel(StrEnum):
    """How the answer must go to the requester: by email, or printed and posted (R44, R47)."""

    EMAIL = "email"
    POST = "post"


class RequesterRole(StrEnum):
    """Whom the requester asks for (R45): themselves, or another person they act for."""

    SELF = "self"
    REPRESENTATIVE = "representative"  # with a mandate from the person
    PARENTAL_AUTHORITY = "parental_authority"  # the holder of parental authority for a minor


class ProofCheck(StrEnum):
    """Staff's check of a representative's proof (R45): approval waits for an accepted one."""

    ACCEPTED = "accepted"
    REFUSED = "refused"


SUBJECT_NAME_MAX = 200


class DataRequestBase(SQLModel):
    """What a requester tells the tool, whichever way the request came in."""

    type: RequestType = Field(sa_type=string_enum(RequestType, "type"))
    requester_email: str = Field(max_length=EMAIL_MAX)
    language: Language = Field(default=Language.FR, sa_type=string_enum(Language, "language"))
    message: str | None = Field(default=None, max_length=MESSAGE_MAX, sa_type=Text)
    rectification_details: str | None = Field(
        default=None, max_length=RECTIFICATION_MAX, sa_type=Text
    )
    # The person a post-mortem directive names to carry it out (art. 85 LIL); minimised with
    # the message, which holds the directive itself.
    designee_name: str | None = Field(default=None, max_length=DESIGNEE_NAME_MAX)
    designee_email: str | None = Field(default=None, max_length=EMAIL_MAX)


MESSAGE_REQUIRED: frozenset[RequestType] = frozenset(
    {RequestType.OBJECTION_LEGITIMATE_INTEREST, RequestType.POST_MORTEM}
)
"""The types whose message is their substance: the requester's particular situation (Art.
21(1)), the directive (art. 85 LIL)."""


class DataRequestCreate(DataRequestBase):
    """A new request as validated input; a rectification says what to correct, an objection on
    legitimate interests the requester's situation, a post-mortem directive its text and the
    person who carries it out."""

    @model_validator(mode="after")
    def _substance_of_type(self) -> Self:
        if self.type in MESSAGE_REQUIRED and not (self.message or "").strip():
            raise ValueError("this type of request needs its message")
        designee = bool(self.designee_name or self.designee_email)
        if self.type is RequestType.POST_MORTEM and not (
            self.designee_name and self.designee_email
        ):
            raise ValueError("a post-mortem directive names the person who carries it out")
        if self.type is not RequestType.POST_MORTEM and designee:
            raise ValueError("only a post-mortem directive names a designated person")
        return self

    @model_validator(mode="after")
    def _rectification_has_details(self) -> Self:
        details = (self.rectification_details or "").strip()
        if self.type is RequestType.RECTIFICATION and not details:
            raise ValueError("a rectification request says what to correct")
        if self.type is not RequestType.RECTIFICATION and details:
            raise ValueError("only a rectification request has details of what to correct")
        return self


_version_column = Column("version_id", Integer, nullable=False)


class DataRequest(DataRequestBase, table=True):
    """One data-subject request. `version_id` makes a stale concurrent update fail."""

    __tablename__ = "dsr_request"
    __table_args__ = (
        UniqueConstraint("api_client_id", "idempotency_key"),
        CheckConstraint("extension_months BETWEEN 0 AND 2", name="extension_months"),
        CheckConstraint("paused_total_microseconds >= 0", name="paused_total"),
        CheckConstraint(
            "(created_via = 'api') = (api_client_id IS NOT NULL)", name="api_client_if_api"
        ),
        # The dashboard's queue: each filter reads its requests already sorted by due date.
        Index("ix_dsr_request_status_due", "status", "due_at"),
        Index("ix_dsr_request_type_due", "type", "due_at"),
        Index("ix_dsr_request_assignee_due", "assignee_id", "due_at"),
        # The count of the view "Mine" on every queue page, from the index alone.
        Index("ix_dsr_request_assignee_status", "assignee_id", "status"),
    )
    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": _version_column}

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=20, unique=True)
    status: Status = Field(default=Status.RECEIVED, sa_type=string_enum(Status, "status"))
    normalized_email: str = Field(max_length=EMAIL_MAX, index=True)
    received_at: datetime = Field(sa_type=UTCDateTime)
    verified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # When the answer was delivered to the requester (R47): set by its completion only.
    answered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    due_at: datetime = Field(sa_type=UTCDateTime, index=True)
    # The organisation's zone (IANA name) when the request was received: its deadline's calendar.
    time_zone: str = Field(max_length=ZONE_NAME_MAX)
    paused_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    paused_total_microseconds: int = Field(default=0, sa_type=BigInteger)
    extension_months: int = Field(default=0)
    extension_reason: str | None = Field(default=None, sa_type=Text)
    extension_ground: ExtensionGround | None = Field(
        default=None, sa_type=string_enum(ExtensionGround, "extension_ground")
    )
    verification_nonce: str | None = Field(default=None, max_length=64)
    status_token_hash: str | None = Field(default=None, max_length=64, unique=True)
    version_id: int = Field(default=1, sa_column=_version_column)
    created_via: Channel = Field(default=Channel.WEB, sa_type=string_enum(Channel, "created_via"))
    api_client_id: int | None = Field(default=None, foreign_key="dsr_api_token.id", index=True)
    idempotency_key: str | None = Field(default=None, max_length=IDEMPOTENCY_KEY_MAX)
    assignee_id: int | None = Field(default=None, foreign_key="dsr_staff_user.id")
    # --- several types in one submission (issue 19) ---
    # The first part's id on every part of a submission that asked for several things; None for
    # a request filed alone. Each part has its own reference, status, answer and audit trail.
    group_id: int | None = Field(default=None, foreign_key="dsr_request.id", index=True)
    # --- made for someone else (R45): the subject's identity, the proof's check ---------------
    requester_role: RequesterRole = Field(
        default=RequesterRole.SELF, sa_type=string_enum(RequesterRole, "requester_role")
    )
    subject_email: str | None = Field(default=None, max_length=EMAIL_MAX)
    subject_name: str | None = Field(default=None, max_length=SUBJECT_NAME_MAX)
    proof_check: ProofCheck | None = Field(
        default=None, sa_type=string_enum(ProofCheck, "proof_check")
    )
    proof_checked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    @property
    def for_someone_else(self) -> bool:
        """Whether a representative or a parent asks for another person (R45)."""
        return self.requester_role is not RequesterRole.SELF

    @property
    def subject_address(self) -> str:
        """The email address by which the subject is found in the systems: the represented
        person's when a representative asks, else the requester's (proven by the link)."""
        if self.for_someone_else and self.subject_email:
            return self.subject_email
        return self.requester_email

    # --- end of the R45 block ---------------------------------------------------------------
    # --- requests received by another channel (dsr.requests.channels) ---
    # How the answer goes: by post, the desk emails no answer and staff record the posting.
    answer_channel: AnswerChannel = Field(
        default=AnswerChannel.EMAIL,
        sa_type=string_enum(AnswerChannel, "answer_channel"),
    )
    # The postal address or phone number given by a requester (minimised like `message`).
    contact_details: str | None = Field(default=None, max_length=CONTACT_MAX, sa_type=Text)
    # The answer of a request answered by post, as the desk would have emailed it: its subject, a
    # blank line, its text (`service.mail_requester`); printed as the answer letter, minimised.
    answer_letter: str | None = Field(default=None, sa_type=Text)

    @property
    def has_address(self) -> bool:
        """Whether the requester gave an email address (a letter or a call may come without)."""
        return bool(self.requester_email)

    @classmethod
    def received(
        cls,
        wanted: DataRequestCreate,
        *,
        reference: str,
        now: datetime,
        zone: ZoneInfo,
        created_via: Channel = Channel.WEB,
        api_client_id: int | None = None,
        idempotency_key: str | None = None,
    ) -> DataRequest:
        """Return a new request for the checked input `wanted`, received at `now`, in the
        workflow's first state (not yet added to a session), its deadline counted on the
        calendar of `zone`, the organisation's."""
        state = RequestState.new(now, zone=zone)
        return new_row(
            cls,
            reference=reference,
            type=wanted.type,
            requester_email=wanted.requester_email,
            normalized_email=normalize_email(wanted.requester_email),
            language=wanted.language,
            message=wanted.message,
            rectification_details=wanted.rectification_details,
            designee_name=wanted.designee_name,
            designee_email=wanted.designee_email,
            status=state.status,
            received_at=state.received_at,
            due_at=state.due_at,
            time_zone=zone.key,
            created_via=created_via,
            api_client_id=api_client_id,
            idempotency_key=idempotency_key,
        )

    @property
    def paused_total(self) -> timedelta:
        return timedelta(microseconds=self.paused_total_microseconds)

    @property
    def zone(self) -> ZoneInfo:
        """The calendar of this request's deadline and of the dates the desk shows it with."""
        return ZoneInfo(self.time_zone)

    @property
    def state(self) -> RequestState:
        """Return what the workflow needs to know about this request."""
        return state_of(self)

    def store_state(self, state: RequestState) -> None:
        """Keep the state returned by `workflow.apply`: the only way a status changes."""
        if state.received_at != self.received_at:
            raise ValueError("a transition cannot change when a request was received")
        self.status = state.status
        self.paused_since = state.paused_since
        self.paused_total_microseconds = state.paused_total // timedelta(microseconds=1)
        self.extension_months = state.extension_months
        self.extension_reason = state.extension_reason
        self.extension_ground = state.extension_ground
        self.due_at = state.due_at

    def issue_status_token(self) -> str:
        """Give the request a new status-page token; return it (only its digest is kept)."""
        token = secrets.token_urlsafe(32)
        self.status_token_hash = token_digest(token)
        return token


STATE_COLUMNS = (
    "status",
    "received_at",
    "paused_since",
    "paused_total_microseconds",
    "extension_months",
    "extension_reason",
    "extension_ground",
    "time_zone",
)
"""The columns of `dsr_request` that hold a request's workflow state (see `state_of`)."""


def state_of(row: Any) -> RequestState:
    """Return the workflow state held in `row`'s `STATE_COLUMNS`: a request, or a row of a
    query that reads those columns rather than whole requests (the queue, the figures)."""
    return RequestState(
        status=row.status,
        received_at=row.received_at,
        paused_since=row.paused_since,
        paused_total=timedelta(microseconds=row.paused_total_microseconds),
        extension_months=row.extension_months,
        extension_reason=row.extension_reason,
        extension_ground=row.extension_ground,
        zone=ZoneInfo(row.time_zone),
    )


class ReplacedStatusToken(SQLModel, table=True):
    """A status-page token that a newer one replaced (a question's email, a lost link asked for
    again): its digest only, so that the old link says a new one was sent instead of "not found".
    Kept while the request keeps its status link (until its minimisation)."""

    __tablename__ = "dsr_replaced_status_token"

    token_hash: str = Field(primary_key=True, max_length=64)
    request_id: int = Field(foreign_key="dsr_request.id", index=True)
    replaced_at: datetime = Field(sa_type=UTCDateTime)


class ReferenceCounter(SQLModel, table=True):
    """The last request number given out in each year, for references like DSR-2026-000123."""

    __tablename__ = "dsr_reference_counter"

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    last_number: int = Field(default=0)


def next_reference(*, db_session: Session, received_at: datetime) -> str:
    """Return the next public reference of the year the request was received in.

    Numbers are unique even between concurrent transactions: the year's counter row is locked
    by the increment until the transaction ends.
    """
    year = received_at.year
    dialect = db_session.get_bind().dialect.name
    bump = counter_bump(dialect)
    if bump is not None:
        number = execute_core(db_session, bump, {"year": year}).scalar_one()
        return f"{reference_prefix(year)}{number:06d}"
    counters = table_of(ReferenceCounter)
    row = {"year": year, "last_number": 0}
    create = mysql.insert(counters).values(row).on_duplicate_key_update(year=counters.c.year)
    db_session.execute(create)
    db_session.execute(
        update(counters)
        .where(counters.c.year == year)
        .values(last_number=counters.c.last_number + 1)
    )
    number = db_session.execute(
        select(counters.c.last_number).where(counters.c.year == year)
    ).scalar_one()
    return f"{reference_prefix(year)}{number:06d}"


def reference_prefix(year: int) -> str:
    """What the references of a year begin with: `DSR-2026-`."""
    return f"{REFERENCE_PREFIX}-{year:04d}-"


def reference_in_sql(number: ColumnElement[int]) -> ColumnElement[str]:
    """The reference `next_reference` makes of `number`, made by the database: the parameter
    `reference_prefix` (`reference_prefix(year)`) and the number on six digits or more."""
    digits = cast(number, Text())
    return bindparam("reference_prefix", type_=Text()) + func.lpad(
        digits, func.greatest(6, func.length(digits)), "0"
    )


@cache
def counter_bump(dialect: str) -> Insert | None:
    """The year's counter incremented and read in one round trip, built once per engine kind
    (every submission takes a number): the counter row stays locked until the commit, so every
    statement sent while it is held is time other submissions queue behind. None for an engine
    without `INSERT ... ON CONFLICT ... RETURNING` (MariaDB)."""
    if dialect not in ("postgresql", "sqlite"):
        return None
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    counters = table_of(ReferenceCounter)
    return (
        insert(counters)
        .values(year=bindparam("year"), last_number=1)
        .on_conflict_do_update(
            index_elements=[counters.c.year],
            set_={"last_number": counters.c.last_number + 1},
        )
        .returning(counters.c.last_number)
    )


# --- manual tasks -------------------------------------------------------------------------------


class TaskKind(StrEnum):
    NOTIFY_RECIPIENT = "notify_recipient"  # Art. 19: tell a recipient of the data
    MANUAL_CHECK = "manual_check"  # e.g. look in a paper archive


class TellChannel(StrEnum):
    """How a recipient was sent the message of its task."""

    EMAIL = "email"
    LETTER = "letter"
    PORTAL = "portal"  # the recipient's own platform or API


class TaskStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class Task(SQLModel, table=True):
    """Work a person must do for a request, outside the systems the tool changes itself."""

    __tablename__ = "dsr_task"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int | None = Field(default=None, foreign_key="dsr_request.id", index=True)
    kind: TaskKind = Field(sa_type=string_enum(TaskKind, "kind"))
    status: TaskStatus = Field(default=TaskStatus.OPEN, sa_type=string_enum(TaskStatus, "status"))
    title: str = Field(max_length=200)
    details: str | None = Field(default=None, sa_type=Text)
    recipient: str | None = Field(default=None, max_length=200)  # as named in the data map
    category: str | None = Field(default=None, max_length=100)  # a data map category id
    created_at: datetime = Field(sa_type=UTCDateTime)
    due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    done_by: str | None = Field(default=None, max_length=200)
    outcome: str | None = Field(default=None, sa_type=Text)
    assignee_id: int | None = Field(default=None, foreign_key="dsr_staff_user.id", index=True)
    # What a recipient needs to find the person (their address...): for staff's eyes only, never
    # in the message to send, a URL or a log.
    subject_identity: str | None = Field(default=None, sa_type=Text)
    told_on: date | None = Field(default=None)  # the day the recipient was sent the message
    told_via: str | None = Field(default=None, max_length=20)  # a TellChannel
