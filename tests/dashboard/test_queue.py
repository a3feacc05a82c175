"""The queue: deadlines in Paris dates with overdue and due-soon requests marked in words, the
filters, the search by reference or address (never in a URL), pagination and counts."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date
from flask import Flask, url_for
from flask.testing import FlaskClient
from sqlalchemy.engine import Engine

from dsr import db
from dsr.accounts.models import StaffRole
from dsr.dashboard.queue import (
    OPEN_STATUSES,
    QueueLinks,
    QueueQuery,
    QueueRow,
    StatusScope,
    Urgency,
    page_words,
    query_from_args,
    queue_args,
    queue_counts,
    queue_page,
    row_markup,
    saved_views,
    status_counts,
    urgency_of,
)
from dsr.requests.models import Channel
from dsr.requests.workflow import RequestState, RequestType, Status
from tests.accounts.helpers import make_staff
from tests.dashboard.conftest import logged_in
from tests.factories import make_request
from tests.pages import csrf_token

NOW = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")


# --- pure rules ---------------------------------------------------------------------------------


def in_review(due: datetime) -> RequestState:
    """A request in review due by the end of the Paris day of `due`."""
    received = NOW - timedelta(days=40)
    state = RequestState(Status.IN_REVIEW, received, zone=PARIS)
    local_due = due.astimezone(PARIS).date()
    # A pause of whole days moves the due date where the case wants it.
    days = (local_due - state.due_at.astimezone(PARIS).date()).days
    return RequestState(Status.IN_REVIEW, received, paused_total=timedelta(days=days), zone=PARIS)


def test_days_left_count_paris_calendar_days() -> None:
    # 23:30 UTC on 20 June is already 21 June in Paris (UTC+2 in summer).
    assert urgency_of(in_review(datetime(2026, 6, 20, 23, 30, tzinfo=UTC)), NOW)[1:] == (
        6,
        Urgency.DUE_SOON,
    )
    assert urgency_of(in_review(NOW + timedelta(days=7)), NOW)[1:] == (7, Urgency.DUE_SOON)
    assert urgency_of(in_review(NOW + timedelta(days=8)), NOW)[1:] == (8, Urgency.ON_TRACK)
    # Due by the end of today: still on time, with no day left.
    assert urgency_of(in_review(NOW), NOW)[1:] == (0, Urgency.DUE_SOON)
    assert urgency_of(in_review(NOW - timedelta(days=2)), NOW)[1:] == (-2, Urgency.OVERDUE)
    closed = RequestState(Status.COMPLETED, NOW - timedelta(days=40), zone=PARIS)
    assert urgency_of(closed, NOW)[1:] == (None, Urgency.CLOSED)


def test_a_paused_deadline_moves_on_by_whole_days() -> None:
    received = datetime(2026, 5, 10, 8, 0, tzinfo=UTC)  # due by the end of 10 June in Paris
    paused = RequestState(
        Status.AWAITING_REQUESTER, received, paused_since=NOW - timedelta(days=7), zone=PARIS
    )
    due, days_left, urgency = urgency_of(paused, NOW + timedelta(hours=23))
    assert due.astimezone(PARIS).date() == date(2026, 6, 17)  # 10 June + 7 whole days
    assert (days_left, urgency) == (1, Urgency.DUE_SOON)


def test_a_request_ready_to_send_is_open_with_its_days_left() -> None:
    """R47: its answer is not delivered yet, so it stays in the default queue on the clock."""
    assert Status.READY_TO_SEND in OPEN_STATUSES
    received = NOW - timedelta(days=40)
    ready = RequestState(Status.READY_TO_SEND, received, zone=PARIS)
    assert urgency_of(ready, NOW)[2] is Urgency.OVERDUE


def test_filters_not_offered_are_ignored() -> None:
    query = query_from_args(
        {"status": "nonsense", "type": "x", "assignee": "-1", "page": "two"}, search=None
    )
    assert query == QueueQuery()
    query = query_from_args({"status": "all", "sort": "-due", "page": "3"}, search="x")
    assert (query.scope, query.descending, query.page, query.search) == (
        StatusScope.ALL,
        True,
        3,
        None,
    )


# --- the queries, on real databases -------------------------------------------------------------


def _received(days_ago: int) -> datetime:
    return NOW - timedelta(days=days_ago)


@pytest.mark.databases("sqlite", "postgresql", "mariadb")
def test_filters_sort_pages_and_counts(store: Engine) -> None:
    with db.transaction(store) as session:
        lea = make_staff(session, role=StaffRole.DPO, email="lea@example.org")
        overdue = make_request(session, status=Status.IN_REVIEW, received_at=_received(40))
        soon = make_request(
            session,
            status=Status.VERIFIED,
            received_at=_received(26),
            request_type=RequestType.ERASURE,
            assignee_id=lea.id,
        )
        later = make_request(session, status=Status.VERIFIED, received_at=_received(2))
        paused = make_request(
            session,
            status=Status.AWAITING_REQUESTER,
            received_at=_received(35),
            paused_since=_received(2),
        )
        closed = make_request(
            session,
            status=Status.COMPLETED,
            received_at=_received(50),
            email="someone.else@example.org",
        )
        references = {
            name: request.reference
            for name, request in {
                "overdue": overdue,
                "soon": soon,
                "later": later,
                "paused": paused,
                "closed": closed,
            }.items()
        }
        lea_id = lea.id

    def shown(**fields: object) -> list[str]:
        with db.open_session(store) as session:
            page = queue_page(db_session=session, query=QueueQuery(**fields), now=NOW)  # type: ignore[arg-type]
            return [row.reference for row in page.rows]

    names = {reference: name for name, reference in references.items()}
    assert [names[r] for r in shown()] == ["overdue", "paused", "soon", "later"]
    assert [names[r] for r in shown(descending=True)] == ["later", "soon", "paused", "overdue"]
    assert [names[r] for r in shown(scope=StatusScope.ALL)][0] == "closed"
    assert [names[r] for r in shown(status=Status.COMPLETED)] == ["closed"]
    assert [names[r] for r in shown(request_type=RequestType.ERASURE)] == ["soon"]
    # Paused 33 days after receipt, after its deadline: overdue, and it stays so.
    assert [names[r] for r in shown(overdue=True)] == ["overdue", "paused"]
    assert [names[r] for r in shown(assignee_id=lea_id)] == ["soon"]
    assert "soon" not in [names[r] for r in shown(unassigned=True)]
    assert shown(search=references["later"].lower()) == [references["later"]]
    assert [names[r] for r in shown(search="  ZOE.lefevre@example.ORG ")] == [
        "overdue",
        "paused",
        "soon",
        "later",
    ]
    assert shown(search="SOMEONE.ELSE@example.org") == [references["closed"]]
    assert shown(search="zoe@example") == []

    with db.open_session(store) as session:
        first = queue_page(
            db_session=session, query=QueueQuery(scope=StatusScope.ALL), now=NOW, per_page=2
        )
        last = queue_page(
            db_session=session,
            query=QueueQuery(scope=StatusScope.ALL, page=3),
            now=NOW,
            per_page=2,
        )
        counts = status_counts(db_session=session)
    assert (len(first.rows), first.has_next, first.has_previous) == (2, True, False)
    assert (len(last.rows), last.has_next, last.has_previous) == (1, False, True)
    assert counts[Status.VERIFIED] == 2
    assert counts[Status.COMPLETED] == 1
    assert counts[Status.DENIED] == 0
    assert sum(counts.values()) == 5
    urgencies = {row.reference: row.urgency for row in first.rows + last.rows}
    assert urgencies[references["closed"]] is Urgency.CLOSED


@pytest.mark.databases("sqlite", "postgresql", "mariadb")
def test_the_rows_and_counts_are_as_at_the_moment_asked(store: Engine) -> None:
    # The statements are built once per process: the moment and its week must still be the
    # caller's, the filters each query's.
    with db.transaction(store) as session:
        request = make_request(session, status=Status.IN_REVIEW, received_at=_received(20))
        due = request.due_at
    before, after = due - timedelta(days=2), due + timedelta(days=1)

    def seen(now: datetime, **fields: object) -> tuple[list[str], dict[str, int]]:
        with db.open_session(store) as session:
            page = queue_page(db_session=session, query=QueueQuery(**fields), now=now)  # type: ignore[arg-type]
            _, views = queue_counts(
                db_session=session, views=saved_views(None), now=now, zone=PARIS
            )
        return [row.reference for row in page.rows], views

    assert seen(before, overdue=True) == ([], {"overdue": 0, "week": 1, "waiting": 0})
    assert seen(after, overdue=True) == (
        [request.reference],
        {"overdue": 1, "week": 0, "waiting": 0},
    )
    assert seen(before, due_this_week=True)[0] == [request.reference]
    assert seen(after, due_this_week=True)[0] == []
    assert seen(after, overdue=True, page=2)[0] == []


# --- the page -----------------------------------------------------------------------------------


def _fill(app: Flask, count: int = 3) -> list[str]:
    received = datetime.now(UTC)
    with db.transaction(db.get_engine(app)) as session:
        overdue = make_request(
            session, status=Status.IN_REVIEW, received_at=received - timedelta(days=40)
        )
        soon = make_request(
            session, status=Status.VERIFIED, received_at=received - timedelta(days=27)
        )
        others = [
            make_request(session, status=Status.VERIFIED, received_at=received - timedelta(hours=n))
            for n in range(count)
        ]
        return [overdue.reference, soon.reference, *(other.reference for other in others)]


def test_the_queue_marks_overdue_and_due_soon_in_words(app: Flask, dpo: FlaskClient) -> None:
    overdue, soon, *_ = _fill(app)
    page = dpo.get("/dashboard/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for urgency, reference in (("overdue", overdue), ("due-soon", soon)):
        row = html[: html.index(f'<a href="/dashboard/requests/{reference}">')]
        assert row[row.rindex("<tr") :].startswith(f'<tr class="{urgency}">')
    assert "Overdue" in html or "En retard" in html
    assert "zoe.lefevre" not in html.lower()  # the queue shows no personal data


def test_the_rows_escape_what_they_show_once(app: Flask, dpo: FlaskClient) -> None:
    # The rows' markup is written in Python (`row_markup`): a name is escaped, and only once.
    with db.transaction(db.get_engine(app)) as session:
        odd = make_staff(
            session, role=StaffRole.DPO, email="odd@example.org", name='<script>"x"</script> & Cie'
        )
        reference = make_request(session, status=Status.VERIFIED, assignee_id=odd.id).reference
    html = dpo.get("/dashboard/").get_data(as_text=True)
    row = html[html.index(f"/dashboard/requests/{reference}") :].split("</tr>")[0]
    assert "<td>&lt;script&gt;&#34;x&#34;&lt;/script&gt; &amp; Cie</td>" in row
    assert "<script>" not in html
    assert "&amp;amp;" not in html and "&amp;lt;" not in html


def test_a_rows_reference_and_labels_are_escaped_once(app: Flask) -> None:
    row = QueueRow(
        id=7,
        reference='R<b>&"1',
        type=RequestType.ACCESS,
        status=Status.AWAITING_REQUESTER,
        received_at=NOW,
        due_at=NOW + timedelta(days=3),
        days_left=3,
        urgency=Urgency.DUE_SOON,
        paused=True,
        assignee_id=None,
        version_id=2,
        group_id=5,
        channel=Channel.LETTER,
    )
    with app.test_request_context(headers={"Accept-Language": "en"}):
        (shown,) = row_markup([row], {}, selectable=True)
    escaped = "R&lt;b&gt;&amp;&#34;1"
    assert f'aria-label="Select {escaped}"' in shown
    assert f'<a href="/dashboard/requests/{escaped}">{escaped}</a>' in shown
    assert '<small class="channel">(Letter)</small>' in shown
    assert "Awaiting the requester <small>(paused)</small>" in shown
    assert '<span class="deadline-flag">Due soon</span> 3 days left' in shown
    assert "<td>—</td>" in shown


def test_the_rows_are_written_in_the_readers_language(app: Flask, dpo: FlaskClient) -> None:
    overdue, soon, *_ = _fill(app)
    french = dpo.get("/dashboard/", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    english = dpo.get("/dashboard/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    for html, late, left, in_review in (
        (french, "jours de retard", "jours restants", "En cours d'examen"),
        (english, "days late", "days left", "In review"),
    ):
        row = html[html.index(f"/dashboard/requests/{overdue}") :].split("</tr>")[0]
        assert late in row and in_review in row
        assert f'<span class="deadline-flag">{"En retard" if html is french else "Overdue"}' in row
        row = html[html.index(f"/dashboard/requests/{soon}") :].split("</tr>")[0]
        assert left in row
    month = datetime.now(UTC).astimezone(ZoneInfo("Europe/Paris"))
    assert format_date(month, "MMMM", locale="fr") in french
    assert format_date(month, "MMMM", locale="en") in english


def _chosen(html: str, name: str) -> str:
    """Return the option of the <select> `name` that `html` shows chosen, as "value: label"."""
    select = html[html.index(f'<select id="{name}"') :].split("</select>")[0]
    found = re.search(r'<option selected value="([^"]*)">([^<]*)</option>', select)
    return f"{found[1]}: {found[2]}" if found else ""


def test_the_filters_show_the_chosen_option_in_the_readers_language(
    app: Flask, dpo: FlaskClient
) -> None:
    # The <select>s are rendered once per process for each language and chosen option.
    _fill(app)
    pages = [
        (query, language, dpo.get(f"/dashboard/?{query}", headers={"Accept-Language": language}))
        for query, language in (
            ("status=all&type=erasure", "fr"),
            ("status=all&type=erasure", "en"),
            ("status=completed&sort=-due", "en"),
            ("status=completed&sort=-due", "fr"),
        )
    ]
    french_all, english_all, english_completed, french_completed = (
        page.get_data(as_text=True) for _, _, page in pages
    )
    assert _chosen(french_all, "status") == "all: Toutes les demandes"
    assert _chosen(english_all, "status") == "all: All requests"
    assert _chosen(french_all, "type") == "erasure: Effacer mes données"
    assert _chosen(english_all, "type") == "erasure: Erase my data"
    assert _chosen(english_completed, "status") == "completed: Completed"
    assert _chosen(english_completed, "sort") == "-due: Due date, latest first"
    assert _chosen(french_completed, "sort").startswith("-due: ")
    assert _chosen(english_completed, "type") == ""


@pytest.mark.parametrize("base_url", ["http://localhost/", "http://localhost/desk"])
def test_the_pages_queue_links_are_those_url_for_builds(app: Flask, base_url: str) -> None:
    # A page builds the queue's path once and encodes each link's arguments itself.
    queries = [
        QueueQuery(),
        QueueQuery(scope=StatusScope.ALL, descending=True, page=3),
        QueueQuery(status=Status.AWAITING_REQUESTER, request_type=RequestType.ERASURE),
        QueueQuery(overdue=True, due_this_week=True, unassigned=True, search="x", page=2),
        QueueQuery(assignee_id=42, search="a@b"),
    ]
    changes: list[dict[str, Any]] = [
        {},
        {"page": 1},
        {"page": 7},
        *({"status": status, "page": 1} for status in Status),
        *({"request_type": kind} for kind in RequestType),
        {"scope": StatusScope.ALL, "status": None, "assignee_id": None, "unassigned": False},
    ]
    with app.test_request_context(base_url=base_url):
        links = QueueLinks(url_for("dashboard.queue"))
        for query in queries:
            for changed in changes:
                built = url_for("dashboard.queue", **queue_args(query, **changed))
                assert links(query, **changed) == built
            for status, url in links.per_status(query).items():
                changed = {"status": status, "scope": query.scope, "page": 1}
                assert url == url_for("dashboard.queue", **queue_args(query, **changed))


def test_the_page_words_say_what_the_templates_gettext_says(app: Flask) -> None:
    # The queue's `_()` looks each message up once per process and language (`page_words`).
    template = app.jinja_env.from_string(
        '{% autoescape true %}{{ _("Queue") }}|{{ _("Page %(number)d", number=number) }}|'
        '{{ _("Showing the requests that match your search.") }}{% endautoescape %}'
    )
    for language, queue in (("fr", "File d'attente"), ("en", "Queue")):
        for number in (1, 2):
            with app.test_request_context(headers={"Accept-Language": language}):
                said = template.render(_=page_words(language), number=number)
                assert said == template.render(number=number)
                assert said.startswith(f"{queue}|Page {number}|")


def test_the_filters_labels_follow_the_readers_language(app: Flask, dpo: FlaskClient) -> None:
    # The labels are rendered with their <select>s, once per process for each language.
    _fill(app)
    french = dpo.get("/dashboard/", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    english = dpo.get("/dashboard/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<label for="type">Type</label>' in english
    assert '<label for="sort">Sort</label>' in english
    assert '<label for="sort">Sort</label>' not in french
    assert "Assign the selected requests to</label>" in english


def test_the_queue_pages_through_the_requests(app: Flask, dpo: FlaskClient) -> None:
    references = _fill(app, count=60)
    first = dpo.get("/dashboard/").get_data(as_text=True)
    assert 'href="/dashboard/?page=2"' in first
    second = dpo.get("/dashboard/?page=2").get_data(as_text=True)
    assert 'href="/dashboard/"' in second
    shown = [r for r in references if f"/dashboard/requests/{r}" in first + second]
    assert sorted(shown) == sorted(references)


def test_the_search_keeps_the_address_out_of_every_url(app: Flask, dpo: FlaskClient) -> None:
    references = _fill(app)
    page = dpo.get("/dashboard/")
    answer = dpo.post(
        "/dashboard/search",
        data={"csrf_token": csrf_token(page), "query": "zoe.lefevre@example.org"},
    )
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/dashboard/?search=1"
    found = dpo.get(answer.headers["Location"])
    html = found.get_data(as_text=True)
    for reference in references:
        assert f"/dashboard/requests/{reference}" in html
    for link in _links(html):
        assert "@" not in link and "zoe" not in link.lower()

    by_reference = dpo.post(
        "/dashboard/search", data={"csrf_token": csrf_token(page), "query": references[1]}
    )
    html = dpo.get(by_reference.headers["Location"]).get_data(as_text=True)
    assert [r for r in references if f"/dashboard/requests/{r}" in html] == [references[1]]


def test_an_auditor_can_search(app: Flask) -> None:
    _fill(app)
    auditor = logged_in(app, "auditor@example.org", StaffRole.AUDITOR)
    page = auditor.get("/dashboard/")
    answer = auditor.post(
        "/dashboard/search", data={"csrf_token": csrf_token(page), "query": "nobody@example.org"}
    )
    assert answer.status_code == 302
    html = auditor.get("/dashboard/?search=1").get_data(as_text=True)
    assert "/dashboard/requests/" not in html


def test_the_queue_needs_a_login(app: Flask) -> None:
    answer = app.test_client().get("/dashboard/")
    assert answer.status_code == 302
    assert "/staff/login" in answer.headers["Location"]


def _links(html: str) -> list[str]:
    import re

    return re.findall(r'(?:href|action)="([^"]*)"', html)
