"""The answer templates on every engine: those that fit a request (its type first, then any type,
in its language), the title unique per kind, type and language whatever its case, the store's own
constraint behind the check, and each change in the audit chain."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from dsr import db
from dsr.answer_templates.models import AnswerTemplate, TemplateKind
from dsr.answer_templates.service import (
    DuplicateTitle,
    TemplateFields,
    TemplateRefused,
    create_template,
    templates_for,
    update_template,
)
from dsr.audit.models import verify_audit
from dsr.languages import Language

NOW = db.utcnow()
ADMIN = "admin@desk.example"


def fields(title: str, **changes: object) -> TemplateFields:
    values: dict[str, object] = {
        "kind": TemplateKind.REFUSAL,
        "request_type": "any",
        "language": Language.FR,
        "title": title,
        "text": f"Texte de {title}",
        **changes,
    }
    return TemplateFields(**values)  # type: ignore[arg-type]


def add(session: Session, title: str, **changes: object) -> AnswerTemplate:
    return create_template(
        db_session=session, fields=fields(title, **changes), staff_label=ADMIN, now=NOW
    )


def test_the_templates_that_fit_a_request(session: Session) -> None:
    add(session, "B for any type")
    add(session, "Z for erasure", request_type="erasure")
    add(session, "A for erasure", request_type="erasure")
    add(session, "For access", request_type="access")
    add(session, "In English", language=Language.EN)
    add(session, "A question", kind=TemplateKind.QUESTION)
    found = templates_for(
        session, kind=TemplateKind.REFUSAL, request_type="erasure", language=Language.FR
    )
    assert [t.title for t in found] == ["A for erasure", "Z for erasure", "B for any type"]
    assert verify_audit(db_session=session).ok


def test_a_title_is_unique_per_kind_type_and_language_whatever_its_case(session: Session) -> None:
    first = add(session, "Excessive")
    add(session, "Excessive", kind=TemplateKind.QUESTION)
    add(session, "Excessive", language=Language.EN)
    add(session, "Excessive", request_type="erasure")
    with pytest.raises(DuplicateTitle):
        add(session, " EXCESSIVE ")
    update_template(  # keeping its own title is no duplicate
        db_session=session, template=first, fields=fields("excessive"), staff_label=ADMIN, now=NOW
    )
    assert first.title == "excessive"
    with pytest.raises(TemplateRefused):
        add(session, "Empty", text="   ")


def test_the_store_refuses_a_duplicate_the_check_did_not_see(store: Engine) -> None:
    """Two admins saving the same title at once: the unique constraint refuses the second (the
    service turns it into DuplicateTitle)."""
    with db.transaction(store) as session:
        add(session, "Twice")
    with db.open_session(store) as session:
        session.add(
            AnswerTemplate(
                kind=TemplateKind.REFUSAL,
                request_type="any",
                language=Language.FR,
                title="Twice",
                text="again",
                created_by=ADMIN,
                created_at=NOW,
                updated_by=ADMIN,
                updated_at=NOW,
            )
        )
        with pytest.raises(IntegrityError):
            session.flush()
