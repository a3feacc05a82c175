"""What the scheduler keeps in the store: its lease, the record of every job run, and the table
APScheduler's job store writes its jobs to (declared here so that migrations create it)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Float, Index, LargeBinary, Table, Text, Unicode
from sqlalchemy.dialects import mysql
from sqlmodel import Field, SQLModel

from dsr.db import UTCDateTime

JOB_STORE_TABLE = "dsr_scheduler_job"
ERROR_SUMMARY_MAX = 2000
NEXT_RUN_TIME = Float(25).with_variant(mysql.DOUBLE(asdecimal=False), "mysql", "mariadb")

scheduler_jobs = Table(
    JOB_STORE_TABLE,
    SQLModel.metadata,
    # The same columns as APScheduler 3's SQLAlchemyJobStore creates for itself.
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", NEXT_RUN_TIME, index=True),
    Column("job_state", LargeBinary, nullable=False),
)
"""APScheduler's job store: pickled job states by id, the next run as a UNIX timestamp."""


class SchedulerLease(SQLModel, table=True):
    """Who runs the jobs now: a scheduler acts only while it holds an unexpired lease."""

    __tablename__ = "dsr_scheduler_lease"

    name: str = Field(primary_key=True, max_length=64)
    owner: str = Field(max_length=200)
    expires_at: datetime = Field(sa_type=UTCDateTime)


class JobRun(SQLModel, table=True):
    """One run of one job: when, how many items it handled, how many failed and why (the kinds
    of error only, never personal data)."""

    __tablename__ = "dsr_job_run"
    __table_args__ = (Index("ix_dsr_job_run_job_started", "job", "started_at"),)

    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=64)
    started_at: datetime = Field(sa_type=UTCDateTime, index=True)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    items_done: int = Field(default=0)
    errors: int = Field(default=0)
    error_summary: str | None = Field(default=None, sa_type=Text)
