"""How a disclosure is recorded: the keyed hash of the person's address (as the suppression list
keeps it, never the address), the recipient, the category sent and the date sent; nothing else.
Each record is deleted once the recipient's `disclosures_kept` period after that date is over."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from dsr.db import UTCDateTime
from dsr.suppression.models import DIGEST_LENGTH

NAME_MAX = 100


class Disclosure(SQLModel, table=True):
    """One sending of a category of a person's data to a recipient of the map."""

    __tablename__ = "dsr_disclosure"
    __table_args__ = (UniqueConstraint("subject_digest", "recipient", "category", "sent_at"),)

    id: int | None = Field(default=None, primary_key=True)
    subject_digest: str = Field(max_length=DIGEST_LENGTH, index=True)
    recipient: str = Field(max_length=NAME_MAX)
    category: str = Field(max_length=NAME_MAX)
    sent_at: datetime = Field(sa_type=UTCDateTime)
    recorded_at: datetime = Field(sa_type=UTCDateTime)
