"""Time the erasure of a typical and a heavy learner on PostgreSQL against the raw-SQL floor.

Usage: python bench/erasure.py [--url URL] [--learners N] [--events-per-learner N] [--samples N]
Without --url, a scratch PostgreSQL database is created on the local server, seeded like the access
bench (100,000 learners, 50 tracking events each) and dropped after; one learner gets 10,000 more
tracking events (the heavy learner). For each learner erased:
- the statements `execute_erasure` sends in its transaction (the SELECTs that find shared rows and
  read the values to anonymise, the DELETEs and UPDATEs) are captured in a rolled-back run;
- the floor: the same statements replayed alone on a raw connection, timed directly, rolled back
  (best of FLOOR_REPEATS); the DELETEs and UPDATEs alone are printed beside it;
- the erasure itself, rolled back the same way (best of FLOOR_REPEATS): the like-for-like ratio;
- then the erasure for real, committed: the time a user waits.
Targets: typical < 50 ms, heavy < 1 s (committed), both within 3x the floor.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, create_engine, event, text
from sqlalchemy.engine import make_url

from dsr.demo.seed import seed_platform
from inventory.anonymisation import PLACEHOLDER_DOMAIN
from inventory.erasure import execute_erasure
from inventory.loader import load_data_map
from inventory.locator import locate_subject
from inventory.model import DataMap
from inventory.systems import Systems

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
SCRATCH_DATABASE = "dsr_bench_erasure"
SYSTEM = "learner_platform"
HEAVY_EVENTS = 10_000
TYPICAL_TARGET_S = 0.050
HEAVY_TARGET_S = 1.0
FLOOR_FACTOR = 3.0
FLOOR_REPEATS = 5
SECRET = b"bench-secret"
MAP_PATH = Path(__file__).resolve().parents[1] / "data_map.yaml"


class _Rollback(Exception):
    """Raised at commit time to keep a capture run from changing anything."""


@dataclass
class Timing:
    email: str
    locate: float
    erasure: float  # committed
    rolled_back: float  # the erasure, rolled back like the floor
    floor: float  # every statement it sends
    writes_floor: float  # its DELETEs and UPDATEs alone
    statements: int
    rows_deleted: int


@contextmanager
def _capturing(systems: Systems) -> Iterator[list[tuple[str, Any, bool]]]:
    """Record the statements sent, and roll the transaction back."""
    engine = systems.engine(SYSTEM)
    captured: list[tuple[str, Any, bool]] = []

    def record(
        _conn: Connection, _cursor: Any, statement: str, params: Any, _ctx: Any, many: bool
    ) -> None:
        captured.append((statement, params, many))

    def refuse(_conn: Connection) -> None:
        raise _Rollback

    event.listen(engine, "before_cursor_execute", record)
    event.listen(engine, "commit", refuse)
    try:
        yield captured
    finally:
        event.remove(engine, "before_cursor_execute", record)
        event.remove(engine, "commit", refuse)


def _floor(url: str, statements: list[tuple[str, Any, bool]]) -> float:
    """Return the best time of the captured statements replayed on a raw connection."""
    engine = create_engine(url)
    best = float("inf")
    try:
        with engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            assert raw is not None
            for _ in range(FLOOR_REPEATS):
                cursor = raw.cursor()
                started = time.perf_counter()
                for statement, params, many in statements:
                    if many:
                        cursor.executemany(statement, params)
                    else:
                        cursor.execute(statement, params)
                best = min(best, time.perf_counter() - started)
                raw.rollback()
    finally:
        engine.dispose()
    return best


def _writes(statements: list[tuple[str, Any, bool]]) -> list[tuple[str, Any, bool]]:
    return [s for s in statements if s[0].lstrip().upper().startswith(("DELETE", "UPDATE"))]


def erase_one(data_map: DataMap, systems: Systems, url: str, email: str) -> Timing:
    started = time.perf_counter()
    location = locate_subject(data_map, systems, "email", email)
    located = time.perf_counter() - started
    now = datetime.now(UTC)
    rolled_back = float("inf")
    for _ in range(FLOOR_REPEATS):
        with _capturing(systems) as statements, suppress(_Rollback):
            begun = time.perf_counter()
            execute_erasure(data_map, systems, location, secret_key=SECRET, now=now)
        rolled_back = min(rolled_back, time.perf_counter() - begun)
    floor = _floor(url, statements)
    writes_floor = _floor(url, _writes(statements))
    started = time.perf_counter()
    [outcome] = execute_erasure(data_map, systems, location, secret_key=SECRET, now=now)
    elapsed = time.perf_counter() - started
    if outcome.status != "done":
        raise SystemExit(f"erasure of a learner failed: {outcome.error}")
    return Timing(
        email,
        located,
        elapsed,
        rolled_back,
        floor,
        writes_floor,
        len(statements),
        outcome.rows_deleted,
    )


def add_heavy_learner(url: str, learner_id: int) -> str:
    """Give one learner 10,000 more tracking events; return their email address."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO tracking_event (id, learner_id, cookie_id, occurred_at, page_url,"
                    " referrer_url, search_terms, duration_seconds, device) "
                    "SELECT (SELECT max(id) FROM tracking_event) + n, :learner, "
                    "'00000000-0000-4000-8000-000000000001', "
                    "now() - make_interval(mins => n), 'https://www.point3.example/fr/cours/' || n,"
                    " NULL, NULL, 30, 'Firefox / Linux' FROM generate_series(1, :count) AS n"
                ),
                {"learner": learner_id, "count": HEAVY_EVENTS},
            )
            conn.execute(text("ANALYZE tracking_event"))
            email = conn.execute(
                text("SELECT email FROM learner WHERE id = :id"), {"id": learner_id}
            ).scalar_one()
    finally:
        engine.dispose()
    return str(email)


