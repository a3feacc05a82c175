"""Keep the answer templates: list them, find those that fit a request, and create, change or
delete one as an admin, each change recorded in the audit log in the caller's transaction (the
template's title is the event's content, its kind and id its facts). Operations flush, never
commit: the view's request boundary commits once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from dsr.answer_templates.models import ANY_TYPE, TEXT_MAX, TITLE_MAX, AnswerTemplate, TemplateKind
from dsr.audit.models import record_action
from dsr.languages import Language
from dsr.requests.workflow import Actor

CREATED_ACTION = "answer_template_created"
UPDATED_ACTION = "answer_template_updated"
DELETED_ACTION = "answer_template_deleted"


class TemplateRefused(Exception):
    """A template the desk refuses as given; `message` is written for the admin (in English:
    the views show their own translated words for each case)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DuplicateTitle(TemplateRefused):
    def __init__(self) -> None:
        super().__init__("A template of this kind, type and language has this title already.")


@dataclass(frozen=True, slots=True)
class TemplateFields:
    """What an admin writes of a template."""

    kind: TemplateKind
    request_type: str
    language: Language
    title: str
    text: str


def list_templates(db_session: Session) -> Sequence[AnswerTemplate]:
    """Every template, by kind, language, request type and title."""
    return db_session.exec(
        select(AnswerTemplate).order_by(
            col(AnswerTemplate.kind),
            col(AnswerTemplate.language),
            col(AnswerTemplate.request_type),
            col(AnswerTemplate.title),
            col(AnswerTemplate.id),
        )
    ).all()


def templates_for(
    db_session: Session, *, kind: TemplateKind, request_type: str, language: Language
) -> Sequence[AnswerTemplate]:
    """The templates of `kind` that fit a request of `request_type` in `language`: those of its
    type, then those for any type, each by title."""
    found = db_session.exec(
        select(AnswerTemplate)
        .where(
            AnswerTemplate.kind == kind,
            AnswerTemplate.language == language,
            col(AnswerTemplate.request_type).in_([request_type, ANY_TYPE]),
        )
        .order_by(col(AnswerTemplate.title), col(AnswerTemplate.id))
    ).all()
    return sorted(found, key=lambda template: template.request_type == ANY_TYPE)


def _checked(db_session: Session, fields: TemplateFields, template_id: int | None) -> None:
    if not fields.title.strip() or not fields.text.strip():
        raise TemplateRefused("Give the template a title and a text.")
    if len(fields.title) > TITLE_MAX or len(fields.text) > TEXT_MAX:
        raise TemplateRefused("The title or the text of the template is too long.")
    same_place = db_session.exec(
        select(AnswerTemplate).where(
            AnswerTemplate.kind == fields.kind,
            AnswerTemplate.request_type == fields.request_type,
            AnswerTemplate.language == fields.language,
        )
    ).all()
    title = fields.title.strip().casefold()
    if any(t.id != template_id and t.title.strip().casefold() == title for t in same_place):
        raise DuplicateTitle()


def _flushed(db_session: Session) -> None:
    """Flush; a title another transaction took meanwhile (the unique constraint) is refused."""
    try:
        db_session.flush()
    except IntegrityError:
        raise DuplicateTitle() from None


def _record(
    db_session: Session, template: AnswerTemplate, action: str, who: str, at: datetime
) -> None:
    record_action(
        db_session=db_session,
        actor=Actor.STAFF,
        actor_label=who,
        action=action,
        at=at,
        reason=template.title,
        details={"kind": template.kind.value, "answer_template": template.id},
    )


def create_template(
    *, db_session: Session, fields: TemplateFields, staff_label: str, now: datetime
) -> AnswerTemplate:
    """Add a template; raise TemplateRefused (nothing added) on an empty or too long title or
    text, or a title its kind, type and language have already."""
    _checked(db_session, fields, None)
    template = AnswerTemplate(
        kind=fields.kind,
        request_type=fields.request_type,
        language=fields.language,
        title=fields.title.strip(),
        text=fields.text.strip(),
        created_by=staff_label,
        created_at=now,
        updated_by=staff_label,
        updated_at=now,
    )
    db_session.add(template)
    _flushed(db_session)
    _record(db_session, template, CREATED_ACTION, staff_label, now)
    return template


def update_template(
    *,
    db_session: Session,
    template: AnswerTemplate,
    fields: TemplateFields,
    staff_label: str,
    now: datetime,
) -> None:
    """Change a template as `create_template` checks a new one."""
    _checked(db_session, fields, template.id)
    template.kind = fields.kind
    template.request_type = fields.request_type
    template.language = fields.language
    template.title = fields.title.strip()
    template.text = fields.text.strip()
    template.updated_by = staff_label
    template.updated_at = now
    db_session.add(template)
    _flushed(db_session)
    _record(db_session, template, UPDATED_ACTION, staff_label, now)


def delete_template(
    *, db_session: Session, template: AnswerTemplate, staff_label: str, now: datetime
) -> None:
    _record(db_session, template, DELETED_ACTION, staff_label, now)
    db_session.delete(template)
    db_session.flush()
