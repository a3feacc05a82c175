"""One version of the register of processing activities: a row each time the register is
produced from a map whose content differs from the last version's."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from dsr.db import UTCDateTime

DIGEST_LENGTH = 64


class RegisterVersion(SQLModel, table=True):
    """Version `number` of the register: when it was first produced, the digest of the map it
    was produced from, the outline of that map (JSON: a digest per activity, category and
    recipient) and the changes since the previous version (JSON list of [section, id, change])."""

    __tablename__ = "dsr_register_version"

    number: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    digest: str = Field(max_length=DIGEST_LENGTH, index=True)
    produced_at: datetime = Field(sa_type=UTCDateTime)
    outline: str = Field(sa_type=Text)
    changes: str = Field(sa_type=Text)
