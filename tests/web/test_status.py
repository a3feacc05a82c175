"""The status page reached through the emailed link: what it shows, in which language, and what
the requester can do there (cancel while allowed, answer when asked)."""

from __future__ import annotations

import html
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import select

from dsr import db
from dsr.datamap import DEFAULT_MAP_PATH
from dsr.db import utcnow
from dsr.requests.deadlines import deadline_for
from dsr.requests.models import DataRequest
from dsr.requests.status import change_status
from dsr.requests.workflow import Action, Actor, Status
from tests.conftest import MakeApp
from tests.smtp_server import SmtpServer
from tests.web.conftest import follow_to_status, stored_requests, submit

PARIS = ZoneInfo("Europe/Paris")


def _page(client: FlaskClient, path: str) -> str:
    answered = client.get(path)
    assert answered.status_code == 200
    return html.unescape(answered.get_data(as_text=True))


def _staff(app: Flask, *actions: Action) -> None:
    """Move the only request on as staff would, auditing each step."""
    with db.transaction(db.get_engine(app)) as session:
        data_request = session.exec(select(DataRequest)).one()
        for action in actions:
            change_status(
                db_session=session,
                request=data_request,
                action=action,
                actor=Actor.STAFF,
                at=utcnow(),
                actor_label="dpo@example.org",
            )


def test_the_page_shows_the_request_with_localised_dates(
    app: Flask, client: FlaskClient, smtp_server: SmtpServer
) -> None:
    status_path = follow_to_status(client, smtp_server, request_type="portability")
    [data_request] = stored_requests(app)
    received = data_request.received_at.astimezone(PARIS)
    due = data_request.due_at.astimezone(PARIS)

    client.get("/lang/fr")
    french = _page(client, status_path)
    assert data_request.reference in french
    assert "Exporter mes données dans un format réutilisable" in french
    assert "Reçue, en attente d'examen" in french
    assert format_date(received, "long", locale="fr") in french
    assert format_date(due, "long", locale="fr") in french

    client.get("/lang/en")
    english = _page(client, status_path)
    assert "Export my data in a reusable format" in english
    assert "Received, waiting to be reviewed" in english
    assert format_date(due, "long", locale="en") in english
    assert "zoe" not in english.lower()  # no address on the page


def test_the_page_is_kept_out_of_caches_and_referers(
    client: FlaskClient, smtp_server: SmtpServer
) -> None:
    status_path = follow_to_status(client, smtp_server)
    headers = client.get(status_path).headers
    assert headers["Cache-Control"] == "no-store"
    assert headers["Referrer-Policy"] == "no-referrer"


def test_an_unknown_status_link_is_a_404_page(client: FlaskClient) -> None:
    client.get("/lang/en")
    for path in ("/status/nothing-here", "/status/" + "x" * 600, "/status/nothing-here/cancel"):
        answered = client.get(path)
        assert answered.status_code == 404
        assert "This status link is not valid" in answered.get_data(as_text=True)
    cancel = client.post("/status/nothing-here/cancel", data={"csrf_token": _token(client)})
    assert cancel.status_code == 404


def test_the_message_is_shown_escaped(
    app: Flask, client: FlaskClient, smtp_server: SmtpServer
) -> None:
    status_path = follow_to_status(
        client, smtp_server, message="<script>alert('hi')</script> <b>bold</b>"
    )
    page = client.get(status_path).get_data(as_text=True)
    assert "&lt;script&gt;alert(&#39;hi&#39;)&lt;/script&gt; &lt;b&gt;bold&lt;/b&gt;" in page
    assert "<script>" not in page and "<b>" not in page


def test_the_requester_cancels_after_confirming(
    app: Flask, client: FlaskClient, smtp_server: SmtpServer
) -> None:
    client.get("/lang/en")
    status_path = follow_to_status(client, smtp_server)
    assert f'href="{status_path}/cancel"' in _page(client, status_path)
    confirm = _page(client, status_path + "/cancel")
    assert "Yes, cancel my request" in confirm
    assert stored_requests(app)[0].status is Status.VERIFIED  # the GET only asks

    cancelled = submit(client, status_path + "/cancel", {})
    assert cancelled.status_code == 302
    assert cancelled.headers["Location"] == status_path
    assert stored_requests(app)[0].status is Status.CANCELLED
    page = _page(client, status_path)
    assert "Your request is cancelled." in page
    assert "Cancelled" in page
    assert "/cancel" not in page
    assert "cancel" in smtp_server.wait_for(3)[2].message["Subject"].lower()

    again = submit(client, status_path + "/cancel", {})
    assert again.status_code == 302
    assert "This request can no longer be cancelled." in _page(client, status_path)