def commit_latency(url: str, repeats: int = 20) -> float:
    """Return the median time of committing a one-row change: what the rolled-back floor omits."""
    engine = create_engine(url)
    times = []
    try:
        with engine.connect() as conn:
            conn.execute(text("CREATE TABLE bench_commit (id integer PRIMARY KEY, n integer)"))
            conn.execute(text("INSERT INTO bench_commit VALUES (1, 0)"))
            conn.commit()
            for _ in range(repeats):
                conn.execute(text("UPDATE bench_commit SET n = n + 1 WHERE id = 1"))
                started = time.perf_counter()
                conn.commit()
                times.append(time.perf_counter() - started)
            conn.execute(text("DROP TABLE bench_commit"))
            conn.commit()
    finally:
        engine.dispose()
    return statistics.median(times)


def typical_emails(url: str, count: int, exclude: int) -> list[str]:
    """Pick learners not erased yet (a rerun on the same --url picks others)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            emails = [
                str(e)
                for e in conn.execute(
                    text(
                        "SELECT email FROM learner WHERE id > 9 AND id <> :x"
                        " AND email NOT LIKE :erased ORDER BY id"
                    ),
                    {"x": exclude, "erased": f"%@{PLACEHOLDER_DOMAIN}"},
                ).scalars()
            ]
    finally:
        engine.dispose()
    return random.Random(7).sample(emails, count)  # noqa: S311


def report(label: str, timings: list[Timing], target: float, commit: float) -> bool:
    def median(values: Any) -> float:
        return float(statistics.median(values))

    erasure = median(t.erasure for t in timings)
    worst = max(t.erasure for t in timings)
    ratio = median(t.rolled_back / t.floor for t in timings)
    print(f"\n{label} learner ({len(timings)} erased)")
    print(f"  rows deleted (median):       {median(t.rows_deleted for t in timings):,.0f}")
    print(f"  statements sent (median):    {median(t.statements for t in timings):.0f}")
    print(f"  locate (median):             {median(t.locate for t in timings) * 1e3:.1f} ms")
    print(f"  erasure, committed, median / worst: {erasure * 1e3:.1f} / {worst * 1e3:.1f} ms")
    rolled_back = median(t.rolled_back for t in timings)
    print(f"  erasure, rolled back (median):      {rolled_back * 1e3:.1f} ms")
    print(f"  raw-SQL floor, rolled back (median): {median(t.floor for t in timings) * 1e3:.1f} ms")
    print(
        "    of which its DELETEs and UPDATEs alone: "
        f"{median(t.writes_floor for t in timings) * 1e3:.1f} ms"
    )
    print(f"  erasure / floor, both rolled back (median): {ratio:.2f}x")
    with_commit = median(t.erasure / (t.floor + commit) for t in timings)
    print(f"  committed erasure / (floor + one commit, {commit * 1e3:.1f} ms): {with_commit:.2f}x")
    writes = median(t.rolled_back / t.writes_floor for t in timings)
    print(f"  erasure / its writes alone, both rolled back: {writes:.2f}x")
    met = erasure < target and ratio <= FLOOR_FACTOR
    print(
        f"  target < {target * 1e3:.0f} ms and within {FLOOR_FACTOR:.0f}x the floor: "
        f"{'met' if met else 'MISSED'}"
    )
    return met


def run(url: str, learners: int, events: float, samples: int, seed_first: bool) -> bool:
    if seed_first:
        summary = seed_platform(url, learners=learners, events_per_learner=events)
        print(f"seeded {summary.total_rows:,} rows in {summary.seconds:.0f} s", file=sys.stderr)
    heavy_id = learners // 2
    heavy = add_heavy_learner(url, heavy_id)
    data_map = load_data_map(MAP_PATH)
    with Systems(data_map, {"POINT3_PLATFORM_URL": url}).opened() as systems:
        warm_up = typical_emails(url, samples + 1, heavy_id)
        erase_one(data_map, systems, url, warm_up.pop())
        typical = [erase_one(data_map, systems, url, email) for email in warm_up]
        heavy_timing = [erase_one(data_map, systems, url, heavy)]
    commit = commit_latency(url)
    met_typical = report("typical", typical, TYPICAL_TARGET_S, commit)
    met_heavy = report("heavy", heavy_timing, HEAVY_TARGET_S, commit)
    return met_typical and met_heavy


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="an already seeded demo platform (it will be changed)")
    parser.add_argument("--learners", type=int, default=100_000)
    parser.add_argument("--events-per-learner", type=float, default=50.0)
    parser.add_argument("--samples", type=int, default=20)
    args = parser.parse_args()
    if args.url:
        return (
            0 if run(args.url, args.learners, args.events_per_learner, args.samples, False) else 1
        )
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{SCRATCH_DATABASE}"'))
        connection.execute(text(f'CREATE DATABASE "{SCRATCH_DATABASE}"'))
    try:
        url = make_url(ADMIN_URL).set(database=SCRATCH_DATABASE).render_as_string(False)
        met = run(url, args.learners, args.events_per_learner, args.samples, True)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{SCRATCH_DATABASE}"'))
        admin.dispose()
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
