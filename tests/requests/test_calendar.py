"""Deadlines on the organisation's calendar (Art. 12(3), R3, R4, R48): the day of receipt is the
local date in the organisation's zone, the month ends on the same date (or the last day of the
month), and the answer is due by the end of that local day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dsr.requests.deadlines import deadline_for, end_of_day
from dsr.requests.workflow import (
    Action,
    Actor,
    RequestState,
    Status,
    WorkflowError,
    apply,
)

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
AUCKLAND = ZoneInfo("Pacific/Auckland")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def local_day(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


@pytest.mark.parametrize(
    ("received", "zone", "due"),
    [
        # 31 January at 00:30 in Paris is still 30 January in UTC.
        pytest.param(utc(2025, 1, 30, 23, 30), PARIS, date(2025, 2, 28), id="31-jan-paris"),
        pytest.param(utc(2028, 1, 30, 23, 30), PARIS, date(2028, 2, 29), id="31-jan-leap-year"),
        pytest.param(utc(2024, 2, 28, 23, 30), PARIS, date(2024, 3, 29), id="29-feb-leap-year"),
        # 31 March at 01:30 in Paris (summer time since the 30th) is 30 March at 23:30 UTC.
        pytest.param(utc(2025, 3, 30, 23, 30), PARIS, date(2025, 4, 30), id="31-mar-paris"),
        # A late evening in UTC is already the next day, and month, in Paris.
        pytest.param(utc(2025, 4, 30, 22, 30), PARIS, date(2025, 6, 1), id="1-may-paris"),
        pytest.param(utc(2025, 12, 31, 23, 15), PARIS, date(2026, 2, 1), id="new-year-paris"),
        # The spring change (30 March 2025: 02:00 becomes 03:00) on the day of receipt...
        pytest.param(utc(2025, 3, 29, 23, 30), PARIS, date(2025, 4, 30), id="spring-midnight"),
        pytest.param(utc(2025, 3, 30, 1, 30), PARIS, date(2025, 4, 30), id="spring-after"),
        # ... and the autumn one (26 October 2025: 03:00 becomes 02:00).
        pytest.param(utc(2025, 10, 25, 22, 30), PARIS, date(2025, 11, 26), id="autumn-midnight"),
        pytest.param(utc(2025, 10, 26, 0, 30), PARIS, date(2025, 11, 26), id="autumn-twice"),
        pytest.param(utc(2025, 10, 26, 23, 30), PARIS, date(2025, 11, 27), id="autumn-evening"),
        # Another organisation's calendar: New York is behind UTC, Auckland ahead.
        pytest.param(utc(2025, 2, 1, 3, 0), NEW_YORK, date(2025, 2, 28), id="31-jan-new-york"),
        pytest.param(utc(2025, 1, 30, 12, 0), AUCKLAND, date(2025, 2, 28), id="31-jan-auckland"),
        pytest.param(utc(2025, 3, 30, 12, 0), AUCKLAND, date(2025, 4, 30), id="31-mar-auckland"),
    ],
)
def test_the_answer_is_due_by_the_end_of_the_same_date_a_month_later(
    received: datetime, zone: ZoneInfo, due: date
) -> None:
    deadline = deadline_for(received, zone=zone)
    assert local_day(deadline, zone) == due
    assert local_day(deadline + timedelta(microseconds=1), zone) == due + timedelta(days=1)
    assert deadline.tzinfo is UTC
    assert RequestState.new(received, zone=zone).due_at == deadline


@pytest.mark.parametrize(
    ("day", "zone", "last_instant"),
    [
        pytest.param(date(2025, 2, 28), PARIS, utc(2025, 2, 28, 22, 59, 59, 999999), id="winter"),
        pytest.param(date(2025, 4, 30), PARIS, utc(2025, 4, 30, 21, 59, 59, 999999), id="summer"),
        # The days of the changes last 23 and 25 hours: each ends at local midnight all the same.
        pytest.param(date(2025, 3, 30), PARIS, utc(2025, 3, 30, 21, 59, 59, 999999), id="spring"),
        pytest.param(date(2025, 10, 26), PARIS, utc(2025, 10, 26, 22, 59, 59, 999999), id="fall"),
        pytest.param(
            date(2025, 2, 28), NEW_YORK, utc(2025, 3, 1, 4, 59, 59, 999999), id="new-york"
        ),
        pytest.param(
            date(2025, 2, 28), AUCKLAND, utc(2025, 2, 28, 10, 59, 59, 999999), id="auckland"
        ),
    ],
)
def test_a_due_day_ends_at_local_midnight(
    day: date, zone: ZoneInfo, last_instant: datetime
) -> None:
    assert end_of_day(day, zone) == last_instant


def test_a_due_date_on_a_day_of_a_change_of_time_ends_at_its_local_midnight() -> None:
    # 30 January + 2 months (an extension) = 30 March 2025, the day summer time starts.
    received = utc(2025, 1, 30, 10, 0)
    assert deadline_for(received, zone=PARIS, extension_months=1) == utc(
        2025, 3, 30, 21, 59, 59, 999999
    )
    # 26 September + 1 month = 26 October 2025, the day winter time comes back.
    assert deadline_for(utc(2025, 9, 26, 10, 0), zone=PARIS) == utc(
        2025, 10, 26, 22, 59, 59, 999999
    )


@pytest.mark.parametrize(
    ("paused", "added_days"),
    [
        (timedelta(hours=23, minutes=59), 0),
        (timedelta(days=1), 1),
        (timedelta(days=2, hours=20), 2),
        (timedelta(days=10), 10),
    ],
)
def test_a_pause_adds_the_whole_days_it_lasted(paused: timedelta, added_days: int) -> None:
    received = utc(2025, 1, 30, 23, 30)  # 31 January in Paris: due 28 February
    due = deadline_for(received, zone=PARIS, paused=paused)
    assert local_day(due, PARIS) == date(2025, 2, 28) + timedelta(days=added_days)


def test_a_pause_across_a_month_end_moves_the_due_date_into_the_next_month() -> None:
    received = utc(2025, 1, 20, 8, 0)  # due 20 February
    state = RequestState(Status.IN_REVIEW, received, zone=PARIS)
    asked = utc(2025, 1, 30, 16, 0)
    state = apply(state, Action.ASK_REQUESTER, actor=Actor.STAFF, at=asked).state
    # While waiting, the due date moves a day for each whole day so far.
    assert local_day(state.due_as_of(asked + timedelta(days=3, hours=23)), PARIS) == date(
        2025, 2, 23
    )
    answered = utc(2025, 2, 9, 11, 0)  # 9 days and 19 hours later
    state = apply(state, Action.REQUESTER_ANSWERED, actor=Actor.REQUESTER, at=answered).state
    assert state.due_at == end_of_day(date(2025, 3, 1), PARIS)
    # A second short pause adds its hours to the first: together they make a tenth day.
    state = apply(state, Action.ASK_REQUESTER, actor=Actor.STAFF, at=utc(2025, 2, 10, 8)).state
    state = apply(
        state, Action.REQUESTER_ANSWERED, actor=Actor.REQUESTER, at=utc(2025, 2, 10, 14)
    ).state
    assert state.due_at == end_of_day(date(2025, 3, 2), PARIS)


def test_a_request_cannot_fall_late_while_it_waits_for_the_requester() -> None:
    received = utc(2025, 1, 20, 8, 0)
    due = end_of_day(date(2025, 2, 20), PARIS)
    state = apply(
        RequestState(Status.IN_REVIEW, received, zone=PARIS),
        Action.ASK_REQUESTER,
        actor=Actor.STAFF,
        at=due - timedelta(hours=1),
    ).state
    assert not state.is_overdue(due + timedelta(hours=5))
    resumed = apply(
        state, Action.REQUESTER_ANSWERED, actor=Actor.REQUESTER, at=due + timedelta(hours=5)
    ).state
    assert resumed.is_overdue(due + timedelta(hours=5))  # a 6-hour pause gave no day


def test_an_extension_counts_months_on_the_calendar() -> None:
    received = utc(2025, 1, 30, 23, 30)  # 31 January in Paris
    state = RequestState(Status.IN_REVIEW, received, zone=PARIS)
    extended = apply(
        state,
        Action.EXTEND,
        actor=Actor.STAFF,
        at=utc(2025, 2, 10),
        reason="many",
        months=2,
        ground="complexity",
    ).state
    assert extended.due_at == end_of_day(date(2025, 4, 30), PARIS)
    assert deadline_for(received, zone=PARIS, extension_months=1) == (
        end_of_day(date(2025, 3, 31), PARIS)
    )


def test_the_extension_must_come_before_the_end_of_the_first_months_last_local_day() -> None:
    received = utc(2025, 3, 30, 23, 30)  # 31 March at 01:30 in Paris: due 30 April
    state = RequestState(Status.IN_REVIEW, received, zone=PARIS)
    on_the_last_evening = utc(2025, 4, 30, 21, 30)  # 23:30 in Paris
    assert (
        apply(
            state,
            Action.EXTEND,
            actor=Actor.STAFF,
            at=on_the_last_evening,
            reason="complex",
            months=1,
            ground="complexity",
        ).state.extension_months
        == 1
    )
    already_may = utc(2025, 4, 30, 22, 30)  # 00:30 on 1 May in Paris
    with pytest.raises(WorkflowError, match="before the\\s+first month ends"):
        apply(
            state,
            Action.EXTEND,
            actor=Actor.STAFF,
            at=already_may,
            reason="late",
            months=1,
            ground="complexity",
        )


def test_a_deadline_stays_on_the_calendar_it_was_given_on() -> None:
    received = utc(2025, 1, 31, 6, 0)  # 31 January in Paris, still 30 January in New York
    assert local_day(RequestState.new(received, zone=PARIS).due_at, PARIS) == date(2025, 2, 28)
    assert local_day(RequestState.new(received, zone=NEW_YORK).due_at, NEW_YORK) == date(
        2025, 2, 28
    )
    assert RequestState.new(received, zone=NEW_YORK).due_at == utc(2025, 3, 1, 4, 59, 59, 999999)


def test_a_state_needs_its_calendar() -> None:
    with pytest.raises(ValueError, match="zone must be the time zone"):
        RequestState(Status.RECEIVED, utc(2025, 1, 1), zone=None)  # type: ignore[arg-type]
