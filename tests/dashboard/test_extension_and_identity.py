"""Extension and identity, by the law's grounds, from a request's page: an extension names one of
the grounds Art. 12(3) allows, kept, audited, shown and emailed; the free question refuses a text
that asks for an identity document, which only the identity action (with its written reason, Art.
12(6)) may ask for. Refused input is a form error: nothing stored, nothing sent."""

from __future__ import annotations

import html
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from dsr import db
from dsr.audit.models import RequestEvent
from dsr.outbox.models import OutboxMessage
from dsr.requests import staff_actions
from dsr.requests.models import DataRequest
from dsr.requests.refusals import OperationRefused
from dsr.requests.workflow import Status
from tests.dashboard.conftest import LINKS, NOW, counts
from tests.dashboard.test_request_page import new_request
from tests.factories import make_request, reloaded
from tests.pages import csrf_token

EN = {"Accept-Language": "en"}
FR = {"Accept-Language": "fr"}


def post(
    client: FlaskClient,
    request: DataRequest,
    action: str,
    data: dict[str, str],
    headers: dict[str, str],
) -> tuple[int, str]:
    """Post the action's form as the page does; return the status and the page then shown."""
    page = client.get(f"/dashboard/requests/{request.reference}", headers=headers)
    answer = client.post(
        f"/dashboard/requests/{request.reference}/{action}",
        data={"csrf_token": csrf_token(page), "version_id": str(request.version_id), **data},
        headers=headers,
    )
    if answer.status_code == 303:
        shown = client.get(answer.headers["Location"], headers=headers)
        return 303, shown.get_data(as_text=True)
    return answer.status_code, answer.get_data(as_text=True)


def last_event(engine: Engine, request_id: int | None) -> RequestEvent:
    with db.open_session(engine) as session:
        event = session.exec(
            select(RequestEvent)
            .where(RequestEvent.request_id == request_id)
            .order_by(col(RequestEvent.sequence).desc())
        ).first()
        assert event is not None
        return event


def queued_texts(engine: Engine, request_id: int | None) -> list[str]:
    with db.open_session(engine) as session:
        return [
            message.text_body
            for message in session.exec(
                select(OutboxMessage).where(OutboxMessage.request_id == request_id)
            ).all()
        ]


# --- extension ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ground", [None, "", "workload"], ids=["not posted", "empty", "not a ground"]
)
def test_an_extension_without_an_allowed_ground_is_a_form_error(
    app: Flask, dpo: FlaskClient, ground: str | None
) -> None:
    engine = db.get_engine(app)
    request = new_request(app, status=Status.IN_REVIEW)
    before = counts(engine, request.id)
    data = {"months": "1", "reason": "Six systems and a paper archive."}
    if ground is not None:
        data["ground"] = ground
    code, page = post(dpo, request, "extend", data, EN)

    assert code == 400
    assert (
        "Choose the ground of the extension: the complexity of the request or the number of "
        in (page)
    )
    after = reloaded(engine, request.id)
    assert (after.extension_months, after.extension_ground, after.version_id) == (
        0,
        None,
        request.version_id,
    )
    assert counts(engine, request.id) == before


def test_the_extend_form_offers_the_two_grounds(app: Flask, dpo: FlaskClient) -> None:
    request = new_request(app, status=Status.IN_REVIEW)
    page = dpo.get(f"/dashboard/requests/{request.reference}", headers=FR).get_data(as_text=True)
    form = page.split('/extend" novalidate>')[1].split("</form>")[0]
    radios = re.findall(
        r'<input id="ground-\d" name="ground" required type="radio" value="(\w+)">', form
    )
    assert radios == ["complexity", "number_of_requests"]
    assert "La complexité de la demande" in form
    assert "Le nombre de demandes" in form


