"""The warnings sent before an inactive account expires: one row per account row warned.

The row is named by its system, table and primary key (as JSON), never by the address written to.
A warning counts for the inactivity it announced: a login after `warned_at` moves the account's
date past it, and the next expiry needs a new warning.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from dsr.db import UTCDateTime

NAME_MAX = 100
ROW_KEY_MAX = 200


class RetentionWarning(SQLModel, table=True):
    """The last warning sent about one account row that its retention period is running out."""

    __tablename__ = "dsr_retention_warning"
    __table_args__ = (UniqueConstraint("system", "table_name", "row_key"),)

    id: int | None = Field(default=None, primary_key=True)
    system: str = Field(max_length=NAME_MAX)
    table_name: str = Field(max_length=NAME_MAX)
    row_key: str = Field(max_length=ROW_KEY_MAX)
    warned_at: datetime = Field(sa_type=UTCDateTime)
