"""What the desk keeps about the changes it makes to the organisation's systems: how far an
erasure went in each system (so that a retry does only what is left, and the certificate tells
all of it), and the new values staff approved for a rectification."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from dsr.db import UTCDateTime, string_enum


class SystemRunStatus(StrEnum):
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


class ErasureSystemRun(SQLModel, table=True):
    """The outcome of an erasure in one system of the map, for one request.

    `steps` is JSON: per (category, table), the action and the number of rows, no values.
    """

    __tablename__ = "dsr_erasure_system_run"
    __table_args__ = (UniqueConstraint("request_id", "system"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="dsr_request.id", index=True)
    system: str = Field(max_length=100)
    status: SystemRunStatus = Field(sa_type=string_enum(SystemRunStatus, "status"))
    rows_deleted: int = Field(default=0)
    rows_anonymized: int = Field(default=0)
    rows_retained: int = Field(default=0)
    steps: str = Field(default="[]", sa_type=Text)
    error: str | None = Field(default=None, max_length=500)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class RectificationValue(SQLModel, table=True):
    """A new value staff approved for one rectifiable field of the subject's rows."""

    __tablename__ = "dsr_rectification_value"
    __table_args__ = (UniqueConstraint("request_id", "system", "column"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="dsr_request.id", index=True)
    system: str = Field(max_length=100)
    column: str = Field(max_length=200)  # `table.column` as the map names it
    new_value: str = Field(sa_type=Text)
    approved_by: str = Field(max_length=200)
    approved_at: datetime = Field(sa_type=UTCDateTime)


class ErasureCertificate(SQLModel, table=True):
    """The certificate of a completed erasure: its file (0600, no personal data in it) and the
    SHA-256 of the secret token of the link sent to the requester."""

    __tablename__ = "dsr_erasure_certificate"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="dsr_request.id", unique=True)
    path: str = Field(max_length=1000)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
