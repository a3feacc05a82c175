"""The ground of an extension (Art. 12(3), R4): the workflow takes one of the two the law allows
and no other, keeps it with the state and in the audited fact; the email states it in each
language; the store refuses any other value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import TextClause, text
from sqlalchemy.exc import DBAPIError

from dsr import db
from dsr.languages import Language
from dsr.outbox.emails import render_email
from dsr.requests.emails import EmailKind
from dsr.requests.extension_grounds import ExtensionGround, extension_ground
from dsr.requests.workflow import Action, Actor, RequestState, Status, WorkflowError, apply

RECEIVED_AT = datetime(2026, 3, 3, 9, 30, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")
IN_REVIEW = RequestState(status=Status.IN_REVIEW, received_at=RECEIVED_AT, zone=PARIS)
CHOOSE = r"^Choose the ground of the extension: the complexity of the request or the number of "


def extend(ground: object, state: RequestState = IN_REVIEW) -> RequestState:
    return apply(
        state,
        Action.EXTEND,
        actor=Actor.STAFF,
        at=RECEIVED_AT + timedelta(days=3),
        reason="Six systems and a paper archive.",
        months=2,
        ground=ground,  # type: ignore[arg-type]
    ).state


@pytest.mark.parametrize("ground", list(ExtensionGround))
def test_an_extension_keeps_its_ground_in_the_state_and_the_audited_fact(
    ground: ExtensionGround,
) -> None:
    transition = apply(
        IN_REVIEW,
        Action.EXTEND,
        actor=Actor.STAFF,
        at=RECEIVED_AT + timedelta(days=3),
        reason="Six systems and a paper archive.",
        months=1,
        ground=ground.value,
    )
    assert transition.state.extension_ground is ground
    assert transition.fact.ground is ground
    assert transition.state.extension_reason == "Six systems and a paper archive."


@pytest.mark.parametrize("ground", [None, "", "workload", "COMPLEXITY", 1, True])
def test_an_extension_without_an_allowed_ground_is_refused(ground: object) -> None:
    with pytest.raises(WorkflowError, match=CHOOSE):
        extend(ground)


def test_a_ground_goes_only_with_an_extension() -> None:
    with pytest.raises(ValueError, match="^ground is only for extend$"):
        apply(IN_REVIEW, Action.APPROVE, actor=Actor.STAFF, at=RECEIVED_AT, ground="complexity")
    with pytest.raises(ValueError, match="^a ground goes with an extension$"):
        RequestState(
            status=Status.IN_REVIEW,
            received_at=RECEIVED_AT,
            extension_ground="complexity",
            zone=PARIS,
        )
    with pytest.raises(ValueError, match="is not a valid ExtensionGround"):
        RequestState(
            status=Status.IN_REVIEW,
            received_at=RECEIVED_AT,
            extension_months=1,
            extension_reason="Many.",
            extension_ground="workload",  # type: ignore[arg-type]
            zone=PARIS,
        )
    assert apply(IN_REVIEW, Action.APPROVE, actor=Actor.STAFF, at=RECEIVED_AT).fact.ground is None


def test_an_extension_stored_before_grounds_were_recorded_still_loads() -> None:
    state = RequestState(
        status=Status.IN_REVIEW,
        received_at=RECEIVED_AT,
        extension_months=1,
        extension_reason="Many systems.",
        zone=PARIS,
    )
    assert state.extension_ground is None
    with pytest.raises(WorkflowError, match="already been extended once"):
        extend("complexity", state)


def test_extension_ground_reads_only_the_values() -> None:
    assert extension_ground("number_of_requests") is ExtensionGround.NUMBER_OF_REQUESTS
    assert extension_ground(ExtensionGround.COMPLEXITY) is ExtensionGround.COMPLEXITY
    assert extension_ground("number of requests") is None
    assert extension_ground(None) is None


SENTENCES = {
    (ExtensionGround.COMPLEXITY, Language.EN): (
        "The ground for this extension is the complexity of your request, one of the two that "
        "Article 12(3) of the GDPR allows."
    ),
    (ExtensionGround.NUMBER_OF_REQUESTS, Language.EN): (
        "The ground for this extension is the number of requests we have to answer, one of the "
        "two that Article 12(3) of the GDPR allows."
    ),
    (ExtensionGround.COMPLEXITY, Language.FR): (
        "Cette prolongation est motivée par la complexité de votre demande, l'un des deux motifs "
        "que prévoit l'article 12, paragraphe 3, du RGPD."
    ),
    (ExtensionGround.NUMBER_OF_REQUESTS, Language.FR): (
        "Cette prolongation est motivée par le nombre de demandes que nous avons à traiter, l'un "
        "des deux motifs que prévoit l'article 12, paragraphe 3, du RGPD."
    ),
}


@pytest.mark.parametrize("language", list(Language))
@pytest.mark.parametrize("ground", list(ExtensionGround))
def test_the_email_states_the_ground_in_the_requesters_language(
    ground: ExtensionGround, language: Language
) -> None:
    email = render_email(
        EmailKind.EXTENDED,
        language,
        reference="DSR-2026-000042",
        type_label="x",
        months=1,
        ground=ground.value,
        reason="Six systems & a paper archive.",
        due_on="3 May 2026",
    )
    sentence = SENTENCES[(ground, language)]
    others = [text for (other, _language), text in SENTENCES.items() if other is not ground]
    assert sentence in email.text
    assert email.html is not None and sentence in email.html
    assert not any(other in email.text for other in others)


INSERT_EXTENDED: TextClause = text(
    "INSERT INTO dsr_request (reference, type, requester_email, language, status, "
    "normalized_email, received_at, due_at, paused_total_microseconds, extension_months, "
    "extension_reason, extension_ground, version_id, created_via, time_zone) VALUES "
    "(:reference, 'access', 'a@example.org', 'fr', 'in_review', 'a@example.org', "
    "'2026-03-03 09:30:00', '2026-05-03 09:30:00', 0, 1, 'Many.', :ground, 1, 'web', "
    "'Europe/Paris')"
)


def test_the_store_accepts_only_the_grounds(migrated_url: str) -> None:
    engine = db.make_engine(migrated_url)
    try:
        for number, ground in enumerate([*ExtensionGround, None], start=1):
            with engine.begin() as connection:
                connection.execute(
                    INSERT_EXTENDED,
                    {"reference": f"DSR-2026-{number:06d}", "ground": ground and ground.value},
                )
        refused = pytest.raises(DBAPIError, match="(?i)extension_ground|check")
        with refused, engine.begin() as connection:
            connection.execute(
                INSERT_EXTENDED, {"reference": "DSR-2026-000009", "ground": "workload"}
            )
    finally:
        engine.dispose()
