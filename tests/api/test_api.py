"""The JSON API through the Flask test client, on SQLite and PostgreSQL: filing, idempotency,
authentication, ownership, cancellation, rate limits and the OpenAPI document."""

from __future__ import annotations

import json
import re

import pytest
from flask import Flask
from openapi_spec_validator import validate
from sqlmodel import col, select

from dsr import db
from dsr.api.models import ApiToken
from dsr.audit.models import RequestEvent
from dsr.links import DEVELOPMENT_PUBLIC_URL
from dsr.requests.models import Channel, DataRequest
from dsr.requests.workflow import Action, Actor, Status
from tests.api.conftest import (
    ApiCaller,
    assert_problem,
    issue_token,
    new_request,
    stored_counts,
)
from tests.conftest import MakeApp
from tests.factories import staff_moves
from tests.smtp_server import SmtpServer

pytestmark = pytest.mark.databases("sqlite", "postgresql")

PUBLIC = re.escape(DEVELOPMENT_PUBLIC_URL)  # links start with it, whatever Host was asked
STATUS_LINK = re.compile(PUBLIC + r"/status/[A-Za-z0-9._-]+")


def stored(app: Flask, reference: str) -> DataRequest:
    with db.open_session(db.get_engine(app)) as session:
        return session.exec(select(DataRequest).where(DataRequest.reference == reference)).one()


def advance(app: Flask, reference: str, *actions: Action) -> None:
    """Move a request on as staff would, each step audited, in one transaction."""
    staff_moves(db.get_engine(app), reference, *actions)


# --- filing -----------------------------------------------------------------------------------


def test_a_request_is_filed_verified_and_the_learner_gets_the_status_link(
    app: Flask, platform: ApiCaller, smtp_server: SmtpServer
) -> None:
    response = platform.post(new_request(message="<script>alert(1)</script>"))

    assert response.status_code == 201, response.get_data(as_text=True)
    document = response.get_json()
    reference = document["reference"]
    assert response.headers["Location"] == f"/api/v1/requests/{reference}"
    assert document["status"] == "verified"
    assert document["subject_request_type"] == "access"
    assert document["language"] == "en"
    assert document["verified_at"] == document["received_at"]
    assert document["due_at"].endswith("Z")
    assert document["status_callback_urls"] == []
    assert "zoe" not in response.get_data(as_text=True)  # no personal data in the answer

    request = stored(app, reference)
    assert request.status is Status.VERIFIED
    assert request.created_via is Channel.API
    assert request.message == "<script>alert(1)</script>"  # kept as sent, escaped when shown
    assert request.status_token_hash is not None
    with db.open_session(db.get_engine(app)) as session:
        events = session.exec(
            select(RequestEvent)
            .where(RequestEvent.request_id == request.id)
            .order_by(col(RequestEvent.sequence))
        ).all()
    assert [(e.action, e.actor_kind, e.actor_label) for e in events] == [
        ("submitted", Actor.SYSTEM, "API client learner-platform"),
        ("verify_email", Actor.SYSTEM, "API client learner-platform"),
    ]
    assert events[1].reason == "verified by API client learner-platform"

    (mail,) = smtp_server.wait_for(1)
    assert mail.message["To"] == "zoe.lefevre@example.org"
    assert reference in mail.text
    assert STATUS_LINK.search(mail.text)

    shown = platform.get(response.headers["Location"])
    assert shown.status_code == 200
    assert shown.get_json() == document | {"due_at": shown.get_json()["due_at"]}


def test_a_rectification_says_what_to_correct(platform: ApiCaller) -> None:
    response = platform.post(
        new_request(subject_request_type="rectification", rectification="My name is Zoé.")
    )
    assert response.status_code == 201
    assert response.get_json()["subject_request_type"] == "rectification"


