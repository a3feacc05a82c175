"""Finding and following work in the queue (issue 19): the search by part of a reference or of an
address, kept in the box from the session; the saved views with their counts; the assignment of
several requests at once, each recorded as one assignment."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from dsr import db
from dsr.accounts.models import StaffRole, StaffUser
from dsr.audit.models import RequestEvent
from dsr.dashboard.queue import QueueQuery, end_of_week, queue_page
from dsr.requests.assignment import ASSIGN_ACTION
from dsr.requests.deadlines import end_of_day
from dsr.requests.models import Channel, DataRequest, RequesterRole
from dsr.requests.workflow import Status
from tests.accounts.helpers import make_staff
from tests.dashboard.conftest import logged_in
from tests.factories import make_request
from tests.pages import csrf_token

NOW = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)  # a Monday
PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def dpo(dpo: FlaskClient) -> FlaskClient:
    """The suite's DPO, reading English unless a test asks otherwise."""
    dpo.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return dpo


def _with_reference(session: Session, reference: str, email: str, **fields: object) -> None:
    request = make_request(session, email=email, received_at=NOW - timedelta(days=3), **fields)  # type: ignore[arg-type]
    request.reference = reference
    session.flush()


# --- the search, on the three engines -----------------------------------------------------------


@pytest.mark.databases("sqlite", "postgresql", "mariadb")
def test_the_search_finds_part_of_a_reference_or_of_an_address(store: Engine) -> None:
    with db.transaction(store) as session:
        _with_reference(session, "DSR-2026-000008", "zoe.martin@example.org")
        _with_reference(session, "DSR-2025-000008", "Zoé.Durand@example.org")
        _with_reference(session, "DSR-2026-000080", "per%cent@example.org")
        _with_reference(session, "DSR-2026-000081", "under_score@example.org")
        _with_reference(session, "DSR-2026-000082", "ZZ@example.org", status=Status.COMPLETED)

    def found(text: str) -> set[str]:
        with db.open_session(store) as session:
            page = queue_page(db_session=session, query=QueueQuery(search=text), now=NOW)
            return {row.reference for row in page.rows}

    # Digits match the number whatever its padding; the year, when given, narrows it.
    assert found("000008") == {"DSR-2026-000008", "DSR-2025-000008"}
    assert found("8") == {"DSR-2026-000008", "DSR-2025-000008"}
    assert found("2026-8") == {"DSR-2026-000008"}
    assert found(" dsr-2026-000008 ") == {"DSR-2026-000008"}
    assert found("2024-8") == set()
    # Part of an address, whatever the case and the accents, typed or stored.
    assert found("zoe") == {"DSR-2026-000008", "DSR-2025-000008"}
    assert found("ZOÉ") == {"DSR-2026-000008", "DSR-2025-000008"}
    assert found("zoé.durand@") == {"DSR-2025-000008"}
    assert found("e.mar") == {"DSR-2026-000008"}
    # The user's wildcards match themselves only.
    assert found("%") == {"DSR-2026-000080"}
    assert found("_") == {"DSR-2026-000081"}
    assert found("r_c") == set()  # not per%cent
    # A search looks at every status.
    assert found("zz@") == {"DSR-2026-000082"}


@pytest.mark.databases("sqlite", "postgresql", "mariadb")
def test_the_search_finds_a_name_the_request_holds(store: Engine) -> None:
    """By name: the person a representative asks for, the contact details of a letter."""
    with db.transaction(store) as session:
        _with_reference(
            session,
            "DSR-2026-000101",
            "avocat@example.org",
            requester_role=RequesterRole.REPRESENTATIVE,
            subject_email="zoe.lefevre@example.org",
            subject_name="Zoé Lefèvre",
        )
        _with_reference(
            session,
            "DSR-2026-000102",
            "",
            created_via=Channel.LETTER,
            contact_details="Marc LEFÈVRE, 3 rue des Lilas, 69003 Lyon",
        )
        _with_reference(session, "DSR-2026-000103", "someone.else@example.org")

    def found(text: str) -> set[str]:
        with db.open_session(store) as session:
            page = queue_page(db_session=session, query=QueueQuery(search=text), now=NOW)
            return {row.reference for row in page.rows}

    assert found("lefevre") == {"DSR-2026-000101", "DSR-2026-000102"}
    assert found("Zoé Lef") == {"DSR-2026-000101"}
    assert found("zoe.lefevre@") == {"DSR-2026-000101"}  # the person's address
    assert found("rue des lilas") == {"DSR-2026-000102"}
    assert found("avocat") == {"DSR-2026-000101"}
    assert found("dupont") == set()


