"""The identity document asked for one part of a submission (R46, issue 19): the submission's
status page, opened with the link of another part, offers the upload for the part that waits for
it; the file is kept with that part, and the check recorded on that part deletes it. A part of
another submission is not found (404), a missing file is refused (400) with nothing kept."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from io import BytesIO

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from dsr import db
from dsr.datamap import organisation_zone
from dsr.documents.models import DocumentKind, RemovalCause
from dsr.requests.status import change_status
from dsr.requests.workflow import Action, Actor, Status
from tests.dashboard.test_channels import emails, local, record, stored
from tests.pages import csrf_token
from tests.requesters.test_identity_document import (
    JPEG,
    check_identity,
    documents,
    english,
    status_of,
    version_of,
)
from tests.requesters.test_identity_document import logged_in as staff

STATUS_PATH = re.compile(r"(/status/[A-Za-z0-9._-]+)")


def send_for_part(
    client: FlaskClient, status_path: str, part: str, data: bytes | None
) -> TestResponse:
    fields: dict[str, object] = {"csrf_token": csrf_token(client.get("/")), "part": part}
    if data is not None:
        fields["document"] = (BytesIO(data), "cni.jpg")
    return client.post(
        f"{status_path}/identity-document", data=fields, content_type="multipart/form-data"
    )


def test_the_document_asked_for_one_part_is_sent_from_the_submissions_page(
    app: Flask, client: FlaskClient
) -> None:
    english(client)
    dpo = english(staff(app, "dpo@example.org"))
    zone = organisation_zone(app.config)
    code, _ = record(
        dpo,
        language="en",
        email="zoe@example.org",
        request_type="access",
        also_types=["erasure"],
        received_at=local(datetime.now(UTC) - timedelta(days=2), zone),
    )
    assert code == 303
    [status_link] = emails(app)
    found = STATUS_PATH.search(status_link.text_body)
    assert found is not None
    status_path = found.group(1)
    access, erasure = stored(app)
    with db.transaction(db.get_engine(app)) as session:
        part = session.get(type(erasure), erasure.id)
        assert part is not None
        change_status(
            db_session=session,
            request=part,
            action=Action.START_REVIEW,
            actor=Actor.STAFF,
            actor_label="dpo@example.org",
            at=datetime.now(UTC),
        )
    page = dpo.get(f"/dashboard/requests/{erasure.reference}")
    asked = dpo.post(
        f"/dashboard/requests/{erasure.reference}/identity",
        data={
            "csrf_token": csrf_token(page),
            "version_id": version_of(page.get_data(as_text=True)),
            "reason": "Two accounts share this address: we must know which one is yours.",
        },
    )
    assert asked.status_code == 303
    assert erasure.id is not None and access.id is not None
    assert status_of(app, erasure.id) is Status.AWAITING_REQUESTER

    shown = client.get(status_path).get_data(as_text=True)  # the access part's link
    part_block = shown.split(f'id="part-{erasure.reference}"', 1)[1]
    assert "We asked you for an identity document by email for this part" in part_block
    assert f'name="part" value="{erasure.reference}"' in part_block

    assert send_for_part(client, status_path, erasure.reference, None).status_code == 400
    assert send_for_part(client, status_path, "DSR-1999-999999", JPEG).status_code == 404
    assert documents(app) == []

    sent = send_for_part(client, status_path, erasure.reference, JPEG)
    assert sent.status_code == 302
    [document] = documents(app)
    assert document.kind is DocumentKind.IDENTITY_DOCUMENT
    assert document.request_id == erasure.id
    shown = client.get(status_path).get_data(as_text=True)
    assert "We received your identity document for this part" in shown

    checked = check_identity(dpo, erasure.reference, outcome="confirmed", note="Photo matches")
    assert checked.status_code == 303
    [document] = documents(app)
    assert document.removal_cause is RemovalCause.CHECKED and document.sealed_content is None
    assert status_of(app, erasure.id) is Status.IN_REVIEW
