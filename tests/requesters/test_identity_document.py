"""The identity document asked for with its reason (R46): the requester sends one file from the
status page, kept sealed and opened by admins and DPOs only; recording the check resumes the
review (or refuses the request) and deletes the document's bytes in the same transaction; one
never checked is deleted when the request closes; bad input is refused with nothing kept."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from io import BytesIO

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlmodel import col, select
from werkzeug.test import TestResponse

from dsr import db
from dsr.accounts.models import StaffRole
from dsr.audit.models import RequestEvent
from dsr.documents.models import DocumentKind, RemovalCause, RequestDocument
from dsr.outbox.models import OutboxMessage
from dsr.requests.models import DataRequest
from dsr.requests.workflow import Status
from tests.dashboard.conftest import logged_in
from tests.factories import make_request
from tests.pages import csrf_token

JPEG = b"\xff\xd8\xff\xe0" + b"carte d'identite " * 200
STATUS_PATH = re.compile(r"(/status/[A-Za-z0-9._-]+)")


def english(client: FlaskClient) -> FlaskClient:
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en-GB,en;q=0.9"
    return client


def version_of(html: str) -> str:
    return html.split('name="version_id" type="hidden" value="', 1)[1].split('"', 1)[0]


def asked_for_identity(app: Flask, dpo: FlaskClient) -> tuple[str, int, str]:
    """A request in review, then staff ask for an identity document with its reason; return its
    reference, id and the path of the status page emailed to the requester."""
    with db.transaction(db.get_engine(app)) as session:
        made = make_request(session, status=Status.IN_REVIEW, received_at=datetime.now(UTC))
        reference, request_id = made.reference, made.id
    assert request_id is not None
    page = dpo.get(f"/dashboard/requests/{reference}")
    asked = dpo.post(
        f"/dashboard/requests/{reference}/identity",
        data={
            "csrf_token": csrf_token(page),
            "version_id": version_of(page.get_data(as_text=True)),
            "reason": "Two accounts share this address: we must know which one is yours.",
        },
    )
    assert asked.status_code == 303
    with db.open_session(db.get_engine(app)) as session:
        mail = session.exec(
            select(OutboxMessage)
            .where(OutboxMessage.request_id == request_id)
            .order_by(col(OutboxMessage.id).desc())
        ).first()
    assert mail is not None
    found = STATUS_PATH.search(mail.text_body)
    assert found is not None
    return reference, request_id, found.group(1)


def send_document(
    client: FlaskClient, status_path: str, data: bytes, name: str = "cni.jpg"
) -> TestResponse:
    page = client.get("/")  # the session's token, as any page gives it
    return client.post(
        f"{status_path}/identity-document",
        data={"csrf_token": csrf_token(page), "document": (BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def documents(app: Flask) -> list[RequestDocument]:
    with db.open_session(db.get_engine(app)) as session:
        return list(session.exec(select(RequestDocument).order_by(col(RequestDocument.id))).all())


def status_of(app: Flask, request_id: int) -> Status:
    with db.open_session(db.get_engine(app)) as session:
        found = session.get(DataRequest, request_id)
        assert found is not None
        return found.status


def check_identity(dpo: FlaskClient, reference: str, **data: str) -> TestResponse:
    page = dpo.get(f"/dashboard/requests/{reference}")
    return dpo.post(
        f"/dashboard/requests/{reference}/identity-check",
        data={
            "csrf_token": csrf_token(page),
            "version_id": version_of(page.get_data(as_text=True)),
            **data,
        },
    )


def test_the_requester_sends_the_document_staff_check_it_and_its_bytes_are_gone(
    app: Flask, client: FlaskClient
) -> None:
    english(client)
    dpo = english(logged_in(app, "dpo@example.org"))
    auditor = logged_in(app, "auditor@example.org", StaffRole.AUDITOR)
    reference, request_id, status_path = asked_for_identity(app, dpo)

    page = client.get(status_path).get_data(as_text=True)
    assert "Send the identity document we asked for" in page
    assert 'enctype="multipart/form-data"' in page
    sent = send_document(client, status_path, JPEG)
    assert sent.status_code == 302
    assert "We received your identity document" in client.get(status_path).get_data(as_text=True)
    [document] = documents(app)
    assert document.kind is DocumentKind.IDENTITY_DOCUMENT and document.added_by == "requester"
    assert status_of(app, request_id) is Status.AWAITING_REQUESTER
    # A second file is not taken while the first waits for its check.
    assert send_document(client, status_path, JPEG).status_code == 409

    # Staff only: the admins and DPOs download it; an auditor cannot, nor the requester.
    opened = dpo.get(f"/dashboard/requests/{reference}/documents/{document.id}")
    assert opened.status_code == 200 and opened.data == JPEG
    assert (
        auditor.get(f"/dashboard/requests/{reference}/documents/{document.id}").status_code == 403
    )
    assert client.get(f"/dashboard/requests/{reference}/documents/{document.id}").status_code in (
        302,
        401,
        403,
    )

    checked = check_identity(dpo, reference, outcome="confirmed", note="Photo and name match")
    assert checked.status_code == 303
    assert status_of(app, request_id) is Status.IN_REVIEW
    [document] = documents(app)
    assert document.removal_cause is RemovalCause.CHECKED and document.size == len(JPEG)
    with db.open_session(db.get_engine(app)) as session:
        raw = session.execute(
            text("SELECT sealed_content, sealed_name FROM dsr_request_document")
        ).one()
        assert raw.sealed_content is None and raw.sealed_name is None
        events = session.exec(
            select(RequestEvent)
            .where(RequestEvent.request_id == request_id)
            .where(RequestEvent.action == "identity_checked")
        ).all()
    [event] = events
    assert event.facts["outcome"] == "confirmed" and event.facts["method"] == "identity_document"
    assert dpo.get(f"/dashboard/requests/{reference}/documents/{document.id}").status_code == 404


def test_an_identity_not_confirmed_refuses_the_request_and_deletes_the_document(
    app: Flask, client: FlaskClient
) -> None:
    dpo = english(logged_in(app, "dpo@example.org"))
    reference, request_id, status_path = asked_for_identity(app, dpo)
    assert send_document(client, status_path, JPEG).status_code == 302

    no_reason = check_identity(dpo, reference, outcome="not_confirmed")
    assert no_reason.status_code == 400
    assert "Say why the identity is not confirmed" in no_reason.get_data(as_text=True)
    assert documents(app)[0].sealed_content is not None

    refused = check_identity(
        dpo, reference, outcome="not_confirmed", note="The name differs from the account's."
    )
    assert refused.status_code == 303
    assert status_of(app, request_id) is Status.DENIED
    [document] = documents(app)
    assert document.sealed_content is None and document.removal_cause is RemovalCause.CHECKED


def test_a_document_never_checked_is_deleted_when_the_request_closes(
    app: Flask, client: FlaskClient
) -> None:
    dpo = english(logged_in(app, "dpo@example.org"))
    _reference, request_id, status_path = asked_for_identity(app, dpo)
    assert send_document(client, status_path, JPEG).status_code == 302

    cancel = client.get(f"{status_path}/cancel")
    assert (
        client.post(f"{status_path}/cancel", data={"csrf_token": csrf_token(cancel)}).status_code
        == 302
    )

    assert status_of(app, request_id) is Status.CANCELLED
    [document] = documents(app)
    assert document.sealed_content is None and document.removal_cause is RemovalCause.CLOSED


def test_a_bad_file_or_no_file_is_refused_and_nothing_is_kept(
    app: Flask, client: FlaskClient
) -> None:
    english(client)
    dpo = english(logged_in(app, "dpo@example.org"))
    _reference, _request_id, status_path = asked_for_identity(app, dpo)

    program = send_document(client, status_path, b"MZ\x90\x00", "cni.exe")
    assert program.status_code == 400
    assert "Send a PDF, a PNG or JPEG image" in program.get_data(as_text=True)
    page = client.get(status_path)
    empty = client.post(
        f"{status_path}/identity-document",
        data={"csrf_token": csrf_token(page)},
        content_type="multipart/form-data",
    )
    assert empty.status_code == 400
    assert "Choose the file to send." in empty.get_data(as_text=True)
    assert documents(app) == []


def test_no_document_is_taken_when_none_was_asked_for(app: Flask, client: FlaskClient) -> None:
    dpo = english(logged_in(app, "dpo@example.org"))
    reference, _request_id, status_path = asked_for_identity(app, dpo)
    # An answer by phone resumes the review: the upload is no longer offered.
    page = dpo.get(f"/dashboard/requests/{reference}")
    dpo.post(
        f"/dashboard/requests/{reference}/resume",
        data={
            "csrf_token": csrf_token(page),
            "version_id": version_of(page.get_data(as_text=True)),
            "reason": "She called and gave her customer number.",
        },
    )
    assert "Send the identity document" not in client.get(status_path).get_data(as_text=True)
    assert send_document(client, status_path, JPEG).status_code == 409
    assert documents(app) == []
