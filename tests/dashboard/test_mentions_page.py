"""The request page's possible mentions (issue 20): other people's texts naming the subject, shown
escaped with an excerpt, each decided by staff through a POST with CSRF; bad input is a 4xx and
changes nothing; every decision is stored and audited."""

from __future__ import annotations

import html as html_lib
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape
from sqlalchemy import create_engine, text
from sqlmodel import select

from dsr import db
from dsr.accounts.models import StaffRole
from dsr.audit.models import RequestEvent
from dsr.demo.seed import SAMPLE_LEARNER_EMAIL, seed_platform
from dsr.mentions.models import MentionDecision
from dsr.mentions.service import DECIDED_ACTION
from dsr.requests.models import DataRequest, RequesterRole
from dsr.requests.workflow import RequestType, Status
from tests.conftest import MakeApp
from tests.dashboard.conftest import logged_in
from tests.factories import make_request
from tests.pages import csrf_token

RECEIVED = datetime.now(UTC) - timedelta(days=3)
PLACE = re.compile(r'name="place" value="([^"]+)"')
HEADING = "Possible mentions to review"
ENGLISH = {"Accept-Language": "en"}


@pytest.fixture
def platform_url(tmp_path: Path) -> str:
    url = f"sqlite:///{(tmp_path / 'platform.sqlite3').as_posix()}"
    seed_platform(url, learners=30, seed=7)
    return url


@pytest.fixture
def app(make_app: MakeApp, platform_url: str) -> Flask:
    return make_app(POINT3_PLATFORM_URL=platform_url)


@pytest.fixture
def dpo(app: Flask) -> FlaskClient:
    return logged_in(app, "dpo@example.org", StaffRole.DPO)


def new_request(app: Flask, **fields: object) -> DataRequest:
    with db.transaction(db.get_engine(app)) as session:
        fields.setdefault("received_at", RECEIVED)
        fields.setdefault("email", SAMPLE_LEARNER_EMAIL)
        return make_request(session, **fields)  # type: ignore[arg-type]


def seeded_texts(platform_url: str) -> list[str]:
    engine = create_engine(platform_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT body FROM course_comment WHERE learner_id <> 1 ORDER BY id")
            )
            return [body for (body,) in rows if "Lef" in body or "LEF" in body]
    finally:
        engine.dispose()


def page_of(client: FlaskClient, request: DataRequest) -> str:
    page = client.get(f"/dashboard/requests/{request.reference}", headers=ENGLISH)
    return page.get_data(as_text=True)


def decide(client: FlaskClient, request: DataRequest, place: str, decision: str) -> int:
    page = client.get(f"/dashboard/requests/{request.reference}")
    answer = client.post(
        f"/dashboard/requests/{request.reference}/mentions/decide",
        data={"csrf_token": csrf_token(page), "place": place, "decision": decision},
    )
    return answer.status_code


def stored(app: Flask, request: DataRequest) -> list[tuple[str, bool]]:
    with db.open_session(db.get_engine(app)) as session:
        rows = session.exec(
            select(MentionDecision).where(MentionDecision.request_id == request.id)
        ).all()
        return sorted((row.row_key, row.is_subject) for row in rows)


def test_the_page_shows_each_possible_mention_escaped_and_undecided(
    app: Flask, dpo: FlaskClient, platform_url: str
) -> None:
    request = new_request(app, status=Status.IN_REVIEW, request_type=RequestType.ACCESS)
    html = page_of(dpo, request)

    assert HEADING in html
    texts = seeded_texts(platform_url)
    assert len(texts) == 3
    for body in texts:  # an apostrophe is escaped: the text is never markup
        assert str(escape(body)) in html
    assert html.count("<em>Undecided</em>") == 3
    assert len(PLACE.findall(html)) == 3
    assert SAMPLE_LEARNER_EMAIL not in PLACE.findall(html)[0]


def test_a_decision_is_stored_audited_and_shown(app: Flask, dpo: FlaskClient) -> None:
    request = new_request(app, status=Status.IN_REVIEW, request_type=RequestType.ERASURE)
    first, second, homonym = PLACE.findall(page_of(dpo, request))

    assert decide(dpo, request, html_lib.unescape(first), "subject") == 303
    assert decide(dpo, request, html_lib.unescape(homonym), "not_subject") == 303
    assert decide(dpo, request, html_lib.unescape(homonym), "not_subject") == 303  # again: one row

    decisions = stored(app, request)
    assert [is_subject for _, is_subject in decisions].count(True) == 1
    assert len(decisions) == 2
    html = page_of(dpo, request)
    assert html.count("<em>Undecided</em>") == 1
    assert html.count("If confirmed, the erasure replaces the name in this text.") == 3
    assert "<strong>Is this person</strong>" in html and "<strong>Not this person</strong>" in html
    with db.open_session(db.get_engine(app)) as session:
        events = session.exec(
            select(RequestEvent).where(
                RequestEvent.request_id == request.id, RequestEvent.action == DECIDED_ACTION
            )
        ).all()
    assert len(events) == 3
    assert all(event.actor_label == "dpo@example.org" for event in events)
    assert second  # the second stays undecided


