"""The objection to processing on legitimate interests (Art. 21(1)) and post-mortem directives
(art. 85 LIL), run on the seeded demo platform with the store on the three engines: the
categories each concerns (POINT3's map and the webshop's), an accepted objection recorded per
category (and the map's `changes.objection` applied when it declares one), a refusal that states
the compelling legitimate grounds and the right to complain, and directives acknowledged without
any change to the platform."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from dsr.db import transaction
from dsr.demo.seed import SAMPLE_LEARNER_EMAIL
from dsr.execution.objection import (
    DIRECTIVES_RECORDED_ACTION,
    OBJECTION_ACCEPTED_ACTION,
    affected_categories,
)
from dsr.execution.runner import run_request
from dsr.languages import Language
from dsr.outbox.emails import render_email
from dsr.requests import staff_actions
from dsr.requests.models import RequesterRole
from dsr.requests.workflow import RequestType, Status
from inventory.loader import load_data_map as load_map
from tests.dashboard.conftest import NOW
from tests.execution.conftest import DATA_MAP
from tests.execution.platform_copy import snapshot
from tests.execution.test_changes import (
    actions,
    approved,
    copy_platform,
    mails,
    marketing,
    reload,
    settings_for,
)
from tests.factories import make_request

THREE_ENGINES = pytest.mark.databases("sqlite", "postgresql", "mariadb")

WEBSHOP_MAP = Path(__file__).resolve().parents[1] / "webshop" / "webshop_map.yaml"
SITUATION = "I am a journalist and these surveys expose my sources."


@pytest.fixture
def platform(platform_url: str, tmp_path: Path) -> str:
    return copy_platform(platform_url, tmp_path)


def test_the_categories_each_type_concerns_come_from_the_map() -> None:
    point3 = load_map(DATA_MAP)
    assert affected_categories(point3, RequestType.OBJECTION_LEGITIMATE_INTEREST) == [
        "survey_responses",
        "prospects",
    ]
    assert affected_categories(point3, RequestType.POST_MORTEM) == list(point3.categories)
    assert affected_categories(point3, RequestType.ACCESS) == []
    webshop = load_map(WEBSHOP_MAP)  # its reviews are moderated on legitimate interests
    assert affected_categories(webshop, RequestType.OBJECTION_LEGITIMATE_INTEREST) == ["reviews"]
    assert affected_categories(webshop, RequestType.POST_MORTEM) == list(webshop.categories)


@THREE_ENGINES
def test_an_accepted_objection_records_each_category_and_says_what_stops(
    store: Engine, platform: str, tmp_path: Path
) -> None:
    before = snapshot(platform)
    request_id = approved(store, RequestType.OBJECTION_LEGITIMATE_INTEREST, message=SITUATION)
    settings = settings_for(tmp_path, platform)
    assert run_request(engine=store, request_id=request_id, settings=settings, now=NOW) is (
        Status.READY_TO_SEND
    )
    stopped = [
        e.details for e in actions(store, request_id) if e.action == OBJECTION_ACCEPTED_ACTION
    ]
    assert stopped == [
        {"category": "survey_responses", "outcome": "processing_stopped"},
        {"category": "prospects", "outcome": "processing_stopped"},
    ]
    assert snapshot(platform) == before  # POINT3's map declares no change for it: staff act
    [mail] = mails(store, request_id)
    assert mail.answers_request_id == request_id
    assert "We accepted your objection" in mail.text_body
    assert "Your survey answers" in mail.text_body


@THREE_ENGINES
@pytest.mark.parametrize("for_someone_else", [False, True], ids=["self", "representative"])
def test_the_maps_objection_change_is_applied_when_declared(
    store: Engine, platform: str, tmp_path: Path, for_someone_else: bool
) -> None:
    data_map = tmp_path / "map.yaml"
    objection = """  objection:
    description:
      fr: Vos données ne sont plus utilisées pour nos relances.
      en: Your data is no longer used for our follow-ups.
    set:
      - {system: learner_platform, column: marketing_subscription.opted_in, value: false}
