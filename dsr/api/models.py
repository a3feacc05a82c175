"""Bearer tokens of the API clients (the organisation's own systems), stored hashed."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlmodel import Field, SQLModel

from dsr.db import UTCDateTime
from dsr.requests.models import token_digest

TOKEN_PREFIX = "dsr_"  # noqa: S105 (a label, not a secret)
DISPLAY_PREFIX_LENGTH = 12  # "dsr_" and 8 random characters: enough to tell tokens apart


class ApiTokenBase(SQLModel):
    name: str = Field(min_length=1, max_length=100, unique=True)


class ApiTokenCreate(ApiTokenBase):
    """The name of a new client, e.g. "learner-platform"."""


class ApiToken(ApiTokenBase, table=True):
    """A client's token: only its SHA-256 digest is kept; `prefix` lets people recognise it."""

    __tablename__ = "dsr_api_token"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=16)
    created_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    @classmethod
    def issue(cls, name: str, *, now: datetime) -> tuple[ApiToken, str]:
        """Return a new token row and the token itself, to be shown once and never again."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = cls(
            name=name,
            token_hash=token_digest(token),
            prefix=token[:DISPLAY_PREFIX_LENGTH],
            created_at=now,
        )
        return row, token

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class ApiTokenPublic(SQLModel):
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
