"""The warnings sent before an inactive account expires, and the record of every sweep.

A warning is one row per account row warned.

The row is named by its system, table and primary key (as JSON), never by the address written to.
A warning counts for the inactivity it announced: a login after `warned_at` moves the account's
date past it, and the next expiry needs a new warning.

A sweep (`RetentionSweep`) keeps its dry-run report and its outcome: see dsr.retention.approval.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, UniqueConstraint
from sqlmodel import Field, SQLModel

from dsr.db import UTCDateTime, string_enum

NAME_MAX = 100
ROW_KEY_MAX = 200
DIGEST_LENGTH = 64
LABEL_MAX = 200


class RetentionWarning(SQLModel, table=True):
    """The last warning sent about one account row that its retention period is running out."""

    __tablename__ = "dsr_retention_warning"
    __table_args__ = (UniqueConstraint("system", "table_name", "row_key"),)

    id: int | None = Field(default=None, primary_key=True)
    system: str = Field(max_length=NAME_MAX)
    table_name: str = Field(max_length=NAME_MAX)
    row_key: str = Field(max_length=ROW_KEY_MAX)
    warned_at: datetime = Field(sa_type=UTCDateTime)


class SweepStatus(StrEnum):
    """Where a sweep stands: waiting for a person's approval, replaced by a newer report before
    anyone approved it, approved (queued for a worker), running, done or failed."""

    WAITING = "waiting"
    SUPERSEDED = "superseded"
    APPROVED = "approved"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class SweepTrigger(StrEnum):
    """Who started a sweep: the scheduler's nightly job, or a person with `dsr retention run`."""

    NIGHTLY = "nightly"
    CONSOLE = "console"


class RetentionSweep(SQLModel, table=True):
    """One retention sweep: its dry-run report (the map's names and counts, never values), why it
    waits for approval, who approved it and when, and what it changed once run."""

    __tablename__ = "dsr_retention_sweep"

    id: int | None = Field(default=None, primary_key=True)
    planned_at: datetime = Field(sa_type=UTCDateTime, index=True)
    trigger: SweepTrigger = Field(sa_type=string_enum(SweepTrigger, "trigger"))
    map_digest: str = Field(max_length=DIGEST_LENGTH)
    status: SweepStatus = Field(sa_type=string_enum(SweepStatus, "status"), index=True)
    reasons: list[str] = Field(default_factory=list, sa_type=JSON)
    report: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    approved_by: str | None = Field(default=None, max_length=LABEL_MAX)
    approved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    outcome: list[dict[str, Any]] | None = Field(default=None, sa_type=JSON)
    error: str | None = Field(default=None, max_length=LABEL_MAX)
