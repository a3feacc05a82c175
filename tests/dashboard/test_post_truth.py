"""A request answered by post (R44) says so to its requester wherever it speaks to them: the
emails still sent to an address they gave (the status link, a question) and the status page never
promise an answer by email; once posted, the page says the answer was posted. Its refusal is not
emailed either: staff record the refusal letter posted, which answers the request on that day for
the register and the figures (R47)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from flask import Flask
from flask.testing import FlaskClient

from dsr import db
from dsr.dashboard.figures import answered_requests
from dsr.datamap import organisation_zone
from dsr.requests.register import OnTime, Outcome, Period, request_register
from dsr.requests.workflow import Action, Status
from tests.dashboard.test_channels import (
    _ready_to_send,
    emails,
    events,
    local,
    logged_in,
    record,
    stored,
)
from tests.pages import csrf_token

STATUS_PATH = re.compile(r"(/status/[A-Za-z0-9._-]+)")
POSTED_PROMISE = "we will post it to the postal address you gave us"


def english(client: FlaskClient) -> FlaskClient:
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def test_a_request_answered_by_post_never_promises_an_email_answer(
    app: Flask, client: FlaskClient
) -> None:
    english(client)
    dpo = logged_in(app, "dpo@example.org")
    zone = organisation_zone(app.config)
    now = datetime.now(UTC)
    code, _ = record(
        dpo,
        email="zoe@example.org",
        language="en",
        answer_by_post="y",
        received_at=local(now - timedelta(days=3), zone),
    )
    assert code == 303
    [status_link] = emails(app)
    assert POSTED_PROMISE in status_link.text_body
    assert POSTED_PROMISE in (status_link.html_body or "")
    found = STATUS_PATH.search(status_link.text_body)
    assert found is not None
    [request] = stored(app)

    _ready_to_send(db.get_engine(app), request.reference, now)
    page = client.get(found.group(1)).get_data(as_text=True)
    assert "we will post our answer to the address you gave" in page
    assert "by email" not in page

    page_url = f"/dashboard/requests/{request.reference}"
    [current] = stored(app)
    posted = dpo.post(
        f"{page_url}/answer-posted",
        data={
            "csrf_token": csrf_token(dpo.get(page_url)),
            "version_id": str(current.version_id),
            "posted_on": now.astimezone(zone).date().isoformat(),
        },
    )
    assert posted.status_code == 303
    page = client.get(found.group(1)).get_data(as_text=True)
    assert "We posted our answer to the address you gave." in page
    assert "email" not in page.split("Our answer", 1)[1].split("</p>", 1)[0]


def test_a_request_answered_by_email_still_says_so(app: Flask, client: FlaskClient) -> None:
    english(client)
    dpo = logged_in(app, "dpo@example.org")
    zone = organisation_zone(app.config)
    now = datetime.now(UTC)
    record(
        dpo,
        email="zoe@example.org",
        language="en",
        received_at=local(now - timedelta(days=3), zone),
    )
    [status_link] = emails(app)
    assert POSTED_PROMISE not in status_link.text_body
    found = STATUS_PATH.search(status_link.text_body)
    assert found is not None
    [request] = stored(app)
    _ready_to_send(db.get_engine(app), request.reference, now)
    page = client.get(found.group(1)).get_data(as_text=True)
    assert "we will send you our answer by email" in page


def test_a_refusal_answered_by_post_is_answered_when_its_letter_is_posted(app: Flask) -> None:
    dpo = logged_in(app, "dpo@example.org")
    engine = db.get_engine(app)
    zone = organisation_zone(app.config)
    now = datetime.now(UTC)
    received = now - timedelta(days=10)
    assert record(dpo, received_at=local(received, zone))[0] == 303  # a letter, no address
    [request] = stored(app)
    page_url = f"/dashboard/requests/{request.reference}"

    refused = dpo.post(
        f"{page_url}/deny",
        data={
            "csrf_token": csrf_token(dpo.get(page_url)),
            "version_id": str(request.version_id),
            "reason": "Manifestly unfounded.",
        },
    )
    assert refused.status_code == 303
    page = dpo.get(page_url).get_data(as_text=True)
    assert "Record the answer posted" in page and "emails no refusal" in page
    [denied] = stored(app)
    assert denied.status is Status.DENIED and denied.answered_at is None
    today = now.astimezone(zone).date()
    with db.open_session(engine) as session:
        period = Period.checked(received.astimezone(zone).date(), today, zone)
        [row] = request_register(db_session=session, period=period, now=now).rows
        assert row.outcome is Outcome.REFUSED and row.answered_at is None
        assert (
            answered_requests(
                db_session=session, since=now - timedelta(days=30), until=now + timedelta(days=1)
            )
            == []
        )

    def post(posted_on: str) -> int:
        [current] = stored(app)
        return dpo.post(
            f"{page_url}/answer-posted",
            data={
                "csrf_token": csrf_token(dpo.get(page_url)),
                "version_id": str(current.version_id),
                "posted_on": posted_on,
            },
        ).status_code

    assert post((today + timedelta(days=1)).isoformat()) == 400
    assert post(today.isoformat()) == 303

    [answered] = stored(app)
    assert answered.status is Status.DENIED and answered.answered_at is not None
    assert answered.answered_at.astimezone(zone).date() == today
    [posted] = [e for e in events(app, answered.id) if e.action == Action.ANSWER_POSTED.value]
    assert posted.actor_label == "dpo@example.org"
    assert emails(app) == []
    page = dpo.get(page_url).get_data(as_text=True)
    assert "Refusal posted on" in page and "Record the answer posted" not in page
    assert post(today.isoformat()) == 400  # once
    with db.open_session(engine) as session:
        [row] = request_register(db_session=session, period=period, now=now).rows
        assert row.answered_at == answered.answered_at and row.on_time is OnTime.YES
        counted = answered_requests(
            db_session=session, since=now - timedelta(days=30), until=now + timedelta(days=1)
        )
        assert [one.answered_at for one in counted] == [answered.answered_at]


def test_a_refusal_answered_by_post_is_not_emailed_to_the_address_given(app: Flask) -> None:
    dpo = logged_in(app, "dpo@example.org")
    zone = organisation_zone(app.config)
    record(
        dpo,
        email="zoe@example.org",
        answer_by_post="y",
        received_at=local(datetime.now(UTC) - timedelta(days=2), zone),
    )
    [request] = stored(app)
    page_url = f"/dashboard/requests/{request.reference}"
    refused = dpo.post(
        f"{page_url}/deny",
        data={
            "csrf_token": csrf_token(dpo.get(page_url)),
            "version_id": str(request.version_id),
            "reason": "Manifestly unfounded.",
        },
    )
    assert refused.status_code == 303
    assert [m.dedup_key and m.dedup_key.split(":")[0] for m in emails(app)] == ["status-link"]


def test_the_confirmation_email_of_a_request_answered_by_post_says_so(app: Flask) -> None:
    dpo = logged_in(app, "dpo@example.org")
    zone = organisation_zone(app.config)
    code, _ = record(
        dpo,
        email="zoe@example.org",
        language="en",
        answer_by_post="y",
        proof="link",
        identity_method=None,
        received_at=local(datetime.now(UTC) - timedelta(days=1), zone),
    )
    assert code == 303
    [verification] = emails(app)
    assert verification.dedup_key is not None and verification.dedup_key.startswith("verif")
    assert POSTED_PROMISE in verification.text_body
    assert POSTED_PROMISE in (verification.html_body or "")
