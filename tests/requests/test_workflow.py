"""The request workflow: every (status, action) pair, who may act, deadlines, pauses, extensions."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from functools import partial
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dsr.requests.deadlines import add_months, deadline_for, end_of_day
from dsr.requests.workflow import (
    ACTORS,
    TERMINAL,
    TRANSITIONS,
    Action,
    Actor,
    AuditFact,
    RequestState,
    Status,
    WorkflowError,
    apply,
    available_actions,
)

S, A = Status, Action
RECEIVED_AT = datetime(2025, 3, 3, 9, 30, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")
DUE = datetime(2025, 4, 3, 21, 59, 59, 999999, tzinfo=UTC)
"""The end of 3 April in Paris: a month after RECEIVED_AT, on the organisation's calendar."""
paris_deadline = partial(deadline_for, zone=PARIS)

# Written out from the brief, independently of the module's table.
EXPECTED: dict[tuple[Status, Action], Status] = {
    (S.RECEIVED, A.VERIFY_EMAIL): S.VERIFIED,
    (S.RECEIVED, A.EXPIRE): S.EXPIRED,
    (S.VERIFIED, A.START_REVIEW): S.IN_REVIEW,
    (S.VERIFIED, A.ASK_REQUESTER): S.AWAITING_REQUESTER,
    (S.IN_REVIEW, A.ASK_REQUESTER): S.AWAITING_REQUESTER,
    (S.AWAITING_REQUESTER, A.REQUESTER_ANSWERED): S.IN_REVIEW,
    (S.IN_REVIEW, A.APPROVE): S.APPROVED,
    (S.VERIFIED, A.DENY): S.DENIED,
    (S.IN_REVIEW, A.DENY): S.DENIED,
    (S.AWAITING_REQUESTER, A.DENY): S.DENIED,
    (S.APPROVED, A.START_PROCESSING): S.PROCESSING,
    (S.FAILED, A.START_PROCESSING): S.PROCESSING,
    # R47: carried out is not answered; the delivery of the answer completes the request.
    (S.PROCESSING, A.FINISH_PROCESSING): S.READY_TO_SEND,
    (S.VERIFIED, A.APPLY_AT_ONCE): S.READY_TO_SEND,
    (S.READY_TO_SEND, A.COMPLETE): S.COMPLETED,
    # R44: an answer by post is sent when staff record it posted.
    (S.READY_TO_SEND, A.ANSWER_POSTED): S.COMPLETED,
    (S.PROCESSING, A.FAIL): S.FAILED,
    (S.RECEIVED, A.CANCEL): S.CANCELLED,
    (S.VERIFIED, A.CANCEL): S.CANCELLED,
    (S.IN_REVIEW, A.CANCEL): S.CANCELLED,
    (S.AWAITING_REQUESTER, A.CANCEL): S.CANCELLED,
    (S.APPROVED, A.CANCEL): S.CANCELLED,
    **{
        (status, A.EXTEND): status
        for status in (
            S.RECEIVED,
            S.VERIFIED,
            S.IN_REVIEW,
            S.AWAITING_REQUESTER,
            S.APPROVED,
            S.PROCESSING,
            S.READY_TO_SEND,
            S.FAILED,
        )
    },
}


def make_state(
    status: Status = Status.RECEIVED,
    *,
    received_at: datetime = RECEIVED_AT,
    paused_since: datetime | None = None,
    paused_total: timedelta = timedelta(0),
    extension_months: int = 0,
    extension_reason: str | None = None,
) -> RequestState:
    """Build a request state; one waiting for the requester has been paused since day 2."""
    if status is Status.AWAITING_REQUESTER and paused_since is None:
        paused_since = received_at + timedelta(days=2)
    return RequestState(
        status=status,
        received_at=received_at,
        paused_since=paused_since,
        paused_total=paused_total,
        extension_months=extension_months,
        extension_reason=extension_reason,
        zone=PARIS,
    )