def test_post_mortem_directives_name_the_designated_person(app: Flask, platform: ApiCaller) -> None:
    response = platform.post(
        new_request(
            subject_request_type="post_mortem",
            message="Erase my account after my death.",
            designee_name="Inès Lefèvre",
            designee_email="ines@example.org",
        )
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    assert "ines" not in response.get_data(as_text=True).lower()  # no personal data back
    request = stored(app, response.get_json()["reference"])
    assert (request.designee_name, request.designee_email) == ("Inès Lefèvre", "ines@example.org")
    missing = platform.post(
        new_request(subject_request_type="post_mortem", message="Erase my account.")
    )
    assert missing.status_code == 422
    assert "Name the person" in missing.get_json()["detail"]
    unexpected = platform.post(new_request(designee_name="Inès", designee_email="i@example.org"))
    assert unexpected.status_code == 422
    situation = platform.post(new_request(subject_request_type="objection_legitimate_interest"))
    assert situation.status_code == 422
    assert "particular situation" in situation.get_json()["detail"]


# --- idempotency ------------------------------------------------------------------------------


def test_a_retried_post_returns_the_same_request(
    app: Flask, platform: ApiCaller, smtp_server: SmtpServer
) -> None:
    first = platform.post(new_request(), key="3f1c2a9e-retry")
    again = platform.post(new_request(), key="3f1c2a9e-retry")

    assert first.status_code == 201
    assert again.status_code == 200
    assert again.headers["Idempotency-Replayed"] == "true"
    assert again.get_json()["reference"] == first.get_json()["reference"]
    assert again.headers["Location"] == first.headers["Location"]
    assert stored_counts(app)["DataRequest"] == 1
    smtp_server.wait_for(1)
    assert len(smtp_server.messages) == 1  # one email, not one per retry

    other_key = platform.post(new_request(), key="another-key")
    assert other_key.status_code == 201
    assert other_key.get_json()["reference"] != first.get_json()["reference"]


def test_the_same_key_with_another_body_is_refused(app: Flask, platform: ApiCaller) -> None:
    platform.post(new_request(), key="k-1")
    before = stored_counts(app)

    changed = platform.post(new_request(subject_request_type="erasure"), key="k-1")
    problem = assert_problem(changed, 422)
    assert problem["type"].endswith("/idempotency-key-reused")
    assert "Idempotency-Key" in problem["detail"]

    urls = platform.post(new_request(status_callback_urls=["https://example.org/h"]), key="k-1")
    assert_problem(urls, 422)
    assert stored_counts(app) == before


def test_idempotency_keys_belong_to_one_client(app: Flask, platform: ApiCaller) -> None:
    crm = ApiCaller(app.test_client(), issue_token(app, "crm"))
    mine = platform.post(new_request(), key="shared-key")
    theirs = crm.post(new_request(), key="shared-key")
    assert mine.status_code == theirs.status_code == 201
    assert mine.get_json()["reference"] != theirs.get_json()["reference"]


# --- authentication ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer dsr_not-a-token", "Basic dXNlcjpwYXNz", "Bearer ", "Bearer " + "x" * 5000],
    ids=["missing", "wrong", "basic", "empty", "overlong"],
)
def test_calls_without_a_valid_token_are_refused(
    app: Flask, platform: ApiCaller, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    client = app.test_client()
    before = stored_counts(app)

    for response in (
        client.post("/api/v1/requests", json=new_request(), headers=headers),
        client.get("/api/v1/requests/DSR-2026-000001", headers=headers),
        client.delete("/api/v1/requests/DSR-2026-000001", headers=headers),
        client.get("/api/v1/client", headers=headers),
    ):
        assert_problem(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert stored_counts(app) == before


def test_a_revoked_token_is_refused_and_use_is_recorded(app: Flask, platform: ApiCaller) -> None:
    assert platform.get("/api/v1/client").status_code == 200
    with db.transaction(db.get_engine(app)) as session:
        row = session.exec(select(ApiToken)).one()
        assert row.last_used_at is not None
        row.revoked_at = db.utcnow()

    refused = platform.post(new_request())
    assert_problem(refused, 401)
    assert stored_counts(app)["DataRequest"] == 0


def test_the_client_reads_its_callback_secret(app: Flask, platform: ApiCaller) -> None:
    crm = ApiCaller(app.test_client(), issue_token(app, "crm"))
    mine = platform.get("/api/v1/client").get_json()
    theirs = crm.get("/api/v1/client").get_json()
    assert mine["name"] == "learner-platform"
    assert re.fullmatch(r"[0-9a-f]{64}", mine["status_callback_secret"])
    assert mine["status_callback_secret"] != theirs["status_callback_secret"]


# --- ownership and cancellation ---------------------------------------------------------------


def test_another_clients_request_is_not_found(app: Flask, platform: ApiCaller) -> None:
    crm = ApiCaller(app.test_client(), issue_token(app, "crm"))
    location = platform.post(new_request()).headers["Location"]

    assert_problem(crm.get(location), 404)
    assert_problem(crm.delete(location), 404)
    assert stored(app, location.rsplit("/", 1)[1]).status is Status.VERIFIED
    assert_problem(platform.get("/api/v1/requests/DSR-2026-999999"), 404)
    assert_problem(platform.get("/api/v1/requests/not%00a-reference"), 404)


def test_cancel_then_too_late(app: Flask, platform: ApiCaller, smtp_server: SmtpServer) -> None:
    location = platform.post(new_request()).headers["Location"]
    cancelled = platform.delete(location)
    assert cancelled.status_code == 200
    assert cancelled.get_json()["status"] == "cancelled"
    assert platform.delete(location).get_json()["status"] == "cancelled"  # harmless twice
    smtp_server.wait_for(2)  # the status link, then the cancellation

    processing = platform.post(new_request(subject_request_type="erasure")).headers["Location"]
    reference = processing.rsplit("/", 1)[1]
    advance(app, reference, Action.START_REVIEW, Action.APPROVE, Action.START_PROCESSING)
    before = stored_counts(app)
    refused = assert_problem(platform.delete(processing), 409)
    assert "cannot be cancelled" in refused["detail"]
    assert stored(app, reference).status is Status.PROCESSING
    assert stored_counts(app) == before


# --- rate limit -------------------------------------------------------------------------------


def test_calls_are_limited_per_token(make_app: MakeApp) -> None:
    app = make_app(API_RATE_LIMIT="2/minute")
    platform = ApiCaller(app.test_client(), issue_token(app, "learner-platform"))
    crm = ApiCaller(app.test_client(), issue_token(app, "crm"))

    assert platform.get("/api/v1/client").status_code == 200
    assert platform.get("/api/v1/client").status_code == 200
    limited = assert_problem(platform.get("/api/v1/client"), 429)
    assert limited["title"] == "Too Many Requests"
    assert crm.get("/api/v1/client").status_code == 200  # another token counts on its own


# --- the OpenAPI document ---------------------------------------------------------------------


def test_the_openapi_document_describes_every_route(app: Flask) -> None:
    response = app.test_client().get("/api/v1/openapi.json")  # public: no token
    assert response.status_code == 200
    document = json.loads(response.get_data(as_text=True))
    validate(document)
    assert document["openapi"].startswith("3.1")
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"

    routes = {
        (method.lower(), re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/")
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }
    assert routes
    documented = {
        (method, path)
        for path, operations in document["paths"].items()
        for method in operations
        if method != "parameters"
    }
    assert routes == documented
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            codes = set(operation["responses"])
            assert {"405", "429"} <= codes, (method, path)
            if operation.get("security") != []:
                assert "401" in codes, (method, path)


def test_the_400_for_nul_and_lone_surrogates_is_documented_where_it_happens(
    app: Flask, platform: ApiCaller
) -> None:
    document = json.loads(app.test_client().get("/api/v1/openapi.json").get_data())
    responses = document["components"]["responses"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            reference = operation["responses"].get("400", {}).get("$ref", "")
            documented = responses[reference.rsplit("/", 1)[-1]]["description"]
            assert "NUL" in documented, (method, path)
            concrete = path.replace("{reference}", "DSR-2026-000001")
            answer = platform.client.open(
                f"{concrete}?q=%00", method=method.upper(), headers=platform.headers()
            )
            assert_problem(answer, 400)
            if "requestBody" in operation:
                assert "lone surrogate" in documented, (method, path)
                for body in (b'{"message": "a\\u0000b"}', b'{"\\ud800": 1}'):
                    answer = platform.client.open(
                        concrete,
                        method=method.upper(),
                        data=body,
                        content_type="application/json",
                        headers=platform.headers(),
                    )
                    assert_problem(answer, 400)


def test_a_bug_is_a_problem_document_too(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(TESTING=False)
    platform = ApiCaller(app.test_client(), issue_token(app, "learner-platform"))

    def broken(**_kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr("dsr.requests.api_filing.submit_verified_request", broken)
    problem = assert_problem(platform.post(new_request()), 500)
    assert "a bug" not in json.dumps(problem)
    assert stored_counts(app)["DataRequest"] == 0
