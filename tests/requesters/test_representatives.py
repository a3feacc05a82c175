"""A request made for someone else (R45) through the public form: the representative's proof is
kept sealed, their own address is proven by the link, approval waits for staff to accept the
proof, and the person is the one the request is about; bad input is refused with nothing kept."""

from __future__ import annotations

from io import BytesIO
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import col, select
from werkzeug.test import TestResponse

from dsr import db
from dsr.audit.models import RequestEvent
from dsr.demo.seed import SAMPLE_LEARNER_EMAIL
from dsr.documents.models import DocumentKind, RemovalCause, RequestDocument
from dsr.requests.models import DataRequest, ProofCheck, RequesterRole
from dsr.requests.workflow import Status
from tests.dashboard.conftest import logged_in
from tests.pages import csrf_token
from tests.smtp_server import SmtpServer
from tests.web.conftest import STATUS_LINK, VERIFY_LINK, link_in, stored_requests, submit

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)
REPRESENTATIVE = "maitre.durand@avocats.example"


def english(client: FlaskClient) -> FlaskClient:
    """The client, reading the pages in English."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en-GB,en;q=0.9"
    return client


def file_for_someone_else(client: FlaskClient, **changes: Any) -> TestResponse:
    english(client)
    fields: dict[str, Any] = {
        "email": REPRESENTATIVE,
        "request_type": "access",
        "language": "en",
        "for_someone_else": "y",
        "requester_role": "representative",
        "subject_name": "Zoé Lefèvre",
        "subject_email": f"  {SAMPLE_LEARNER_EMAIL.upper()} ",
        "proof": (BytesIO(PDF), "mandat signé.pdf"),
        "requester_identity": (BytesIO(PNG), "cni.png"),
    }
    fields.update(changes)
    token = csrf_token(client.get("/"))
    data = {"csrf_token": token, **{k: v for k, v in fields.items() if v is not None}}
    return client.post("/", data=data, content_type="multipart/form-data")


def documents(app: Flask) -> list[RequestDocument]:
    with db.open_session(db.get_engine(app)) as session:
        return list(session.exec(select(RequestDocument).order_by(col(RequestDocument.id))).all())


def request_now(app: Flask, request_id: int | None) -> DataRequest:
    with db.open_session(db.get_engine(app)) as session:
        found = session.get(DataRequest, request_id)
        assert found is not None
        return found


def act(staff: FlaskClient, reference: str, action: str, **data: str) -> TestResponse:
    page = staff.get(f"/dashboard/requests/{reference}")
    html = page.get_data(as_text=True)
    version = html.split('name="version_id" type="hidden" value="', 1)[1].split('"', 1)[0]
    return staff.post(
        f"/dashboard/requests/{reference}/{action}",
        data={"csrf_token": csrf_token(page), "version_id": version, **data},
    )


def test_a_representative_files_for_a_person_and_approval_waits_for_the_proof(
    app: Flask, client: FlaskClient, smtp_server: SmtpServer
) -> None:
    before = len(smtp_server.messages)
    assert file_for_someone_else(client).status_code == 302

    [stored] = stored_requests(app)
    assert stored.requester_email == REPRESENTATIVE
    assert stored.requester_role is RequesterRole.REPRESENTATIVE
    assert stored.subject_email == SAMPLE_LEARNER_EMAIL  # normalised
    assert stored.subject_address == SAMPLE_LEARNER_EMAIL  # what the locator is given
    assert stored.subject_name == "Zoé Lefèvre"
    mandate, identity = documents(app)
    assert mandate.kind is DocumentKind.MANDATE and mandate.added_by == "requester"
    assert identity.kind is DocumentKind.IDENTITY_DOCUMENT

    # The representative proves their own address; the person's is not written to.
    verification = smtp_server.wait_for(before + 1)[before]
    assert verification.envelope_recipients == (REPRESENTATIVE,)
    assert submit(client, link_in(verification.text, VERIFY_LINK), {}).status_code == 302
    status_mail = smtp_server.wait_for(before + 2)[before + 1]
    assert status_mail.envelope_recipients == (REPRESENTATIVE,)
    link_in(status_mail.text, STATUS_LINK)

    dpo = english(logged_in(app, "dpo@example.org"))
    reference = stored.reference
    page = dpo.get(f"/dashboard/requests/{reference}").get_data(as_text=True)
    assert "a representative with a mandate" in page and "Zoé Lefèvre" in page
    assert act(dpo, reference, "review").status_code == 303
    refused = act(dpo, reference, "approve")
    assert refused.status_code == 303
    flashed = dpo.get(refused.headers["Location"]).get_data(as_text=True)
    assert "record the check of the proof" in flashed
    assert request_now(app, stored.id).status is Status.IN_REVIEW

    token = csrf_token(dpo.get(f"/dashboard/requests/{reference}"))
    path = f"/dashboard/requests/{reference}/proof-check"
    no_reason = dpo.post(path, data={"csrf_token": token, "outcome": "refused"})
    assert no_reason.status_code == 400
    assert "Say why the proof is refused." in no_reason.get_data(as_text=True)
    assert request_now(app, stored.id).proof_check is None
    accepted = dpo.post(
        path, data={"csrf_token": token, "outcome": "accepted", "reason": "Mandate signed"}
    )
    assert accepted.status_code == 303
    checked = request_now(app, stored.id)
    assert checked.proof_check is ProofCheck.ACCEPTED and checked.proof_checked_at is not None
    # The representative's identity document has served: deleted, the fact kept.
    mandate, identity = documents(app)
    assert mandate.sealed_content is not None
    assert identity.sealed_content is None and identity.removal_cause is RemovalCause.CHECKED

    assert act(dpo, reference, "approve").status_code == 303
    assert request_now(app, stored.id).status is Status.APPROVED
    with db.open_session(db.get_engine(app)) as session:
        actions = session.exec(
            select(RequestEvent.action).where(RequestEvent.request_id == stored.id)
        ).all()
    assert "proof_checked" in actions


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"proof": None}, "Send the proof that you may act for this person."),
        ({"proof": (BytesIO(b"MZ\x90\x00"), "mandat.exe")}, "Send a PDF, a PNG or JPEG image"),
        ({"proof": (BytesIO(b""), "vide.pdf")}, "The file is empty."),
        ({"subject_email": REPRESENTATIVE}, "This is your own address"),
        ({"subject_email": "nobody"}, "Enter a valid email address"),
        ({"subject_name": ""}, "Enter the name of the person."),
        ({"requester_role": "uncle"}, "Choose one of the roles in the list."),
    ],
)
def test_a_request_for_someone_else_with_bad_input_stores_nothing(
    app: Flask, client: FlaskClient, changes: dict[str, Any], message: str
) -> None:
    answer = file_for_someone_else(client, **changes)

    assert answer.status_code == 400
    assert message in answer.get_data(as_text=True)
    assert stored_requests(app) == []
    assert documents(app) == []


def test_the_form_for_oneself_is_unchanged_and_keeps_no_file(
    app: Flask, client: FlaskClient
) -> None:
    answer = file_for_someone_else(
        client,
        for_someone_else=None,
        requester_role=None,
        subject_name=None,
        subject_email=None,
        proof=None,
        requester_identity=None,
    )
    assert answer.status_code == 302
    [stored] = stored_requests(app)
    assert stored.requester_role is RequesterRole.SELF and stored.subject_email is None
    assert stored.subject_address == REPRESENTATIVE
    assert documents(app) == []


def test_the_form_is_offered_in_french(client: FlaskClient) -> None:
    page = client.get("/", headers={"Accept-Language": "fr-FR"}).get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page
    assert "Je fais cette demande pour quelqu" in page


def test_staff_set_a_request_received_by_letter_as_made_for_someone_else(app: Flask) -> None:
    from tests.factories import make_request

    with db.transaction(db.get_engine(app)) as session:
        made = make_request(session, status=Status.IN_REVIEW, email=REPRESENTATIVE)
        reference, request_id = made.reference, made.id
    dpo = english(logged_in(app, "dpo@example.org"))
    token = csrf_token(dpo.get(f"/dashboard/requests/{reference}"))
    path = f"/dashboard/requests/{reference}/for-whom"

    bad = dpo.post(
        path,
        data={"csrf_token": token, "role": "parental_authority", "subject_email": "x"},
    )
    assert bad.status_code == 400
    assert request_now(app, request_id).requester_role is RequesterRole.SELF

    done = dpo.post(
        path,
        data={
            "csrf_token": token,
            "role": "parental_authority",
            "subject_name": "Léo Lefèvre",
            "subject_email": "leo.lefevre@example.org",
        },
    )
    assert done.status_code == 303
    stored = request_now(app, request_id)
    assert stored.requester_role is RequesterRole.PARENTAL_AUTHORITY
    assert stored.subject_address == "leo.lefevre@example.org"
    assert stored.proof_check is None
