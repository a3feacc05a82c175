"""Imported into a `dsr worker` by the tests (never by the desk): the run stops dead once a
system is reported done, and says so in the file named by WORKER_TEST_BLOCKED, so that the test
can kill the worker in the middle of a run (after the collection, or after a system's erasure,
before the run ends)."""

from __future__ import annotations

import os
import threading
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import Engine

from dsr.execution import runs

_record = runs.record_progress


def _record_then_block(
    engine: Engine,
    request_id: int,
    system: str,
    state: runs.ProgressState,
    rows: int | None,
    *,
    reason: str | None = None,
    now: datetime,
) -> None:
    _record(engine, request_id, system, state, rows, reason=reason, now=now)
    if state is runs.ProgressState.DONE:
        Path(os.environ["WORKER_TEST_BLOCKED"]).write_text(str(request_id))
        threading.Event().wait()  # until the test kills the process


runs.record_progress = _record_then_block
