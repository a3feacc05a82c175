"""A request answered by post (R44) says so to its requester wherever it speaks to them: the
emails still sent to an address they gave (the status link, a question) and the status page never
promise an answer by email; once posted, the page says the answer was posted."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from flask import Flask
from flask.testing import FlaskClient

from dsr import db
from dsr.datamap import organisation_zone
from tests.dashboard.test_channels import (
    _ready_to_send,
    emails,
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