def test_an_extension_keeps_audits_shows_and_emails_its_ground(
    app: Flask, dpo: FlaskClient
) -> None:
    engine = db.get_engine(app)
    request = new_request(app, status=Status.IN_REVIEW)
    explanation = "Forty <b>separate</b> requests reached us this week."
    data = {"months": "2", "ground": "number_of_requests", "reason": explanation}
    code, page = post(dpo, request, "extend", data, EN)

    assert code == 303
    after = reloaded(engine, request.id)
    assert (after.extension_months, after.extension_ground) == (2, "number_of_requests")
    assert last_event(engine, request.id).details == {"months": 2, "ground": "number_of_requests"}
    extension = page.split('<dd class="extension">')[1].split("</dd>")[0]
    assert "By 2 month(s)." in extension
    assert "<strong>The number of requests</strong>" in extension
    assert html.escape(explanation, quote=False) in extension
    (mail,) = queued_texts(engine, request.id)
    assert "The ground for this extension is the number of requests we have to answer" in mail
    assert explanation in mail

    # Once the request is closed, its page still says why it was extended.
    code, page = post(dpo, after, "deny", {"reason": "Manifestly excessive."}, FR)
    assert code == 303
    assert reloaded(engine, request.id).status is Status.DENIED
    assert "<strong>Le nombre de demandes</strong>" in page


# --- the free question --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "headers", "says"),
    [
        (
            "Pouvez-vous nous envoyer une copie de votre pièce d'identité ?",
            FR,
            "Cette question demande une pièce d'identité (pièce d'identité) : utilisez plutôt "
            "l'action « Demander une pièce d'identité »",
        ),
        (
            "Please send us a scan of your PASSPORT.",
            EN,
            'This question asks for an identity document (passport): use the action "Ask for an '
            'identity document" instead',
        ),
    ],
    ids=["fr", "en"],
)
def test_the_free_question_refuses_to_ask_for_an_identity_document(
    app: Flask, dpo: FlaskClient, question: str, headers: dict[str, str], says: str
) -> None:
    engine = db.get_engine(app)
    request = new_request(app, status=Status.IN_REVIEW)
    before = counts(engine, request.id)
    code, page = post(dpo, request, "ask", {"question": question}, headers)

    assert code == 400
    assert says in html.unescape(page)
    assert question in html.unescape(page)  # kept in the form, to be rephrased
    after = reloaded(engine, request.id)
    assert (after.status, after.version_id) == (Status.IN_REVIEW, request.version_id)
    assert counts(engine, request.id) == before


def test_the_identity_action_still_asks_for_a_document_with_its_reason(
    app: Flask, dpo: FlaskClient
) -> None:
    engine = db.get_engine(app)
    request = new_request(app, status=Status.IN_REVIEW)
    reason = "Two accounts share this address: we need your carte d'identité to tell them apart."
    code, _ = post(dpo, request, "identity", {"reason": reason}, EN)
    assert code == 303
    assert reloaded(engine, request.id).status is Status.AWAITING_REQUESTER
    assert last_event(engine, request.id).details == {"asked_for": "identity_document"}


@pytest.mark.databases("sqlite")
@pytest.mark.parametrize(
    "question", ["Merci de joindre votre CNI.", "Could you attach a copy of your driver's license?"]
)
def test_asking_for_a_document_by_the_free_question_is_refused_by_the_service_too(
    store: Engine, question: str
) -> None:
    """Whatever calls it (the dashboard, a future API), the operation itself refuses."""
    request = make_request(store, status=Status.IN_REVIEW)
    before = counts(store, request.id)
    with db.open_session(store) as session:
        loaded = session.get(DataRequest, request.id)
        assert loaded is not None
        with pytest.raises(OperationRefused, match="Ask for an identity document"):
            staff_actions.ask_requester(
                db_session=session,
                request=loaded,
                version_id=loaded.version_id,
                staff_label="dpo@example.org",
                question=question,
                now=NOW,
                links=LINKS,
            )
    assert reloaded(store, request.id).status is Status.IN_REVIEW
    assert counts(store, request.id) == before
