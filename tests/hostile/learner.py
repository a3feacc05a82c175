"""A learner of the demo platform whose data is hostile: reportlab markup, CSV formula starts,
SQL metacharacters, a right-to-left override, a 10 MB comment and NUL bytes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, func, insert, select

from dsr.demo import schema
from dsr.demo.seed import seed_platform

HOSTILE_EMAIL = "x'or'1'='1@example.org"
"""A valid address made of SQL metacharacters (apostrophes and `=` are allowed before the @)."""
MARKUP_NAME = "<font color=red>Zoé</font> <para>&amp; <b>unclosed"
FORMULA_LAST_NAME = '=HYPERLINK("http://evil.example","click")'
FORMULA_PHONE = "+33 1 23 45 67 89"
FORMULA_STREET = "-2+3 rue \u202eevil\u202c"
SQL_CITY = "'; DROP TABLE learner;--"
FORMULA_USERNAME = "@SUM(1+1)"
TAB_COMMENT = "\t=1+1"
CR_COMMENT = "\r=2+2"
NUL_COMMENT = "<b>unclosed &amp; \x00 NUL"
HUGE_COMMENT = "A" * (10 * 1024 * 1024)
SUPPORT_MESSAGE = "<para><font color=red>help</font> '; DELETE FROM support_message;--"
AT = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)


def seed_hostile_platform(folder: Path) -> str:
    """Seed a small demo platform in `folder` plus the hostile learner; return its URL."""
    url = f"sqlite:///{(folder / 'platform.sqlite3').as_posix()}"
    seed_platform(url, learners=10, seed=5)
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            learner_id = connection.execute(select(func.max(schema.learner.c.id))).scalar_one() + 1
            course_id = connection.execute(select(func.min(schema.course.c.id))).scalar_one()
            thread_id = connection.execute(
                select(func.max(schema.support_thread.c.id))
            ).scalar_one()
            connection.execute(
                insert(schema.learner).values(
                    id=learner_id,
                    email=HOSTILE_EMAIL,
                    username=FORMULA_USERNAME,
                    first_name=MARKUP_NAME,
                    last_name=FORMULA_LAST_NAME,
                    phone=FORMULA_PHONE,
                    street=FORMULA_STREET,
                    postal_code="75001",
                    city=SQL_CITY,
                    country="FR",
                    preferred_language="en",
                    created_at=AT,
                    last_login_at=AT,
                )
            )
            for body in (HUGE_COMMENT, NUL_COMMENT, TAB_COMMENT, CR_COMMENT):
                connection.execute(
                    insert(schema.course_comment).values(
                        learner_id=learner_id, course_id=course_id, body=body, posted_at=AT
                    )
                )
            connection.execute(
                insert(schema.survey_response).values(
                    learner_id=learner_id,
                    survey="satisfaction",
                    rating=1,
                    comment=TAB_COMMENT + " (survey)",
                    submitted_at=AT,
                )
            )
            connection.execute(
                insert(schema.quiz_answer).values(
                    learner_id=learner_id,
                    course_id=course_id,
                    question="2+2?",
                    answer=CR_COMMENT,
                    score=0,
                    answered_at=AT,
                )
            )
            connection.execute(
                insert(schema.support_participant).values(
                    thread_id=thread_id, learner_id=learner_id, joined_at=AT
                )
            )
            connection.execute(
                insert(schema.support_message).values(
                    thread_id=thread_id,
                    author_learner_id=learner_id,
                    body=SUPPORT_MESSAGE,
                    sent_at=AT,
                )
            )
    finally:
        engine.dispose()
    return url
