"""The audit log page: the chain's verification up front, filters by reference, actor kind,
action and date, pages, and a CSV export whose cells cannot run as spreadsheet formulas."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import update
from sqlmodel import select

from dsr import db
from dsr.audit.models import RequestEventContent, record_action, remove_content
from dsr.db import table_of
from dsr.requests.models import DataRequest
from dsr.requests.workflow import Actor
from tests.dashboard.staff_pages import ROLES, StaffClient, app_config, staff_client
from tests.factories import make_request

__all__ = ["app_config", "staff_client"]  # the fixtures used here

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _fill_log(app: Flask) -> tuple[str, str]:
    """Two requests; the first with a staff note whose reason looks like a formula."""
    with db.transaction(db.get_engine(app)) as session:
        first = make_request(session, received_at=AT)
        second = make_request(session, received_at=AT + timedelta(days=3))
        record_action(
            db_session=session,
            request=first,
            actor=Actor.STAFF,
            actor_label="dpo@desk.example",
            action="note_added",
            at=AT + timedelta(days=1),
            reason='=HYPERLINK("http://evil.example","click")',
            details={"text": "+33 1 23 45 67 89"},
        )
        record_action(
            db_session=session,
            request=second,
            actor=Actor.SYSTEM,
            action="@reminder_sent",
            at=AT + timedelta(days=4),
            reason="-1+2",
        )
        return first.reference, second.reference


@pytest.mark.parametrize("role", ROLES)
def test_the_log_shows_to_every_role_with_its_verification(
    app: Flask, staff_client: StaffClient, role: str
) -> None:
    first, second = _fill_log(app)

    page = staff_client(role).get("/dashboard/audit")

    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "The audit log is intact." in text
    assert "Events checked against their hash chain: 4." in text
    assert first in text and second in text
    assert 'for="reference"' in text and 'id="reference"' in text


def test_filters_narrow_the_events(app: Flask, staff_client: StaffClient) -> None:
    first, second = _fill_log(app)
    client = staff_client("auditor")

    def shown(query: str) -> str:
        page = client.get(f"/dashboard/audit?{query}")
        assert page.status_code == 200
        return page.get_data(as_text=True)

    by_reference = shown(f"reference={first.lower()}")
    assert "Matching events: 2." in by_reference and second not in by_reference
    assert "Matching events: 1." in shown("actor_kind=system")
    assert "Matching events: 1." in shown("action=note_added")
    # 2 March 2026 in Paris holds the two first events (the submission and nothing else).
    assert "Matching events: 1." in shown("since=2026-03-02&until=2026-03-02")
    assert "Matching events: 2." in shown("since=2026-03-05")
    # Values that are not valid are ignored, not a failure.
    assert "Matching events: 4." in shown("since=yesterday&actor_kind=robot&action=nope")


def test_the_log_is_paged(app: Flask, staff_client: StaffClient) -> None:
    with db.transaction(db.get_engine(app)) as session:
        request = make_request(session, received_at=AT)
        for minute in range(60):
            record_action(
                db_session=session,
                request=request,
                actor=Actor.SYSTEM,
                action="reminder_sent",
                at=AT + timedelta(minutes=minute + 1),
            )
    client = staff_client("dpo")

    first = client.get("/dashboard/audit").get_data(as_text=True)
    second = client.get("/dashboard/audit?page=2").get_data(as_text=True)

    assert "Page 1 of 2" in first and "?page=2" in first
    assert "Page 2 of 2" in second
    assert "<td>1</td>" in second and "<td>1</td>" not in first


def test_a_tampered_log_is_reported_up_front(app: Flask, staff_client: StaffClient) -> None:
    _fill_log(app)
    with db.transaction(db.get_engine(app)) as session:
        events = table_of(RequestEventContent)
        session.execute(update(events).where(events.c.sequence == 3).values(reason="changed"))

    page = staff_client("auditor").get("/dashboard/audit")

    text = page.get_data(as_text=True)
    assert 'role="alert"' in text
    assert "The audit log was altered after it was written." in text
    assert "The content of event #3 was edited" in text


def test_the_csv_export_neutralises_formulas(app: Flask, staff_client: StaffClient) -> None:
    first, _second = _fill_log(app)

    export = staff_client("auditor").get(f"/dashboard/audit.csv?reference={first}")

    assert export.status_code == 200
    assert export.mimetype == "text/csv"
    assert export.headers["Content-Disposition"].startswith("attachment;")
    body = export.get_data().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0][:3] == ["sequence", "at_utc", "request"]
    assert [row[5] for row in rows[1:]] == ["submitted", "note_added"]
    note = rows[2]
    assert note[8] == '\'=HYPERLINK("http://evil.example","click")'
    assert note[9] == '{"text": "+33 1 23 45 67 89"}'
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@"))


def test_the_csv_export_neutralises_every_column(app: Flask, staff_client: StaffClient) -> None:
    _fill_log(app)

    body = staff_client("dpo").get("/dashboard/audit.csv?actor_kind=system").get_data()

    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert len(rows) == 2
    assert rows[1][5] == "'@reminder_sent"
    assert rows[1][8] == "'-1+2"


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ("en", "Content removed on March 3, 2031 (retention)."),
        ("fr", "Contenu supprimé le 3 mars 2031 (conservation)."),
    ],
)
def test_an_event_whose_content_was_minimised_says_so(
    app: Flask, staff_client: StaffClient, language: str, said: str
) -> None:
    first, _second = _fill_log(app)
    with db.transaction(db.get_engine(app)) as session:
        request = session.exec(select(DataRequest).where(DataRequest.reference == first)).one()
        remove_content(db_session=session, request=request, at=datetime(2031, 3, 3, 8, tzinfo=UTC))
    client = staff_client("auditor")
    headers = {"Accept-Language": language}

    log = client.get("/dashboard/audit", headers=headers).get_data(as_text=True)
    history = client.get(f"/dashboard/requests/{first}", headers=headers).get_data(as_text=True)
    export = client.get("/dashboard/audit.csv").get_data(as_text=True)

    for text in (log, history):
        assert said in text
        assert "HYPERLINK" not in text and "+33 1 23" not in text
    assert "+33 1 23" not in export and "HYPERLINK" not in export
    assert 'role="alert"' not in log