"""
    text = DATA_MAP.read_text(encoding="utf-8")
    assert text.count("\nchanges:\n") == 1
    data_map.write_text(text.replace("\nchanges:\n", "\nchanges:\n" + objection), encoding="utf-8")
    assert any(opted_in for opted_in, _ in marketing(platform))
    if for_someone_else:  # a representative objects for the learner (R45)
        with transaction(store) as session:
            request = make_request(
                session,
                status=Status.APPROVED,
                email="avocat@example.org",
                request_type=RequestType.OBJECTION_LEGITIMATE_INTEREST,
                message=SITUATION,
                requester_role=RequesterRole.REPRESENTATIVE,
                subject_email=SAMPLE_LEARNER_EMAIL,
                subject_name="Zoé Lefèvre",
            )
            assert request.id is not None
            request_id = request.id
    else:
        request_id = approved(store, RequestType.OBJECTION_LEGITIMATE_INTEREST, message=SITUATION)
    settings: dict[str, Any] = {**settings_for(tmp_path, platform), "DATA_MAP": str(data_map)}
    assert run_request(engine=store, request_id=request_id, settings=settings, now=NOW) is (
        Status.READY_TO_SEND
    )
    assert not any(opted_in for opted_in, _ in marketing(platform))
    applied = [e.details for e in actions(store, request_id) if e.action == "change_applied"]
    assert applied and applied[0]["change"] == "objection" and applied[0]["rows"] > 0
    [mail] = mails(store, request_id)
    assert "no longer used for our follow-ups" in mail.text_body


@THREE_ENGINES
@pytest.mark.parametrize("language", ["en", "fr"])
def test_a_refusal_states_the_compelling_grounds_and_the_right_to_complain(
    store: Engine, language: str
) -> None:
    with transaction(store) as session:
        request = make_request(
            session,
            status=Status.IN_REVIEW,
            request_type=RequestType.OBJECTION_LEGITIMATE_INTEREST,
            language=Language(language),
            message=SITUATION,
        )
        staff_actions.deny(
            db_session=session,
            request=request,
            version_id=request.version_id,
            staff_label="dpo@example.org",
            reason="Fraud prevention on exam registrations outweighs the situation described.",
            now=NOW,
        )
        request_id = request.id
    assert request_id is not None
    assert reload(store, request_id).status is Status.DENIED
    [mail] = mails(store, request_id)
    assert "Fraud prevention on exam registrations" in mail.text_body
    assert "www.cnil.fr" in mail.text_body
    if language == "en":
        assert (
            "Article 21(1)" in mail.text_body and "compelling legitimate grounds" in mail.text_body
        )
    else:
        assert (
            "article 21(1)" in mail.text_body and "motifs légitimes et impérieux" in mail.text_body
        )


def test_other_refusals_do_not_speak_of_article_21() -> None:
    email = render_email(
        "denied",
        Language.EN,
        reference="DSR-2026-000001",
        type_label="access to your data",
        received_on="1 March 2026",
        reason="Manifestly unfounded.",
    )
    assert "Article 21(1)" not in email.text


@THREE_ENGINES
def test_post_mortem_directives_are_acknowledged_and_change_nothing(
    store: Engine, platform: str, tmp_path: Path
) -> None:
    before = snapshot(platform)
    request_id = approved(
        store,
        RequestType.POST_MORTEM,
        message="Erase my account; send my course certificates to my daughter.",
        designee_name="Inès Lefèvre",
        designee_email="ines@example.org",
    )
    settings = settings_for(tmp_path, platform)
    assert run_request(engine=store, request_id=request_id, settings=settings, now=NOW) is (
        Status.READY_TO_SEND
    )
    assert snapshot(platform) == before  # recorded, never erased on their account
    [recorded] = [e for e in actions(store, request_id) if e.action == DIRECTIVES_RECORDED_ACTION]
    assert recorded.details == {"categories": len(load_map(DATA_MAP).categories)}
    [mail] = mails(store, request_id)
    assert mail.answers_request_id == request_id
    assert "Inès Lefèvre (ines@example.org)" in mail.text_body
    assert "article 85" in mail.text_body
    assert "Your invoices" in mail.text_body or "invoices" in mail.text_body.lower()
    assert reload(store, request_id).designee_name == "Inès Lefèvre"
