"""Stored outgoing email: written in the same transaction as what causes it, sent afterwards.

A message is sent at most once per success: the sender claims it (`claimed_until`) before
talking to the SMTP server, and its `message_id` stays the same across attempts so that a
message delivered twice after a lost acknowledgement can be recognised downstream.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, Text
from sqlalchemy.dialects import mysql
from sqlmodel import Field, SQLModel

from dsr.addresses import EMAIL_MAX
from dsr.db import UTCDateTime, string_enum
from dsr.languages import Language

LAST_ERROR_MAX = 500

# Bodies may exceed MariaDB's 64 KiB TEXT.
_Body = Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")


class OutboxStatus(StrEnum):
    PENDING = "pending"  # to be sent at `next_attempt_at`
    SENT = "sent"
    FAILED = "failed"  # given up after the last attempt


def new_message_id(domain: str) -> str:
    """Return an RFC 5322 Message-ID, unique to one message and kept across retries."""
    return f"<{secrets.token_hex(16)}@{domain}>"


class OutboxMessage(SQLModel, table=True):
    """One email to send, in the language of its reader; holds no secret but its links."""

    __tablename__ = "dsr_outbox_message"
    __table_args__ = (Index("ix_dsr_outbox_message_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(max_length=255, unique=True)
    # What caused the message, e.g. "verification:<request id>:<nonce>": queued at most once.
    dedup_key: str | None = Field(default=None, max_length=200, unique=True)
    request_id: int | None = Field(default=None, foreign_key="dsr_request.id", index=True)
    # Set when this email is the answer to that request: its delivery answers the request (R47).
    answers_request_id: int | None = Field(default=None, foreign_key="dsr_request.id", index=True)
    to_address: str = Field(max_length=EMAIL_MAX)
    subject: str = Field(max_length=500)
    text_body: str = Field(sa_type=_Body)
    html_body: str | None = Field(default=None, sa_type=_Body)
    language: Language = Field(sa_type=string_enum(Language, "language"))
    status: OutboxStatus = Field(
        default=OutboxStatus.PENDING, sa_type=string_enum(OutboxStatus, "status")
    )
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The kind of failure only (exception class, SMTP code): never an address or a body.
    last_error: str | None = Field(default=None, max_length=LAST_ERROR_MAX)
    created_at: datetime = Field(sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
