"""Imported into a `dsr worker` by the tests (never by the desk): the run stops dead once a
system is reported done (and that report is committed), and says so in the file named by
WORKER_TEST_BLOCKED, so that the test can kill the worker in the middle of a run (after the
collection, or after a system's erasure, before the run ends)."""

from __future__ import annotations

import os
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection, Engine

from dsr.execution import erasure, runs
from dsr.execution.change_records import ErasureSystemRun, SystemRunStatus

_record = runs.record_progress
_store_run = erasure._store_run


def _block(request_id: int) -> None:
    Path(os.environ["WORKER_TEST_BLOCKED"]).write_text(str(request_id))
    threading.Event().wait()  # until the test kills the process


def _record_then_block(
    store: Engine | Connection,
    request_id: int,
    system: str,
    state: runs.ProgressState,
    rows: int | None,
    *,
    reason: str | None = None,
    now: datetime,
) -> None:
    _record(store, request_id, system, state, rows, reason=reason, now=now)
    # A report written in the caller's transaction (an erasure stores it with the system's
    # outcome) is committed by the caller: `_store_then_block` blocks after it.
    if state is runs.ProgressState.DONE and isinstance(store, Engine):
        _block(request_id)


def _store_then_block(engine: Engine, request_id: int, **outcome: Any) -> ErasureSystemRun:
    run = _store_run(engine, request_id, **outcome)
    if run.status is SystemRunStatus.DONE:
        _block(request_id)
    return run


runs.record_progress = _record_then_block
erasure._store_run = _store_then_block