# --- the search box -----------------------------------------------------------------------------


def _search(client: FlaskClient, **data: str) -> tuple[int, str]:
    page = client.get("/dashboard/")
    answer = client.post("/dashboard/search", data={"csrf_token": csrf_token(page), **data})
    if answer.status_code == 302:
        return 302, client.get(answer.headers["Location"]).get_data(as_text=True)
    return answer.status_code, answer.get_data(as_text=True)


def _box(html: str) -> str:
    found = re.search(r'<input[^>]*name="query"[^>]*>', html)
    assert found is not None
    return found.group(0)


def test_the_search_stays_in_the_box_until_cleared(app: Flask, dpo: FlaskClient) -> None:
    engine = db.get_engine(app)
    zoe = make_request(engine, email="zoe.martin@example.org").reference
    other = make_request(engine, email="someone@example.org").reference
    code, html = _search(dpo, query="zoe")
    assert code == 302
    assert 'value="zoe"' in _box(html)
    assert f"/dashboard/requests/{zoe}" in html and f"/dashboard/requests/{other}" not in html
    # The page after the search again shows it, from the session (the URL says search=1 only).
    assert 'value="zoe"' in _box(dpo.get("/dashboard/?search=1").get_data(as_text=True))
    code, html = _search(dpo, clear="1")
    assert code == 302
    assert 'value="zoe"' not in _box(html)
    assert f"/dashboard/requests/{other}" in html
    assert 'value="zoe"' not in dpo.get("/dashboard/?search=1").get_data(as_text=True)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("   ", "Type part of a reference or of an email address to search for."),
        ("\t\n\x7f", "Type part of a reference or of an email address to search for."),
        ("x" * 255, "Search for at most 254 characters."),
    ],
)
def test_an_empty_or_overlong_search_is_refused_with_a_message(
    app: Flask, dpo: FlaskClient, typed: str, message: str
) -> None:
    make_request(db.get_engine(app))
    code, html = _search(dpo, query=typed)
    assert code == 400
    assert message in html
    assert 'aria-invalid="true"' in _box(html)


def test_the_search_messages_are_in_french(app: Flask, dpo: FlaskClient) -> None:
    dpo.environ_base["HTTP_ACCEPT_LANGUAGE"] = "fr"
    code, html = _search(dpo, query=" ")
    assert code == 400
    assert "Saisissez une partie d" in html


# --- saved views --------------------------------------------------------------------------------


@pytest.mark.databases("sqlite", "postgresql", "mariadb")
def test_due_this_week_is_counted_on_the_organisations_calendar(store: Engine) -> None:
    # Sunday 21 June ends at 21:59:59 UTC in Paris (UTC+2).
    assert end_of_week(NOW, PARIS) == datetime(2026, 6, 21, 21, 59, 59, 999999, tzinfo=UTC)
    with db.transaction(store) as session:
        sunday = make_request(
            session, status=Status.IN_REVIEW, due_at=end_of_day(NOW.date() + timedelta(6), PARIS)
        ).reference
        make_request(
            session, status=Status.IN_REVIEW, due_at=end_of_day(NOW.date() + timedelta(7), PARIS)
        )
        make_request(session, status=Status.IN_REVIEW, due_at=NOW - timedelta(hours=1))
        make_request(
            session, status=Status.COMPLETED, due_at=end_of_day(NOW.date() + timedelta(1), PARIS)
        )
    with db.open_session(store) as session:
        page = queue_page(
            db_session=session, query=QueueQuery(due_this_week=True), now=NOW, zone=PARIS
        )
    assert [row.reference for row in page.rows] == [sunday]


