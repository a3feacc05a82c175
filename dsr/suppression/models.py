"""How the suppression list is stored: a keyed hash of each normalised address, never the address.

An HMAC-SHA256 under a secret of the desk (SUPPRESSION_KEY, else SECRET_KEY) cannot be reversed or
checked against a list of guessed addresses by someone who reads the table without the secret.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from dsr.db import UTCDateTime, string_enum

DIGEST_LENGTH = 64


class SuppressionReason(StrEnum):
    """Why an address joined the list."""

    ERASURE = "erasure"  # the person's data was erased (R28): an import must not bring it back
    OBJECTION = "objection"  # the person objected to direct marketing (Art. 21(2), R27)


class SuppressedAddress(SQLModel, table=True):
    """One address that marketing must leave alone, known only by its keyed hash."""

    __tablename__ = "dsr_suppressed_address"

    id: int | None = Field(default=None, primary_key=True)
    address_digest: str = Field(max_length=DIGEST_LENGTH, unique=True)
    reason: SuppressionReason = Field(sa_type=string_enum(SuppressionReason, "reason"))
    created_at: datetime = Field(sa_type=UTCDateTime)
