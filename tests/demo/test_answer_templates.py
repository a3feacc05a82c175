"""The demo starts with French and English answer templates that staff can send as they are: no
question asks for an identity document, every text fits its form, and a store whose admins
already keep templates is left as it is."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from sqlmodel import select

from dsr import db
from dsr.answer_templates.models import TEXT_MAX, AnswerTemplate, TemplateKind
from dsr.demo.answer_templates import DEMO_TEMPLATES, seed_answer_templates
from dsr.demo.run import ensure_demo_staff
from dsr.languages import Language
from dsr.requests.identity_questions import identity_document_asked


def test_the_demo_templates_are_sendable_in_both_languages() -> None:
    for language in Language:
        for kind in TemplateKind:
            assert any(t.language is language and t.kind is kind for t in DEMO_TEMPLATES)
    for template in DEMO_TEMPLATES:
        assert len(template.text) <= TEXT_MAX
        if template.kind is TemplateKind.QUESTION:
            assert identity_document_asked(template.text) is None, template.title


def test_the_demo_store_gets_its_templates_once(app: Flask, tmp_path: Path) -> None:
    ensure_demo_staff(app, tmp_path)
    ensure_demo_staff(app, tmp_path)  # a restart adds nothing
    with db.transaction(db.get_engine(app)) as session:
        titles = {t.title for t in session.exec(select(AnswerTemplate)).all()}
        assert titles == {t.title for t in DEMO_TEMPLATES}
        assert "Manifestly unfounded or excessive (Art. 12(5))" in titles
        for template in session.exec(select(AnswerTemplate)).all()[1:]:
            session.delete(template)  # the admins deleted all but one
    with db.transaction(db.get_engine(app)) as session:
        assert seed_answer_templates(session, db.utcnow()) == 0
        assert len(session.exec(select(AnswerTemplate)).all()) == 1