def _views(html: str) -> dict[str, tuple[str, bool]]:
    """The saved views' links: label -> (count, current)."""
    nav = html[html.index('<nav aria-label="Saved views">') :].split("</nav>")[0]
    return {
        label: (count, "aria-current" in attributes)
        for attributes, label, count in re.findall(
            r"<a ([^>]*)>([^<]+)</a>: <strong>(\d+)</strong>", nav
        )
    }


def test_the_saved_views_show_their_counts_and_the_current_one(app: Flask) -> None:
    engine = db.get_engine(app)
    now = datetime.now(UTC)
    today = now.astimezone(PARIS).date()
    dpo = logged_in(app, "lea@example.org", StaffRole.DPO)
    dpo.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    with db.transaction(engine) as session:
        lea = session.exec(select(StaffUser).where(StaffUser.email == "lea@example.org")).one()
        mine = make_request(
            session, status=Status.IN_REVIEW, received_at=now, assignee_id=lea.id
        ).reference
        overdue = make_request(
            session, status=Status.IN_REVIEW, received_at=now - timedelta(days=40)
        ).reference
        # Due by the end of today: due this week, whatever the day.
        this_week = make_request(
            session, status=Status.VERIFIED, due_at=end_of_day(today, PARIS), received_at=now
        ).reference
        waiting = make_request(
            session, status=Status.AWAITING_REQUESTER, received_at=now - timedelta(days=3)
        ).reference

    html = dpo.get("/dashboard/").get_data(as_text=True)
    assert _views(html) == {
        "Mine": ("1", False),
        "Overdue": ("1", False),
        "Due this week": ("1", False),
        "Waiting for the requester": ("1", False),
    }
    for label, url, expected in (
        ("Mine", f"/dashboard/?assignee={lea.id}", mine),
        ("Overdue", "/dashboard/?overdue=1", overdue),
        ("Due this week", "/dashboard/?week=1", this_week),
        ("Waiting for the requester", "/dashboard/?status=awaiting_requester", waiting),
    ):
        assert f'href="{url}"' in html
        shown = dpo.get(url).get_data(as_text=True)
        assert _views(shown)[label][1], label
        assert [name for name, (_, current) in _views(shown).items() if current] == [label]
        listed = re.findall(r'<a href="/dashboard/requests/([^"]+)">', shown)
        assert listed == [expected], label
    # Combined with the status filter: mine and in review.
    shown = dpo.get(f"/dashboard/?assignee={lea.id}&status=verified").get_data(as_text=True)
    assert _views(shown)["Mine"][1]
    assert f"/dashboard/requests/{mine}" not in shown
    french = dpo.get("/dashboard/", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert "En attente du demandeur" in french and "Échéance cette semaine" in french


# --- bulk assignment ----------------------------------------------------------------------------


def _events(engine: Engine, reference: str) -> list[RequestEvent]:
    with db.open_session(engine) as session:
        request = session.exec(select(DataRequest).where(DataRequest.reference == reference)).one()
        return list(
            session.exec(
                select(RequestEvent)
                .where(RequestEvent.request_id == request.id, RequestEvent.action == ASSIGN_ACTION)
                .order_by(col(RequestEvent.sequence))
            ).all()
        )


def _assignee(engine: Engine, reference: str) -> int | None:
    with db.open_session(engine) as session:
        return session.exec(
            select(DataRequest.assignee_id).where(DataRequest.reference == reference)
        ).one()


def test_assign_selected_requests_each_recorded_closed_and_stale_ones_skipped(
    app: Flask, dpo: FlaskClient
) -> None:
    engine = db.get_engine(app)
    with db.transaction(engine) as session:
        bob = make_staff(session, role=StaffRole.DPO, email="bob@example.org", name="Bob")
        bob_id = bob.id
        first = make_request(session, status=Status.IN_REVIEW)
        second = make_request(session, status=Status.VERIFIED)
        theirs = make_request(session, status=Status.VERIFIED, assignee_id=bob_id)
        closed = make_request(session, status=Status.COMPLETED)
        changed = make_request(session, status=Status.VERIFIED)
        shown = [f"{r.id}:{r.version_id}" for r in (first, second, theirs, closed)]
        shown += [f"{changed.id}:{changed.version_id + 1}", "999999:1"]
        references = [r.reference for r in (first, second, theirs, closed, changed)]

    page = dpo.get("/dashboard/?status=all")
    html = page.get_data(as_text=True)
    assert f'name="selected" value="{shown[0]}"' in html
    assert 'action="/dashboard/assign?status=all"' in html
    answer = dpo.post(
        "/dashboard/assign?status=all",
        data={"csrf_token": csrf_token(page), "selected": shown, "assignee": str(bob_id)},
    )
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/dashboard/?status=all"
    flashed = dpo.get(answer.headers["Location"]).get_data(as_text=True)
    assert "2 request(s) assigned to Bob." in flashed
    assert "1 request(s) were already theirs." in flashed
    assert f"1 closed request(s) left as they are: {closed.reference}." in flashed
    assert "2 request(s) changed or disappeared since the queue was shown" in flashed

    first_ref, second_ref, theirs_ref, closed_ref, changed_ref = references
    for reference in (first_ref, second_ref):
        assert _assignee(engine, reference) == bob_id
        (event,) = _events(engine, reference)  # one assignment each, as a request's page does
        assert event.actor_label == "dpo@example.org"
        assert event.details == {"assignee": "bob@example.org"}
    for reference in (closed_ref, changed_ref):
        assert _assignee(engine, reference) is None
        assert _events(engine, reference) == []
    assert _events(engine, theirs_ref) == []


def test_a_refused_assignee_assigns_none(app: Flask, dpo: FlaskClient) -> None:
    engine = db.get_engine(app)
    with db.transaction(engine) as session:
        auditor = make_staff(session, role=StaffRole.AUDITOR, email="aud@example.org")
        auditor_id = auditor.id
        requests = [make_request(session, status=Status.VERIFIED) for _ in range(2)]
        shown = [f"{r.id}:{r.version_id}" for r in requests]
        references = [r.reference for r in requests]
    page = dpo.get("/dashboard/")
    answer = dpo.post(
        "/dashboard/assign",
        data={"csrf_token": csrf_token(page), "selected": shown, "assignee": str(auditor_id)},
    )
    assert answer.status_code == 303
    html = dpo.get("/dashboard/").get_data(as_text=True)
    assert "Nothing was assigned" in html
    for reference in references:
        assert _assignee(engine, reference) is None
        assert _events(engine, reference) == []

    # Nothing ticked, or no one chosen: said, nothing done.
    for data, message in (
        ({"assignee": str(auditor_id)}, "Tick at least one request to assign."),
        ({"selected": shown}, "Choose who to assign the requests to."),
    ):
        answer = dpo.post("/dashboard/assign", data={"csrf_token": csrf_token(page), **data})
        assert answer.status_code == 303
        assert message in dpo.get("/dashboard/").get_data(as_text=True)


def test_only_staff_who_work_requests_assign_them(app: Flask) -> None:
    engine = db.get_engine(app)
    request = make_request(engine, status=Status.VERIFIED)
    auditor = logged_in(app, "auditor@example.org", StaffRole.AUDITOR)
    page = auditor.get("/dashboard/")
    assert 'name="selected"' not in page.get_data(as_text=True)
    answer = auditor.post(
        "/dashboard/assign",
        data={"csrf_token": csrf_token(page), "selected": f"{request.id}:1", "assignee": "1"},
    )
    assert answer.status_code == 403
    dpo = logged_in(app, "dpo@example.org", StaffRole.DPO)
    answer = dpo.post("/dashboard/assign", data={"selected": f"{request.id}:1", "assignee": "1"})
    assert answer.status_code == 400  # no CSRF token
    assert _assignee(engine, request.reference) is None