def step(
    state: RequestState,
    action: Action,
    *,
    actor: Actor | None = None,
    at: datetime | None = None,
    reason: str | None = "A reason.",
    months: int | None = None,
) -> RequestState:
    """Apply `action` with an allowed actor, a reason and, for extend, one month on the ground
    of complexity."""
    if actor is None:
        actor = sorted(ACTORS[action])[0]
    if months is None and action is Action.EXTEND:
        months = 1
    return apply(
        state,
        action,
        actor=actor,
        at=at or state.received_at + timedelta(days=5),
        reason=reason,
        months=months,
        ground="complexity" if action is Action.EXTEND else None,
    ).state


def at_day(day: float) -> datetime:
    return RECEIVED_AT + timedelta(days=day)


# --- the table ------------------------------------------------------------------------------


def test_the_table_is_the_one_in_the_brief() -> None:
    assert dict(TRANSITIONS) == EXPECTED
    assert frozenset({S.COMPLETED, S.DENIED, S.EXPIRED, S.CANCELLED}) == TERMINAL


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("action", list(Action))
def test_every_status_and_action(status: Status, action: Action) -> None:
    state = make_state(status)
    target = EXPECTED.get((status, action))
    if target is None:
        with pytest.raises(WorkflowError) as refused:
            step(state, action)
        message = refused.value.message
        assert message.endswith(".")
        assert message[0].isupper()
        assert " cannot " in message
    else:
        assert step(state, action).status is target


@pytest.mark.parametrize(
    ("action", "actors"),
    [
        (A.VERIFY_EMAIL, {Actor.REQUESTER, Actor.STAFF, Actor.SYSTEM}),
        (A.EXPIRE, {Actor.SYSTEM}),
        (A.START_REVIEW, {Actor.STAFF}),
        (A.ASK_REQUESTER, {Actor.STAFF}),
        (A.REQUESTER_ANSWERED, {Actor.REQUESTER, Actor.STAFF}),
        (A.APPROVE, {Actor.STAFF}),
        (A.DENY, {Actor.STAFF}),
        (A.START_PROCESSING, {Actor.STAFF, Actor.SYSTEM}),
        (A.FINISH_PROCESSING, {Actor.STAFF, Actor.SYSTEM}),
        (A.APPLY_AT_ONCE, {Actor.SYSTEM}),
        (A.COMPLETE, {Actor.SYSTEM}),
        (A.ANSWER_POSTED, {Actor.STAFF}),
        (A.FAIL, {Actor.STAFF, Actor.SYSTEM}),
        (A.CANCEL, {Actor.REQUESTER, Actor.STAFF}),
        (A.EXTEND, {Actor.STAFF}),
    ],
)
def test_who_may_act(action: Action, actors: set[Actor]) -> None:
    status = next(status for status, act in EXPECTED if act is action)
    state = make_state(status)
    for actor in Actor:
        if actor in actors:
            step(state, action, actor=actor)
        else:
            with pytest.raises(WorkflowError, match=r"^Only .* can .*\.$"):
                step(state, action, actor=actor)


def test_messages_read_as_sentences() -> None:
    with pytest.raises(WorkflowError, match=r"^A completed request cannot be cancelled\.$"):
        step(make_state(S.COMPLETED), A.CANCEL)
    with pytest.raises(WorkflowError, match=r"^A request being processed cannot be cancelled\.$"):
        step(make_state(S.PROCESSING), A.CANCEL)
    with pytest.raises(WorkflowError, match=r"^Only staff can approve a request\.$"):
        step(make_state(S.IN_REVIEW), A.APPROVE, actor=Actor.REQUESTER)
    with pytest.raises(
        WorkflowError, match=r"^Only staff or the requester can cancel a request\.$"
    ):
        step(make_state(S.IN_REVIEW), A.CANCEL, actor=Actor.SYSTEM)


@pytest.mark.parametrize("action", [A.DENY, A.FAIL, A.EXTEND])
@pytest.mark.parametrize("reason", [None, "", "   "])
def test_deny_fail_and_extend_need_a_reason(action: Action, reason: str | None) -> None:
    status = S.PROCESSING if action is A.FAIL else S.IN_REVIEW
    with pytest.raises(WorkflowError, match="reason"):
        step(make_state(status), action, reason=reason)


