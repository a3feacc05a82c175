"""Waiting on conditions: at once when the condition holds, a clear failure when it never does;
and no fixed time limit of Hypothesis's fails a test on a busy machine."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, settings

from tests.waiting import WAIT_SECONDS, wait_until


def test_a_condition_that_holds_ends_the_wait_at_once() -> None:
    started = time.monotonic()
    calls: list[int] = []

    def third_call() -> bool:
        calls.append(1)
        return len(calls) >= 3

    wait_until(third_call, "three calls")
    assert len(calls) == 3
    assert time.monotonic() - started < WAIT_SECONDS / 2


def test_a_condition_that_never_holds_fails_naming_what_was_awaited() -> None:
    with pytest.raises(AssertionError, match=r"still waiting after 0 s: the mail"):
        wait_until(lambda: False, "the mail", timeout=0.2)  # the bound is what this is about


def test_hypothesis_sets_no_deadline_nor_speed_check() -> None:
    assert settings().deadline is None
    assert HealthCheck.too_slow in settings().suppress_health_check