def test_cancelling_needs_the_csrf_token(
    app: Flask, client: FlaskClient, smtp_server: SmtpServer
) -> None:
    status_path = follow_to_status(client, smtp_server)
    assert client.post(status_path + "/cancel").status_code == 400
    assert stored_requests(app)[0].status is Status.VERIFIED


def test_no_cancel_once_processing_has_started(
    app: Flask, client: FlaskClient, smtp_server: SmtpServer
) -> None:
    client.get("/lang/en")
    status_path = follow_to_status(client, smtp_server)
    _staff(app, Action.START_REVIEW, Action.APPROVE, Action.START_PROCESSING)
    page = _page(client, status_path)
    assert "Being carried out" in page
    assert "/cancel" not in page
    answered = client.post(status_path + "/cancel", data={"csrf_token": _token(client)})
    assert answered.status_code == 302
    assert "This request can no longer be cancelled." in _page(client, status_path)
    assert stored_requests(app)[0].status is Status.PROCESSING


def test_the_requester_answers_a_question_and_the_clock_resumes(
    app: Flask, client: FlaskClient, smtp_server: SmtpServer
) -> None:
    client.get("/lang/en")
    status_path = follow_to_status(client, smtp_server)
    _staff(app, Action.START_REVIEW, Action.ASK_REQUESTER)
    page = _page(client, status_path)
    assert "Waiting for your answer" in page
    assert "The deadline is paused until you answer our question." in page
    assert "Send my answer" in page

    empty = client.post(
        status_path + "/answer",
        data={"csrf_token": _token(client), "message": "   "},
    )
    assert empty.status_code == 400
    assert "Write your answer." in empty.get_data(as_text=True)
    assert stored_requests(app)[0].status is Status.AWAITING_REQUESTER

    answered = client.post(
        status_path + "/answer",
        data={
            "csrf_token": _token(client),
            "message": "My account is <b>zoe42</b>",
        },
    )
    assert answered.status_code == 302
    [data_request] = stored_requests(app)
    assert data_request.status is Status.IN_REVIEW
    assert data_request.paused_since is None
    assert data_request.message is not None and "My account is <b>zoe42</b>" in data_request.message
    page_source = client.get(status_path).get_data(as_text=True)
    assert "your answer was sent" in page_source
    assert "My account is &lt;b&gt;zoe42&lt;/b&gt;" in page_source
    assert "Send my answer" not in page_source


def test_an_answer_nobody_asked_for_is_refused(
    app: Flask, client: FlaskClient, smtp_server: SmtpServer
) -> None:
    client.get("/lang/en")
    status_path = follow_to_status(client, smtp_server)
    answered = client.post(
        status_path + "/answer",
        data={"csrf_token": _token(client), "message": "Hello"},
    )
    assert answered.status_code == 302
    assert "No answer is expected for this request now." in _page(client, status_path)
    assert stored_requests(app)[0].message is None


def _token(client: FlaskClient) -> str:
    """Return the session's CSRF token as rendered in a form of the site."""
    page = client.get("/").get_data(as_text=True)
    return page.split('name="csrf_token" value="')[1].split('"')[0]


def test_a_map_in_another_zone_gives_the_deadline_and_the_dates_on_its_calendar(
    make_app: MakeApp, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    auckland = ZoneInfo("Pacific/Auckland")
    text = DEFAULT_MAP_PATH.read_text(encoding="utf-8")
    assert text.count("organisation:\n  name: POINT3\n") == 1
    map_path = tmp_path / "data_map.yaml"
    map_path.write_text(
        text.replace(
            "organisation:\n  name: POINT3\n",
            "organisation:\n  name: POINT3\n  timezone: Pacific/Auckland\n",
        ),
        encoding="utf-8",
    )
    app = make_app(DATA_MAP=str(map_path))
    client = app.test_client()
    status_path = follow_to_status(client, smtp_server)
    [data_request] = stored_requests(app)
    assert data_request.time_zone == "Pacific/Auckland"
    assert data_request.due_at == deadline_for(data_request.received_at, zone=auckland)
    due_day = data_request.due_at.astimezone(auckland)
    assert (due_day.hour, due_day.minute) == (23, 59)  # by the end of the day in Auckland

    client.get("/lang/en")
    page = _page(client, status_path)
    assert format_date(data_request.received_at.astimezone(auckland), "long", locale="en") in page
    assert format_date(due_day, "long", locale="en") in page
