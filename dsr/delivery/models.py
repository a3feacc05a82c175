"""The stored reports of a request and the download links that deliver them.

A `Report` is one file (the PDF, the complete export, or the portability zip) kept under the
reports folder with mode 0600; `downloads_left` and `expires_at` bound its delivery. A
`DownloadLink` is what the requester was sent: only the SHA-256 of its token and an HMAC of the
current one-time code are stored.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from dsr.db import UTCDateTime, string_enum

PATH_MAX = 1000


class ReportKind(StrEnum):
    PDF = "pdf"  # the access report (Art. 15)
    ZIP = "zip"  # the portable archive (Art. 20)
    EXPORT = "export"  # every row of every category, JSON and CSV, with the PDF (Art. 15(3))


class DeliveryMethod(StrEnum):
    LINK = "link"  # a download page with a one-time code sent to the same address
    ENCRYPTED = "encrypted"  # the same, with the PDF encrypted (AES-256), password given apart


class Report(SQLModel, table=True):
    """One file produced for a request; deleted with its row once expired."""

    __tablename__ = "dsr_report"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="dsr_request.id", index=True)
    kind: ReportKind = Field(sa_type=string_enum(ReportKind, "kind"))
    path: str = Field(max_length=PATH_MAX)
    size: int
    sha256: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
    downloads_left: int
    encrypted: bool = Field(default=False)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class DownloadLink(SQLModel, table=True):
    """The link sent to the requester; it outlives the reports so that a late click gets 410."""

    __tablename__ = "dsr_download_link"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="dsr_request.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    method: DeliveryMethod = Field(sa_type=string_enum(DeliveryMethod, "method"))
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    code_hash: str | None = Field(default=None, max_length=64)
    code_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    codes_sent: int = Field(default=0)
    wrong_codes: int = Field(default=0)
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
