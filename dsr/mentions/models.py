"""Staff's decision on a possible mention of a request's subject in another person's text: the
text column of one row (by its key, never its content) is this person, or is not."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from dsr.db import UTCDateTime

NAME_MAX = 100
ROW_KEY_MAX = 500
STAFF_MAX = 200


class MentionDecision(SQLModel, table=True):
    """One decision per request and text; a later decision on the same text replaces it."""

    __tablename__ = "dsr_mention_decision"
    __table_args__ = (
        UniqueConstraint(
            "request_id",
            "system",
            "table_name",
            "column_name",
            "row_key",
            name="uq_dsr_mention_decision_place",  # the convention's name is too long for MariaDB
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="dsr_request.id", index=True)
    system: str = Field(max_length=NAME_MAX)
    table_name: str = Field(max_length=NAME_MAX)
    column_name: str = Field(max_length=NAME_MAX)
    row_key: str = Field(max_length=ROW_KEY_MAX)  # the row's key values, as a JSON list
    is_subject: bool
    decided_by: str = Field(max_length=STAFF_MAX)
    decided_at: datetime = Field(sa_type=UTCDateTime)
