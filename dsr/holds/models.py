"""A legal hold on categories of one request's subject: why, until when, who placed it, and what
it needs to find the held rows while it lasts (the requester's address and the keys of the rows
the erasure kept for it). The whole row is deleted when the hold ends."""

from __future__ import annotations

import json
from datetime import date, datetime

from sqlalchemy import Date, Text
from sqlmodel import Field, SQLModel

from dsr.addresses import EMAIL_MAX
from dsr.db import UTCDateTime

REASON_MAX = 2000
STAFF_MAX = 200

KeptRows = dict[str, dict[str, list[list[object]]]]
"""system -> table -> primary keys of the rows an erasure kept for the hold."""


class LegalHold(SQLModel, table=True):
    """Categories of a request's subject kept for a legal claim until `ends_on` (inclusive, on
    the organisation's calendar), or until staff lift the hold earlier with a reason.

    `categories` is a JSON list of the map's category ids; `email` and `kept_rows` are what the
    hold needs to find the person's held rows, and go with the hold when it ends.
    """

    __tablename__ = "dsr_legal_hold"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="dsr_request.id", index=True)
    categories: str = Field(sa_type=Text)
    reason: str = Field(sa_type=Text)
    ends_on: date = Field(sa_type=Date)
    placed_by: str = Field(max_length=STAFF_MAX)
    placed_at: datetime = Field(sa_type=UTCDateTime)
    email: str = Field(max_length=EMAIL_MAX)
    kept_rows: str = Field(default="{}", sa_type=Text)
    lifted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    lifted_by: str | None = Field(default=None, max_length=STAFF_MAX)
    lift_reason: str | None = Field(default=None, sa_type=Text)

    @property
    def category_ids(self) -> list[str]:
        return [str(c) for c in json.loads(self.categories)]

    @property
    def kept(self) -> KeptRows:
        loaded: KeptRows = json.loads(self.kept_rows or "{}")
        return loaded
