"""Waiting on a condition rather than for a fixed time: the bound is generous because it only
matters when something hangs; the wait ends as soon as the condition holds."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.engine import Engine

WAIT_SECONDS = 120.0
"""Long enough for a loaded two-core machine; a test that hangs still fails well before the
per-test timeout (pyproject.toml)."""


def wait_until(
    condition: Callable[[], object],
    what: str,
    *,
    timeout: float = WAIT_SECONDS,
    interval: float = 0.05,
) -> None:
    """Return as soon as `condition()` is true; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            raise AssertionError(f"still waiting after {timeout:.0f} s: {what}")
        time.sleep(interval)


def wait_until_a_lock_is_awaited(engine: Engine, what: str) -> None:
    """PostgreSQL: return as soon as some transaction waits for a lock (`pg_locks`), watched on
    a connection of its own; fail naming `what` after WAIT_SECONDS."""
    with engine.connect() as watcher:
        wait_until(
            lambda: watcher.execute(
                text("SELECT count(*) FROM pg_locks WHERE NOT granted")
            ).scalar_one(),
            what,
        )