def test_other_actions_take_an_optional_reason() -> None:
    assert step(make_state(S.RECEIVED), A.CANCEL, reason=None).status is S.CANCELLED
    transition = apply(
        make_state(S.RECEIVED),
        A.VERIFY_EMAIL,
        actor=Actor.STAFF,
        at=at_day(1),
        reason="  Checked by phone with the learner.  ",
    )
    assert transition.fact.reason == "Checked by phone with the learner."


def test_the_audit_fact_describes_the_step() -> None:
    transition = apply(
        make_state(S.IN_REVIEW), A.DENY, actor=Actor.STAFF, at=at_day(4), reason="Repeated."
    )
    assert transition.fact == AuditFact(
        actor=Actor.STAFF,
        action=A.DENY,
        from_status=S.IN_REVIEW,
        to_status=S.DENIED,
        at=at_day(4),
        reason="Repeated.",
    )


def test_plain_strings_are_accepted_for_enums() -> None:
    transition = apply(make_state(), "verify_email", actor="requester", at=at_day(1))  # type: ignore[arg-type]
    assert transition.state.status is S.VERIFIED
    assert transition.fact.action is A.VERIFY_EMAIL
    assert transition.fact.actor is Actor.REQUESTER


def test_available_actions() -> None:
    assert available_actions(S.RECEIVED, Actor.REQUESTER) == (A.VERIFY_EMAIL, A.CANCEL)
    assert available_actions(S.RECEIVED, Actor.SYSTEM) == (A.VERIFY_EMAIL, A.EXPIRE)
    assert available_actions(S.PROCESSING, Actor.REQUESTER) == ()
    for status in TERMINAL:
        for actor in Actor:
            assert available_actions(status, actor) == ()


# --- deadlines (more cases on the calendar: test_calendar.py) ---------------------------------


def test_one_calendar_month_on_the_organisations_calendar() -> None:
    # 10:30 in Paris on 3 March: due by the end of 3 April in Paris (21:59:59 UTC in summer).
    assert paris_deadline(RECEIVED_AT) == DUE
    assert make_state().due_at == DUE


def test_extension_months_count_from_receipt() -> None:
    received = datetime(2025, 1, 31, 10, tzinfo=UTC)
    assert paris_deadline(received, extension_months=1) == end_of_day(date(2025, 3, 31), PARIS)
    assert paris_deadline(received, extension_months=2) == end_of_day(date(2025, 4, 30), PARIS)


def test_whole_days_of_pause_are_added() -> None:
    received = datetime(2025, 1, 31, 10, tzinfo=UTC)
    assert paris_deadline(received, paused=timedelta(days=3, hours=22)) == end_of_day(
        date(2025, 3, 3), PARIS
    )


def naive(name: str) -> str:
    """The message that refuses a naive datetime passed as `name`."""
    return f"^{name} must be a timezone-aware datetime, got a naive one$"


