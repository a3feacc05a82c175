"""An answer template: a title and a text staff start from when they ask the requester a question
or refuse a request, for one request type (or any) and one language; who wrote and last changed
it, and when. Templates hold no personal data: the admins who write them see to it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from dsr.db import UTCDateTime, string_enum
from dsr.languages import Language

ANY_TYPE = "any"
"""The request type of a template that fits requests of every type."""
TITLE_MAX = 200
TEXT_MAX = 2000
"""As long as the reason or question a template fills (the request page's forms)."""
STAFF_MAX = 200


class TemplateKind(StrEnum):
    QUESTION = "question"  # a question to the requester (the deadline pauses)
    REFUSAL = "refusal"  # the reasons of a refusal, sent to the requester


class AnswerTemplate(SQLModel, table=True):
    """A reusable text; its title is unique per kind, request type and language."""

    __tablename__ = "dsr_answer_template"
    __table_args__ = (UniqueConstraint("kind", "request_type", "language", "title"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: TemplateKind = Field(sa_type=string_enum(TemplateKind, "kind"))
    request_type: str = Field(max_length=32)  # a RequestType value, or ANY_TYPE
    language: Language = Field(sa_type=string_enum(Language, "language"))
    title: str = Field(max_length=TITLE_MAX)
    text: str = Field(sa_type=Text)
    created_by: str = Field(max_length=STAFF_MAX)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_by: str = Field(max_length=STAFF_MAX)
    updated_at: datetime = Field(sa_type=UTCDateTime)