def test_bad_input_is_refused_and_changes_nothing(app: Flask, dpo: FlaskClient) -> None:
    request = new_request(app, status=Status.IN_REVIEW, request_type=RequestType.ACCESS)
    place = html_lib.unescape(PLACE.findall(page_of(dpo, request))[0])
    url = f"/dashboard/requests/{request.reference}/mentions/decide"

    no_csrf = dpo.post(url, data={"place": place, "decision": "subject"})
    assert no_csrf.status_code == 400
    assert decide(dpo, request, place, "maybe") == 400
    assert decide(dpo, request, "", "subject") == 400
    assert decide(dpo, request, '["learner_platform","learner","email","[1]"]', "subject") == 409
    assert decide(dpo, request, "not json", "subject") == 409
    assert stored(app, request) == []


def test_only_staff_who_work_requests_decide_and_only_before_approval(
    app: Flask, dpo: FlaskClient
) -> None:
    request = new_request(app, status=Status.IN_REVIEW, request_type=RequestType.ACCESS)
    place = html_lib.unescape(PLACE.findall(page_of(dpo, request))[0])
    auditor = logged_in(app, "auditor@example.org", StaffRole.AUDITOR)
    html = page_of(auditor, request)
    assert HEADING in html and not PLACE.findall(html)
    assert decide(auditor, request, place, "subject") == 403

    approved = new_request(app, status=Status.APPROVED, request_type=RequestType.ACCESS)
    assert not PLACE.findall(page_of(dpo, approved))
    assert decide(dpo, approved, place, "subject") == 409
    assert stored(app, request) == [] and stored(app, approved) == []


def test_requests_of_other_types_are_not_searched(app: Flask, dpo: FlaskClient) -> None:
    request = new_request(app, status=Status.IN_REVIEW, request_type=RequestType.RECTIFICATION)
    assert HEADING not in page_of(dpo, request)


def plan_section(client: FlaskClient, request: DataRequest, language: str = "en") -> str:
    """The request page's erasure plan, up to the next heading."""
    page = client.get(
        f"/dashboard/requests/{request.reference}", headers={"Accept-Language": language}
    )
    html = page.get_data(as_text=True)
    start = html.index('id="erasure-plan"')
    return html[start : html.find("<h2", start)]


def test_the_erasure_plan_lists_the_confirmed_mentions_only(
    app: Flask, dpo: FlaskClient, platform_url: str
) -> None:
    request = new_request(app, status=Status.IN_REVIEW, request_type=RequestType.ERASURE)
    assert "3 possible mentions await a decision" in plan_section(dpo, request)
    assert "name replaced" not in plan_section(dpo, request)
    first, second, homonym = PLACE.findall(page_of(dpo, request))

    assert decide(dpo, request, html_lib.unescape(first), "subject") == 303
    assert decide(dpo, request, html_lib.unescape(homonym), "not_subject") == 303

    english = plan_section(dpo, request)
    assert "Other people's texts confirmed to name this person:" in english
    assert "learner_platform: name replaced by […] in 1 text of course_comment" in english
    assert 'href="#mentions">1 possible mention awaits a decision' in english
    for body in seeded_texts(platform_url):  # names and counts only, never a text
        assert str(escape(body)) not in english and body not in english
    french = plan_section(dpo, request, "fr")
    assert "learner_platform: nom remplacé par […] dans 1 texte de course_comment" in french
    assert "1 mention possible attend une décision" in french
    assert second  # stays undecided


def test_a_representatives_request_searches_the_represented_persons_name(
    app: Flask, dpo: FlaskClient
) -> None:
    """The texts are searched for the person the request is for (R45), not for the requester."""
    request = new_request(
        app,
        status=Status.IN_REVIEW,
        request_type=RequestType.ACCESS,
        email="avocat@example.org",
        requester_role=RequesterRole.REPRESENTATIVE,
        subject_email=SAMPLE_LEARNER_EMAIL,
        subject_name="Zoé Lefèvre",
    )

    html = page_of(dpo, request)

    assert len(PLACE.findall(html)) == 3  # the same three texts as for the learner herself
