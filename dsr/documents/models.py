"""How a request's documents are stored: sealed bytes and a sealed file name, beside facts that
stay when the content is deleted (kind, size, type, when added and by whom, when removed, why)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import LargeBinary, Text
from sqlalchemy.dialects import mysql
from sqlmodel import Field, SQLModel

from dsr.db import UTCDateTime, string_enum


class DocumentKind(StrEnum):
    """What a document is to its request."""

    RECEIVED_MESSAGE = "received_message"  # the email or letter the request came in (R44)
    MANDATE = "mandate"  # a representative's mandate (R45)
    PARENTAL_AUTHORITY = "parental_authority"  # proof of parental authority over a minor (R45)
    IDENTITY_DOCUMENT = "identity_document"  # deleted once its check is recorded (R46)
    OTHER = "other"


class RemovalCause(StrEnum):
    """Why a document's content was deleted."""

    CHECKED = "checked"  # the identity check it served is recorded (R46)
    STAFF = "staff"  # deleted by staff, with a reason in the audit
    MINIMISED = "minimised"  # the request's retention ended
    CLOSED = "closed"  # an identity document never checked, when its request closed (R46)


# Sealed files exceed a BLOB's 64 KiB on MariaDB.
SEALED_BYTES = LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")


class RequestDocument(SQLModel, table=True):
    """One document of a request. `sealed_content` and `sealed_name` are None once removed."""

    __tablename__ = "dsr_request_document"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="dsr_request.id", index=True)
    kind: DocumentKind = Field(sa_type=string_enum(DocumentKind, "kind"))
    content_type: str = Field(max_length=100)
    size: int
    sealed_name: str | None = Field(default=None, sa_type=Text)
    sealed_content: bytes | None = Field(default=None, sa_type=SEALED_BYTES)
    added_at: datetime = Field(sa_type=UTCDateTime)
    added_by: str = Field(max_length=200)  # a staff member's login, or "requester"
    removed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    removal_cause: RemovalCause | None = Field(
        default=None, sa_type=string_enum(RemovalCause, "removal_cause")
    )

    @property
    def removed(self) -> bool:
        return self.removed_at is not None
