"""The figures: requests per month by type, the share answered on time counting pauses and
extensions, and the median time to answer, on hand-built requests at frozen times."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlmodel import Session

from dsr import db
from dsr.app import CONTENT_SECURITY_POLICY
from dsr.dashboard.figures import (
    AnsweredRequest,
    compute_figures,
    last_months,
    median_duration,
    on_time_percent,
)
from dsr.languages import Language
from dsr.outbox.service import DeliveredEmail
from dsr.requests.answers import complete_answered_request
from dsr.requests.models import DataRequest
from dsr.requests.status import change_status
from dsr.requests.workflow import Action, Actor, RequestState, RequestType, Status
from tests.dashboard.staff_pages import ROLES, StaffClient, app_config, staff_client
from tests.factories import make_request

__all__ = ["app_config", "staff_client"]  # the fixtures used here

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)

Step = tuple[Action, datetime] | tuple[Action, datetime, str | None, int | None]


def walked_request(
    session: Session,
    received_at: datetime,
    steps: list[Step],
    *,
    request_type: RequestType = RequestType.ACCESS,
) -> DataRequest:
    """Add a request received at `received_at` and take `steps` through the workflow, each
    audited as it would be in the desk."""
    request = make_request(
        session,
        status=Status.RECEIVED,
        received_at=received_at,
        email="zoe@example.org",
        request_type=request_type,
        language=Language.FR,
    )
    for step in steps:
        action, at = step[0], step[1]
        reason, months = (step[2], step[3]) if len(step) == 4 else (None, None)
        if action is Action.COMPLETE:  # the answer email is delivered at `at`
            assert request.id is not None
            delivered = DeliveredEmail(
                id=0, request_id=request.id, answers_request_id=request.id, sent_at=at
            )
            complete_answered_request(session, delivered)
            continue
        actor = Actor.REQUESTER if action is Action.VERIFY_EMAIL else Actor.STAFF
        change_status(
            db_session=session,
            request=request,
            action=action,
            actor=actor,
            at=at,
            reason=reason,
            months=months,
            ground="complexity" if action is Action.EXTEND else None,
            actor_label="dpo@x.org",
        )
    session.flush()
    return request


def answered(received: datetime, at: datetime, *steps: Step) -> list[Step]:
    """The steps of a request verified, reviewed and approved at once, then carried out and its
    answer delivered at `at`."""
    return [
        (Action.VERIFY_EMAIL, received + timedelta(hours=1)),
        (Action.START_REVIEW, received + timedelta(hours=2)),
        *steps,
        (Action.APPROVE, at - timedelta(hours=2)),
        (Action.START_PROCESSING, at - timedelta(hours=1)),
        (Action.FINISH_PROCESSING, at - timedelta(minutes=30)),
        (Action.COMPLETE, at),
    ]


def test_the_last_months_are_calendar_months_in_the_readers_time_zone() -> None:
    months = last_months(datetime(2026, 1, 31, 23, 30, tzinfo=UTC), zone=PARIS, count=3)

    # 23:30 UTC on 31 January is already February in Paris.
    assert [m.first_day.isoformat() for m in months] == ["2025-12-01", "2026-01-01", "2026-02-01"]
    assert months[0].start == datetime(2025, 11, 30, 23, 0, tzinfo=UTC)
    assert months[-1].end == datetime(2026, 2, 28, 23, 0, tzinfo=UTC)
    assert all(a.end == b.start for a, b in zip(months, months[1:], strict=False))


def test_median_and_share_of_nothing_are_none() -> None:
    assert median_duration([]) is None
    assert on_time_percent([]) is None
    assert median_duration([timedelta(days=1), timedelta(days=4)]) == timedelta(days=2.5)
    assert median_duration([timedelta(days=3), timedelta(days=1), timedelta(days=9)]) == (
        timedelta(days=3)
    )


def test_an_answer_on_the_deadline_itself_is_on_time() -> None:
    received = datetime(2026, 1, 31, 9, 0, tzinfo=UTC)
    state = RequestState(status=Status.COMPLETED, received_at=received, zone=PARIS)
    assert state.due_at == datetime(2026, 2, 28, 22, 59, 59, 999999, tzinfo=UTC)

    assert AnsweredRequest(state, state.due_at).on_time
    assert not AnsweredRequest(state, state.due_at + timedelta(microseconds=1)).on_time


@pytest.mark.databases("sqlite", "postgresql")
def test_figures_of_hand_built_requests(session: Session) -> None:
    march = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    # On time: answered in 5 days.
    walked_request(session, march, answered(march, march + timedelta(days=5)))
    # Late: answered 40 days after receipt with no pause nor extension (due 10 April).
    walked_request(
        session,
        march,
        answered(march, march + timedelta(days=40)),
        request_type=RequestType.ERASURE,
    )
    # On time thanks to a 20-day pause waiting for the requester: due 30 April.
    april = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
    walked_request(
        session,
        april,
        answered(
            april,
            april + timedelta(days=45),
            (Action.ASK_REQUESTER, april + timedelta(days=3)),
            (Action.REQUESTER_ANSWERED, april + timedelta(days=23)),
        ),
    )
    # On time thanks to an extension of two months: due 1 July, answered 1 June.
    walked_request(
        session,
        april,
        answered(
            april,
            april + timedelta(days=61),
            (Action.EXTEND, april + timedelta(days=10), "Many systems to search", 2),
        ),
    )
    # Denied on day 40 from a pause begun on day 2: the pause counts up to the refusal.
    may = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
    walked_request(
        session,
        may,
        [
            (Action.VERIFY_EMAIL, may + timedelta(hours=1)),
            (Action.ASK_REQUESTER, may + timedelta(days=2)),
            (Action.DENY, may + timedelta(days=40), "No answer from the requester", None),
        ],
        request_type=RequestType.OBJECTION,
    )
    # Still open, and one received before the window: neither is answered in it.
    walked_request(session, datetime(2026, 6, 1, 8, 0, tzinfo=UTC), [])
    walked_request(
        session,
        datetime(2025, 6, 30, 21, 59, tzinfo=UTC),
        [(Action.VERIFY_EMAIL, datetime(2025, 7, 1, tzinfo=UTC))],
    )
    # 30 June 2025 at 22:30 UTC is July in Paris: counted in the first month of the window.
    walked_request(session, datetime(2025, 6, 30, 22, 30, tzinfo=UTC), [])
    session.commit()

    figures = compute_figures(db_session=session, now=NOW, zone=PARIS)

    assert [m.first_day.isoformat()[:7] for m in figures.months][0] == "2025-07"
    assert [m.first_day.isoformat()[:7] for m in figures.months][-1] == "2026-06"
    received = {kind: counts for kind, counts in figures.received.items() if any(counts)}
    assert received == {
        RequestType.ACCESS: [1, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 1],
        RequestType.ERASURE: [0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0],
        RequestType.OBJECTION: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0],
    }
    assert set(figures.received) == set(RequestType)
    assert figures.answered == 5
    # The pause made the refusal on day 40 of a request paused since day 2 on time.
    assert figures.answered_on_time == 4
    assert figures.on_time_percent == pytest.approx(80.0)
    # Answered: March 15 (on time), April 19 (late), May 16 (on time), June 1 and June 10.
    assert figures.on_time_percent_by_month == [
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        100.0,
        0.0,
        100.0,
        100.0,
    ]
    assert figures.median_time_to_answer == timedelta(days=40)


@pytest.mark.databases("sqlite", "postgresql")
def test_a_request_counts_as_answered_when_its_answer_is_delivered(session: Session) -> None:
    """R47: six reports ready on time, two never sent and one sent after its deadline: 4 of 4
    sent are answered, 3 on time, each dated by its delivery."""
    march = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)  # due 10 April
    ready = march + timedelta(days=5)
    for _ in range(3):
        walked_request(session, march, answered(march, march + timedelta(days=6)))
    for _ in range(2):  # ready on day 5, never sent
        walked_request(session, march, answered(march, ready)[:-1])
    late = walked_request(session, march, answered(march, ready)[:-1])
    sent_late = march + timedelta(days=35)
    complete_answered_request(
        session,
        DeliveredEmail(id=0, request_id=late.id, answers_request_id=late.id, sent_at=sent_late),
    )
    session.commit()

    figures = compute_figures(db_session=session, now=NOW, zone=PARIS)

    assert figures.answered == 4
    assert figures.answered_on_time == 3
    assert late.status is Status.COMPLETED and late.answered_at == sent_late
    assert figures.on_time_percent_by_month[-4:] == [100.0, 0.0, None, None]
    assert figures.median_time_to_answer == timedelta(days=6)


@pytest.mark.databases("sqlite")
def test_no_requests_give_empty_figures(session: Session) -> None:
    figures = compute_figures(db_session=session, now=NOW, zone=PARIS)

    assert figures.answered == 0
    assert figures.on_time_percent is None
    assert figures.median_time_to_answer is None
    assert all(counts == [0] * 12 for counts in figures.received.values())


# --- the page -----------------------------------------------------------------------------------

SVG_ELEMENT = re.compile(r"<svg .*?</svg>", re.DOTALL)


@pytest.mark.parametrize("role", ROLES)
def test_the_figures_page_draws_its_charts_without_script(
    app: Flask, staff_client: StaffClient, role: str
) -> None:
    with db.transaction(db.get_engine(app)) as session:
        received = datetime.now(UTC) - timedelta(days=40)
        walked_request(session, received, answered(received, received + timedelta(days=3)))

    page = staff_client(role).get("/dashboard/figures", headers={"Accept-Language": "en"})

    assert page.status_code == 200
    assert page.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    text = page.get_data(as_text=True)
    assert "<script" not in text and "style=" not in text
    charts = SVG_ELEMENT.findall(text)
    assert len(charts) == 2
    for chart in charts:
        root = ET.fromstring(chart)  # noqa: S314  # our own page
        assert root.find("{http://www.w3.org/2000/svg}title") is not None
        assert root.find("{http://www.w3.org/2000/svg}desc") is not None
    assert text.count("<table") == 2
    assert "100 %" in text or "100%" in text
    assert "3 days" in text
