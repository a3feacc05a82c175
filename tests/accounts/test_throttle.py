"""The login throttle's rules without the web: the allowance, the doubling wait and its ceiling,
pairs and addresses counted apart, and no email or address in the storage's keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from limits.storage import MemoryStorage

from dsr.accounts.throttle import LoginThrottle, ThrottlePolicy

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_the_wait_starts_past_the_allowance_doubles_and_has_a_ceiling() -> None:
    policy = ThrottlePolicy(first_delay=timedelta(minutes=1), longest_delay=timedelta(hours=1))
    waits = [policy.delay_after(failures, 5) for failures in range(1, 13)]
    assert waits[:4] == [None] * 4
    assert waits[4:] == [timedelta(minutes=m) for m in (1, 2, 4, 8, 16, 32, 60, 60)]


def test_a_pair_waits_alone_and_a_success_forgets_its_failures() -> None:
    storage = MemoryStorage()
    throttle = LoginThrottle(storage, secret="k", policy=ThrottlePolicy(pair_failures=2))
    for _ in range(2):
        throttle.record_failure(account="Dana@Example.org", address="203.0.113.1", now=NOW)
    assert throttle.refused(account="dana@example.org", address="203.0.113.1", now=NOW)
    assert not throttle.refused(account="dana@example.org", address="198.51.100.2", now=NOW)
    assert not throttle.refused(account="other@example.org", address="203.0.113.1", now=NOW)
    later = NOW + timedelta(seconds=61)
    assert not throttle.refused(account="dana@example.org", address="203.0.113.1", now=later)
    throttle.record_success(account="dana@example.org", address="203.0.113.1")
    throttle.record_failure(account="dana@example.org", address="203.0.113.1", now=later)
    assert not throttle.refused(account="dana@example.org", address="203.0.113.1", now=later)
    keys = " ".join(storage.storage)
    assert "dana" not in keys.lower() and "203.0.113.1" not in keys
