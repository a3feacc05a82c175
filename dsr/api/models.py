"""Bearer tokens of the API clients (the organisation's own systems), stored hashed, and the
status callbacks queued for them."""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, Text
from sqlmodel import Field, SQLModel

from dsr.db import UTCDateTime, string_enum
from dsr.tokens import token_digest

TOKEN_PREFIX = "dsr_"  # noqa: S105 (a label, not a secret)
DISPLAY_PREFIX_LENGTH = 12  # "dsr_" and 8 random characters: enough to tell tokens apart
LAST_ERROR_MAX = 500


class ApiTokenBase(SQLModel):
    name: str = Field(min_length=1, max_length=100, unique=True)


class ApiTokenCreate(ApiTokenBase):
    """The name of a new client, e.g. "learner-platform"."""


class ApiToken(ApiTokenBase, table=True):
    """A client's token: only its SHA-256 digest is kept; `prefix` lets people recognise it."""

    __tablename__ = "dsr_api_token"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=16)
    created_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    @classmethod
    def issue(cls, name: str, *, now: datetime) -> tuple[ApiToken, str]:
        """Return a new token row and the token itself, to be shown once and never again."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = cls(
            name=name,
            token_hash=token_digest(token),
            prefix=token[:DISPLAY_PREFIX_LENGTH],
            created_at=now,
        )
        return row, token

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


# --- status callbacks ---------------------------------------------------------------------------

CALLBACK_URL_MAX = 2048
CALLBACK_EVENT_ID_MAX = 32


class StatusCallback(SQLModel, table=True):
    """A URL of an API client, told about every status change of one request it filed."""

    __tablename__ = "dsr_status_callback"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="dsr_request.id", index=True)
    position: int = Field(default=0)  # the order the client gave its URLs in
    url: str = Field(max_length=CALLBACK_URL_MAX)


class CallbackDeliveryStatus(StrEnum):
    PENDING = "pending"  # to be sent at `next_attempt_at`
    SENT = "sent"
    FAILED = "failed"  # given up after the last attempt (logged as an error)


class CallbackDelivery(SQLModel, table=True):
    """One signed POST to a callback URL, queued in the transaction of the status change it
    announces and sent after commit, with retries; `body` is signed exactly as stored."""

    __tablename__ = "dsr_callback_delivery"
    __table_args__ = (Index("ix_dsr_callback_delivery_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    callback_id: int = Field(foreign_key="dsr_status_callback.id", index=True)
    event_id: str = Field(max_length=CALLBACK_EVENT_ID_MAX)  # one status change, for every URL
    body: str = Field(sa_type=Text)
    status: CallbackDeliveryStatus = Field(
        default=CallbackDeliveryStatus.PENDING,
        sa_type=string_enum(CallbackDeliveryStatus, "status"),
    )
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The kind of failure only (exception class, HTTP status): never a body.
    last_error: str | None = Field(default=None, max_length=LAST_ERROR_MAX)
    created_at: datetime = Field(sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