class NoOffset(tzinfo):
    """A time zone that does not know its offset: its datetimes are as unknown as naive ones."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match=naive("received_at")):
        paris_deadline(datetime(2025, 1, 31, 10))
    with pytest.raises(ValueError, match=naive("received_at")):
        RequestState.new(datetime(2025, 1, 31, 10), zone=PARIS)
    with pytest.raises(ValueError, match=naive("paused_since")):
        RequestState(
            S.AWAITING_REQUESTER, RECEIVED_AT, paused_since=datetime(2025, 3, 4), zone=PARIS
        )
    with pytest.raises(ValueError, match=naive("at")):
        apply(make_state(), A.VERIFY_EMAIL, actor=Actor.REQUESTER, at=datetime(2025, 3, 4))
    paused = make_state(S.AWAITING_REQUESTER)
    with pytest.raises(ValueError, match=naive("at")):
        paused.paused_as_of(datetime(2025, 3, 9))
    with pytest.raises(ValueError, match=naive("at")):
        paused.due_as_of(datetime(2025, 3, 9))


def test_a_time_zone_without_an_offset_is_refused_like_a_naive_time() -> None:
    with pytest.raises(ValueError, match=naive("received_at")):
        paris_deadline(datetime(2025, 1, 31, 10, tzinfo=NoOffset()))


def test_aware_times_are_read_as_instants() -> None:
    half_past_midnight = datetime(2025, 2, 1, 0, 30, tzinfo=timezone(timedelta(hours=1)))
    assert paris_deadline(half_past_midnight) == end_of_day(date(2025, 3, 1), PARIS)


@pytest.mark.usefixtures("server_in_new_york")
def test_the_servers_own_time_zone_does_not_move_a_deadline() -> None:
    # 02:00 UTC is still the day before in New York: on that calendar each due date would differ.
    received = datetime(2025, 1, 31, 2, tzinfo=UTC)
    assert paris_deadline(received) == end_of_day(date(2025, 2, 28), PARIS)
    assert paris_deadline(datetime(2025, 3, 31, 2, tzinfo=UTC)) == end_of_day(
        date(2025, 4, 30), PARIS
    )
    assert RequestState.new(datetime(2025, 3, 1, 2, tzinfo=UTC), zone=PARIS).due_at == (
        end_of_day(date(2025, 4, 1), PARIS)
    )


def test_negative_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="^paused time cannot be negative$"):
        paris_deadline(RECEIVED_AT, paused=timedelta(seconds=-1))
    with pytest.raises(ValueError, match="^extension_months cannot be negative$"):
        paris_deadline(RECEIVED_AT, extension_months=-1)


def test_add_months_across_years() -> None:
    assert add_months(date(2025, 11, 30), 3) == date(2026, 2, 28)
    assert add_months(date(2023, 12, 31), 2) == date(2024, 2, 29)
    assert add_months(date(2025, 1, 15), 24) == date(2027, 1, 15)


@given(
    received=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    extension=st.integers(min_value=0, max_value=2),
)
def test_a_month_is_28_to_31_days_and_extensions_only_add(
    received: datetime, extension: int
) -> None:
    due = paris_deadline(received)
    # From the last instant of a day to the end of the 28th day after it, up to the first
    # instant of a day to the end of the 32nd; an hour more or less across a change of time.
    assert timedelta(days=28, hours=-1) <= due - received <= timedelta(days=32, hours=1)
    assert (due + timedelta(microseconds=1)).astimezone(PARIS).time() == time(0)
    assert paris_deadline(received, extension_months=extension) >= due


# --- pauses ---------------------------------------------------------------------------------


def test_waiting_for_the_requester_pauses_the_clock() -> None:
    state = step(make_state(S.VERIFIED), A.ASK_REQUESTER, at=at_day(2))
    assert state.paused_since == at_day(2)
    assert state.due_at == DUE
    assert state.due_as_of(at_day(9)) == paris_deadline(RECEIVED_AT, paused=timedelta(days=7))

    state = step(state, A.REQUESTER_ANSWERED, at=at_day(12))
    assert state.status is S.IN_REVIEW
    assert state.paused_since is None
    assert state.paused_total == timedelta(days=10)
    assert state.due_at == end_of_day(date(2025, 4, 13), PARIS)

    state = step(state, A.ASK_REQUESTER, at=at_day(13))
    state = step(state, A.REQUESTER_ANSWERED, at=at_day(13.5))
    assert state.paused_total == timedelta(days=10, hours=12)
    assert state.due_at == end_of_day(date(2025, 4, 13), PARIS)


def test_a_pause_of_hours_adds_no_day_until_the_hours_make_one() -> None:
    asked = at_day(3)
    state = step(make_state(S.IN_REVIEW), A.ASK_REQUESTER, at=asked)
    assert state.paused_as_of(asked) == timedelta(0)
    assert state.due_as_of(asked) == state.due_at == DUE
    assert state.paused_as_of(asked + timedelta(minutes=20)) == timedelta(minutes=20)
    assert state.due_as_of(asked + timedelta(hours=23)) == DUE

    state = step(state, A.REQUESTER_ANSWERED, at=asked + timedelta(hours=5, minutes=30))
    assert state.paused_total == timedelta(hours=5, minutes=30)
    assert state.due_at == DUE

    state = step(state, A.ASK_REQUESTER, at=at_day(4))
    state = step(state, A.REQUESTER_ANSWERED, at=at_day(4) + timedelta(hours=18, minutes=30))
    assert state.paused_total == timedelta(days=1)
    assert state.due_at == end_of_day(date(2025, 4, 4), PARIS)


def test_an_earlier_instant_than_the_pause_adds_nothing_to_the_pauses_already_over() -> None:
    state = make_state(
        S.AWAITING_REQUESTER, paused_since=at_day(4), paused_total=timedelta(hours=1)
    )
    assert state.paused_as_of(at_day(3)) == timedelta(hours=1)
    assert state.paused_as_of(at_day(4) + timedelta(hours=3)) == timedelta(hours=4)


@pytest.mark.parametrize(
    ("received", "asked", "answered", "due"),
    [
        # A pause of 4 days and 6 hours across the end of January, before the month is up.
        (
            datetime(2025, 1, 20, 10, tzinfo=UTC),
            datetime(2025, 1, 30, 10, tzinfo=UTC),
            datetime(2025, 2, 3, 16, tzinfo=UTC),
            date(2025, 2, 24),
        ),
        # Received on 31 January: due 28 February, then 3 days across the end of February.
        (
            datetime(2025, 1, 31, 10, tzinfo=UTC),
            datetime(2025, 2, 27, 10, tzinfo=UTC),
            datetime(2025, 3, 2, 10, tzinfo=UTC),
            date(2025, 3, 3),
        ),
        # A leap year: 29 February is a day of the pause like any other.
        (
            datetime(2024, 1, 31, 10, tzinfo=UTC),
            datetime(2024, 2, 27, 22, tzinfo=UTC),
            datetime(2024, 3, 1, 4, tzinfo=UTC),
            date(2024, 3, 2),
        ),
        # Across the end of the year, a pause of hours: no day.
        (
            datetime(2025, 12, 15, 9, tzinfo=UTC),
            datetime(2025, 12, 31, 22, tzinfo=UTC),
            datetime(2026, 1, 1, 3, tzinfo=UTC),
            date(2026, 1, 15),
        ),
    ],
)
def test_a_pause_across_a_month_end_adds_its_whole_days(
    received: datetime, asked: datetime, answered: datetime, due: date
) -> None:
    state = make_state(S.IN_REVIEW, received_at=received)
    state = step(state, A.ASK_REQUESTER, at=asked)
    assert state.due_as_of(answered) == end_of_day(due, PARIS)
    state = step(state, A.REQUESTER_ANSWERED, at=answered)
    assert state.paused_total == answered - asked
    assert state.due_at == end_of_day(due, PARIS)


def test_an_extended_deadline_moves_on_during_a_pause() -> None:
    state = step(make_state(S.IN_REVIEW), A.EXTEND, at=at_day(3), months=2)
    state = step(state, A.ASK_REQUESTER, at=at_day(4))
    assert state.due_at == end_of_day(date(2025, 6, 3), PARIS)
    assert state.due_as_of(at_day(6)) == end_of_day(date(2025, 6, 5), PARIS)


@pytest.mark.parametrize("action", [A.DENY, A.CANCEL])
def test_leaving_a_pause_otherwise_also_counts_it(action: Action) -> None:
    state = make_state(S.AWAITING_REQUESTER, paused_since=at_day(2))
    state = step(state, action, at=at_day(5))
    assert state.paused_since is None
    assert state.paused_total == timedelta(days=3)


def test_a_paused_request_does_not_fall_overdue() -> None:
    state = make_state(S.AWAITING_REQUESTER, paused_since=at_day(2))
    much_later = at_day(200)
    assert state.due_as_of(much_later) > much_later
    assert not state.is_overdue(much_later)
    late = make_state(S.AWAITING_REQUESTER, paused_since=DUE + timedelta(days=1))
    assert late.is_overdue(much_later)


def test_time_cannot_run_back() -> None:
    state = make_state(S.AWAITING_REQUESTER, paused_since=at_day(4))
    with pytest.raises(
        ValueError, match="^at is before the pause started: the deadline cannot move earlier$"
    ):
        step(state, A.REQUESTER_ANSWERED, at=at_day(3))
    with pytest.raises(ValueError, match="^at is before the request was received$"):
        step(make_state(), A.VERIFY_EMAIL, at=at_day(-1))


def test_a_step_may_come_at_the_very_instant_of_receipt_or_of_the_pause() -> None:
    assert step(make_state(), A.VERIFY_EMAIL, at=RECEIVED_AT).status is S.VERIFIED
    state = make_state(S.AWAITING_REQUESTER, paused_since=at_day(4))
    state = step(state, A.REQUESTER_ANSWERED, at=at_day(4))
    assert state.status is S.IN_REVIEW
    assert state.paused_total == timedelta(0)


NOT_EXACTLY_WHILE_AWAITING = "^paused_since is set exactly while awaiting the requester$"


def test_state_invariants_are_checked() -> None:
    with pytest.raises(ValueError, match=NOT_EXACTLY_WHILE_AWAITING):
        make_state(S.IN_REVIEW, paused_since=at_day(1))
    with pytest.raises(ValueError, match=NOT_EXACTLY_WHILE_AWAITING):
        RequestState(status=S.AWAITING_REQUESTER, received_at=RECEIVED_AT, zone=PARIS)
    with pytest.raises(ValueError, match="^an extension and its reason go together$"):
        make_state(S.IN_REVIEW, extension_months=1)
    with pytest.raises(ValueError, match="^an extension and its reason go together$"):
        make_state(S.IN_REVIEW, extension_reason="Complex.")
    with pytest.raises(ValueError, match="^extension_months must be 0 to 2$"):
        make_state(S.IN_REVIEW, extension_months=3, extension_reason="Complex.")
    with pytest.raises(ValueError, match="^paused_total cannot be negative$"):
        make_state(S.IN_REVIEW, paused_total=timedelta(-1))


def test_a_pause_cannot_start_before_receipt() -> None:
    with pytest.raises(ValueError, match="^paused_since is before the request was received$"):
        make_state(S.AWAITING_REQUESTER, paused_since=RECEIVED_AT - timedelta(microseconds=1))
    at_once = make_state(S.AWAITING_REQUESTER, paused_since=RECEIVED_AT)
    assert at_once.paused_since == RECEIVED_AT
    assert at_once.due_as_of(at_day(1)) == end_of_day(date(2025, 4, 4), PARIS)


@pytest.mark.parametrize("months", [-1, -2])
def test_a_negative_extension_is_refused(months: int) -> None:
    with pytest.raises(ValueError, match="^extension_months must be 0 to 2$"):
        make_state(S.IN_REVIEW, extension_months=months, extension_reason="Complex.")


def test_months_only_go_with_extend() -> None:
    with pytest.raises(ValueError, match="^months is only for extend$"):
        step(make_state(S.IN_REVIEW), A.APPROVE, months=1)
    assert (
        apply(make_state(S.IN_REVIEW), A.APPROVE, actor=Actor.STAFF, at=at_day(1)).fact.months
        is None
    )


# Written out independently of the module, in the words of the brief.
CLOSED = {S.COMPLETED, S.DENIED, S.EXPIRED, S.CANCELLED}


@pytest.mark.parametrize("status", list(Status))
def test_is_terminal_is_a_real_bool_for_every_status(status: Status) -> None:
    """The public status page shows a deadline unless the request is closed."""
    state = make_state(status)
    assert state.is_terminal is (status in CLOSED)
    assert state.is_paused is (status is S.AWAITING_REQUESTER)


# --- extensions -----------------------------------------------------------------------------


@pytest.mark.parametrize("months", [1, 2])
def test_extend_before_the_deadline(months: int) -> None:
    transition = apply(
        make_state(S.IN_REVIEW),
        A.EXTEND,
        actor=Actor.STAFF,
        at=at_day(20),
        reason="Data held in six systems.",
        months=months,
        ground="complexity",
    )
    state = transition.state
    assert state.status is S.IN_REVIEW
    assert state.extension_months == months
    assert state.extension_reason == "Data held in six systems."
    assert state.due_at == end_of_day(date(2025, 3 + 1 + months, 3), PARIS)
    assert transition.fact.months == months
    assert transition.fact.from_status is transition.fact.to_status is S.IN_REVIEW


@pytest.mark.parametrize(
    "at", [DUE + timedelta(microseconds=1), DUE + timedelta(hours=2), DUE + timedelta(1)]
)
def test_extend_after_the_deadline_is_refused(at: datetime) -> None:
    with pytest.raises(
        WorkflowError,
        match=r"^The deadline can no longer be extended: the requester must be told before the "
        r"first month ends\.$",
    ):
        step(make_state(S.IN_REVIEW), A.EXTEND, at=at)


def test_extend_counts_the_pauses_in_the_first_month() -> None:
    late = DUE + timedelta(days=2)
    paused = make_state(S.AWAITING_REQUESTER, paused_since=at_day(2))
    assert step(paused, A.EXTEND, at=late).extension_months == 1
    after_pause = make_state(S.IN_REVIEW, paused_total=timedelta(days=5))
    assert step(after_pause, A.EXTEND, at=late).extension_months == 1


def test_extend_only_once() -> None:
    state = step(make_state(S.IN_REVIEW), A.EXTEND, at=at_day(3))
    with pytest.raises(
        WorkflowError, match="^The deadline has already been extended once: it cannot be again.$"
    ):
        step(state, A.EXTEND, at=at_day(4))


ONE_OR_TWO = r"^An extension is of one or two months\.$"


@pytest.mark.parametrize("months", [0, 3, -1, True])
def test_extend_by_one_or_two_months(months: int) -> None:
    with pytest.raises(WorkflowError, match=ONE_OR_TWO):
        step(make_state(S.IN_REVIEW), A.EXTEND, months=months)


def test_extend_needs_months() -> None:
    with pytest.raises(WorkflowError, match=ONE_OR_TWO):
        apply(make_state(S.IN_REVIEW), A.EXTEND, actor=Actor.STAFF, at=at_day(3), reason="Many.")


@pytest.mark.parametrize("status", sorted(TERMINAL))
def test_extend_a_closed_request_is_refused(status: Status) -> None:
    with pytest.raises(WorkflowError, match="cannot have its deadline extended"):
        step(make_state(status), A.EXTEND)


def test_a_request_ready_to_send_is_open_and_cannot_be_refused_nor_cancelled() -> None:
    state = make_state(S.READY_TO_SEND)
    assert not state.is_terminal  # still on the clock until its answer is delivered
    for action, actor in ((A.DENY, Actor.STAFF), (A.CANCEL, Actor.REQUESTER)):
        with pytest.raises(WorkflowError, match="ready to send cannot"):
            step(state, action, actor=actor)
    with pytest.raises(WorkflowError, match="Only the system can complete"):
        step(state, A.COMPLETE, actor=Actor.STAFF)
    assert step(state, A.EXTEND, reason="Many systems", months=1).extension_months == 1


def test_a_whole_erasure_with_a_failure_and_retry() -> None:
    state = RequestState.new(RECEIVED_AT, zone=PARIS)
    for day, action, actor in [
        (0.1, A.VERIFY_EMAIL, Actor.REQUESTER),
        (1, A.START_REVIEW, Actor.STAFF),
        (2, A.APPROVE, Actor.STAFF),
        (2, A.START_PROCESSING, Actor.SYSTEM),
        (2, A.FAIL, Actor.SYSTEM),
        (3, A.START_PROCESSING, Actor.STAFF),
        (3, A.FINISH_PROCESSING, Actor.SYSTEM),
        (4, A.COMPLETE, Actor.SYSTEM),
    ]:
        state = step(state, action, actor=actor, at=at_day(day))
    assert state.status is S.COMPLETED
    assert state.due_at == DUE


# --- properties -----------------------------------------------------------------------------


def calendar_rule(received: datetime, months: int, paused: timedelta) -> datetime:
    """The documented rule, written out another way: the same date `months` later on the Paris
    calendar (the month's last day when it is shorter), then a day per whole day paused; due
    when the next day begins in Paris."""
    local = received.astimezone(PARIS)
    year, month = local.year, local.month + months
    while month > 12:
        year, month = year + 1, month - 12
    day = local.day
    while True:
        try:
            due = date(year, month, day)
            break
        except ValueError:  # no such day in that month: go back to its last day
            day -= 1
    next_day = due + timedelta(days=paused // timedelta(days=1) + 1)
    midnight = datetime(next_day.year, next_day.month, next_day.day, tzinfo=PARIS)
    return midnight.astimezone(UTC) - timedelta(microseconds=1)


@given(
    received=st.datetimes(
        min_value=datetime(2000, 1, 1),
        max_value=datetime(2100, 1, 1),
        timezones=st.timezones(),
        allow_imaginary=False,
    ),
    pause_starts_after=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=27)),
    pause=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=90)),
    extension=st.integers(min_value=0, max_value=2),
)
def test_a_deadline_is_the_calendar_rule_for_any_receipt_and_pause(
    received: datetime, pause_starts_after: timedelta, pause: timedelta, extension: int
) -> None:
    """Through the workflow: extended at receipt, then one pause of any length, hours or days."""
    state = make_state(S.IN_REVIEW, received_at=received)
    if extension:
        state = step(state, A.EXTEND, at=received, months=extension)
    # In UTC: adding to a datetime of a zone with summer time adds wall-clock time, not elapsed.
    asked = received.astimezone(UTC) + pause_starts_after
    state = step(state, A.ASK_REQUESTER, at=asked)
    expected = calendar_rule(received, 1 + extension, pause)
    assert state.due_as_of(asked + pause) == expected
    state = step(state, A.REQUESTER_ANSWERED, at=asked + pause)
    assert state.due_at == expected
    assert paris_deadline(received, paused=pause, extension_months=extension) == expected


@st.composite
def scripts(draw: st.DrawFn) -> list[tuple[Action, Actor, timedelta, str | None, int]]:
    """Draw a run of steps, mostly allowed ones so that runs get deep, some refused ones."""
    status = Status.RECEIVED
    script = []
    for _ in range(draw(st.integers(min_value=0, max_value=40))):
        allowed = [action for action in Action if (status, action) in TRANSITIONS]
        onward = [
            action for action in allowed if TRANSITIONS[(status, action)] not in TERMINAL | {status}
        ]
        choices = [st.sampled_from(list(Action))]
        choices += [st.sampled_from(some) for some in (allowed, onward, onward, onward) if some]
        action = draw(st.one_of(choices))
        actor = draw(st.sampled_from(sorted(ACTORS[action])) | st.sampled_from(list(Actor)))
        gap = draw(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=12)))
        reason = draw(st.sampled_from([None, "", "Because."]))
        months = draw(st.sampled_from([1, 2, 0, 3]))
        script.append((action, actor, gap, reason, months))
        if (status, action) in TRANSITIONS and actor in ACTORS[action] and reason:
            status = TRANSITIONS[(status, action)]
    return script


@given(
    received=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    script=scripts(),
)
def test_random_steps_keep_the_invariants(
    received: datetime, script: list[tuple[Action, Actor, timedelta, str | None, int]]
) -> None:
    state = RequestState.new(received, zone=PARIS)
    now = received
    for action, actor, gap, reason, months in script:
        now += gap
        before = state
        try:
            transition = apply(
                state,
                action,
                actor=actor,
                at=now,
                reason=reason,
                months=months if action is Action.EXTEND else None,
                ground="complexity" if action is Action.EXTEND else None,
            )
        except WorkflowError:
            continue
        state = transition.state
        assert not before.is_terminal, "a closed request changed"
        assert state.due_at >= before.due_at
        assert state.due_as_of(now) >= before.due_as_of(now)
        assert state.paused_total >= before.paused_total
        assert state.extension_months >= before.extension_months
        assert (state.paused_since is not None) == (state.status is S.AWAITING_REQUESTER)
        assert transition.fact.from_status is before.status
        assert transition.fact.to_status is state.status
        assert transition.fact.at == now
        assert TRANSITIONS[(before.status, action)] is state.status


@given(
    status=st.sampled_from(sorted(TERMINAL)),
    action=st.sampled_from(Action),
    actor=st.sampled_from(Actor),
    reason=st.sampled_from([None, "Because."]),
)
def test_closed_requests_stay_closed(
    status: Status, action: Action, actor: Actor, reason: str | None
) -> None:
    with pytest.raises(WorkflowError):
        apply(
            make_state(status),
            action,
            actor=actor,
            at=at_day(3),
            reason=reason,
            months=1 if action is Action.EXTEND else None,
        )
