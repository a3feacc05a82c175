"""The API files a submission of several things in one call (issue 19): one verified request
per type, one status link, one Idempotency-Key for the whole submission, and clear refusals of a
missing, unknown or repeated type."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlmodel import col, select

from dsr import db
from dsr.api.models import StatusCallback
from dsr.requests.models import DataRequest
from dsr.requests.workflow import RequestType, Status
from tests.api.conftest import ApiCaller, assert_problem, new_request, stored_counts
from tests.smtp_server import SmtpServer

pytestmark = pytest.mark.databases("sqlite", "postgresql", "mariadb")


def several(*types: str, **fields: object) -> dict[str, object]:
    body = new_request(**fields)
    del body["subject_request_type"]
    return body | {"subject_request_types": list(types)}


def stored_parts(app: Flask) -> list[DataRequest]:
    with db.open_session(db.get_engine(app)) as session:
        return list(session.exec(select(DataRequest).order_by(col(DataRequest.id))).all())


def test_several_types_are_filed_as_verified_parts_with_one_status_link(
    app: Flask, platform: ApiCaller, smtp_server: SmtpServer
) -> None:
    response = platform.post(
        several("erasure", "access", status_callback_urls=["https://platform.example/hook"])
    )

    assert response.status_code == 201, response.get_data(as_text=True)
    document = response.get_json()
    access, erasure = stored_parts(app)
    assert (access.type, erasure.type) == (RequestType.ACCESS, RequestType.ERASURE)
    assert document["reference"] == access.reference
    assert document["parts"] == [
        {"reference": access.reference, "subject_request_type": "access", "status": "verified"},
        {"reference": erasure.reference, "subject_request_type": "erasure", "status": "verified"},
    ]
    assert access.group_id == erasure.group_id == access.id
    assert erasure.status is Status.VERIFIED and erasure.received_at == access.received_at
    with db.open_session(db.get_engine(app)) as session:
        hooks = session.exec(select(StatusCallback.request_id)).all()
    assert sorted(hooks) == sorted([access.id, erasure.id])  # each part calls back on its own

    (mail,) = smtp_server.wait_for(1)
    assert access.reference in mail.text

    shown = platform.get(f"/api/v1/requests/{erasure.reference}")
    assert shown.status_code == 200
    assert shown.get_json()["parts"] == document["parts"]


def test_a_retry_files_no_part_again_and_another_list_is_refused(
    app: Flask, platform: ApiCaller, smtp_server: SmtpServer
) -> None:
    first = platform.post(several("access", "erasure"), key="group-retry-1")
    again = platform.post(several("access", "erasure"), key="group-retry-1")

    assert first.status_code == 201
    assert again.status_code == 200
    assert again.headers["Idempotency-Replayed"] == "true"
    assert again.get_json()["parts"] == first.get_json()["parts"]
    assert stored_counts(app)["DataRequest"] == 2
    smtp_server.wait_for(1)
    assert len(smtp_server.messages) == 1

    changed = platform.post(several("access", "portability"), key="group-retry-1")
    assert_problem(changed, 422)
    assert stored_counts(app)["DataRequest"] == 2


def test_a_single_type_document_has_no_parts(platform: ApiCaller) -> None:
    response = platform.post(new_request())
    assert response.status_code == 201
    assert response.get_json()["parts"] == []


@pytest.mark.parametrize(
    ("body", "pointer", "said"),
    [
        (several(), "/subject_request_types", "at least 1"),
        (several("access", "teleportation"), "/subject_request_types/1", ""),
        (several("access", "erasure", "access"), "/subject_request_types", "only once"),
        (
            new_request(subject_request_types=["erasure"]),
            "/subject_request_type",
            "not both",
        ),
        (several("access", "rectification"), "/rectification", "what to correct"),
    ],
    ids=["empty list", "unknown type", "duplicate type", "both fields", "rectification unsaid"],
)
def test_bad_lists_of_types_are_refused_and_nothing_is_stored(
    app: Flask, platform: ApiCaller, body: dict[str, object], pointer: str, said: str
) -> None:
    before = stored_counts(app)
    problem = assert_problem(platform.post(body), 422)
    errors = {error["pointer"]: error["detail"] for error in problem["errors"]}
    assert pointer in errors, errors
    assert said in errors[pointer]
    assert stored_counts(app) == before
