"""Helpers of the tests that change the demo platform: a writable copy of the seeded SQLite file per
test, a snapshot of every row by primary key, and the subject's keys as the locator finds them."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, create_engine, make_url, select
from sqlalchemy.exc import SAWarning

from dsr.demo.seed import SAMPLE_LEARNER_EMAIL
from inventory.loader import load_data_map
from inventory.locator import locate_subject
from inventory.systems import Systems
from tests.execution.conftest import DATA_MAP, PLATFORM_VARIABLE

Snapshot = dict[str, dict[tuple[Any, ...], tuple[Any, ...]]]
SYSTEM = "learner_platform"


def copy_platform(platform_url: str, folder: Path) -> str:
    """Copy the session's seeded platform into `folder`; return the copy's URL."""
    source = make_url(platform_url).database
    assert source is not None
    target = folder / "platform-copy.sqlite3"
    shutil.copyfile(source, target)
    return f"sqlite:///{target.as_posix()}"


def snapshot(url: str) -> Snapshot:
    """Return every row of every table, by primary key."""
    engine = create_engine(url)
    try:
        metadata = MetaData()
        with warnings.catch_warnings():  # expression indexes (lower(email)) are not needed here
            warnings.filterwarnings("ignore", "Skipped unsupported reflection", SAWarning)
            metadata.reflect(engine)
        rows: Snapshot = {}
        with engine.connect() as conn:
            for name, table in metadata.tables.items():
                key = [c.name for c in table.primary_key.columns] or [c.name for c in table.c]
                rows[name] = {
                    tuple(row._mapping[c] for c in key): tuple(row)
                    for row in conn.execute(select(table))
                }
        return rows
    finally:
        engine.dispose()


def subject_keys(url: str, email: str = SAMPLE_LEARNER_EMAIL) -> dict[str, set[tuple[Any, ...]]]:
    """Return, per table, the keys of the rows the locator finds for `email` and that are theirs
    (another person's message in a shared thread is not)."""
    data_map = load_data_map(DATA_MAP)
    with Systems(data_map, {PLATFORM_VARIABLE: url}).opened() as systems:
        location = locate_subject(data_map, systems, "email", email)
    return {
        table: set(match.keys) - match.not_owned
        for (_, table), match in location.tables.items()
        if match.keys
    }


def changed_outside(
    before: Snapshot, after: Snapshot, allowed: dict[str, set[tuple[Any, ...]]]
) -> list[str]:
    """Return the rows changed, added or removed whose keys are not in `allowed` (the subject's)."""
    problems = []
    for table, rows in before.items():
        later = after.get(table, {})
        mine = allowed.get(table, set())
        for key, row in rows.items():
            if key in mine:
                continue
            if later.get(key) != row:
                problems.append(f"{table} {key}")
        problems.extend(f"{table} {key} (new)" for key in later.keys() - rows.keys())
    return problems
