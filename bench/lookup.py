"""Time the locator's email lookup at 100,000 learners with each index, beside its raw-SQL floor.

Usage: python bench/lookup.py [--learners N] [--runs R] [--url URL]
Without --url, a scratch PostgreSQL database is created on the local server and dropped after.
The demo platform's tables are created (only `learner` is filled, lower-case addresses) and the
sample learner is located by email three ways: with only the plain index on `learner.email` (the
locator's `lower(email) = :v` reads the whole table), with the expression index on lower(email),
and with the map declaring the column `normalised: true` (the locator sends `email = :v`, which
the plain index serves). Each time is printed beside the floor (the very statements the locator
sent, replayed with the driver alone) and beside what `map check --live` says of the schema.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from access import captured_statements, replay
from scratch import scratch_database
from sqlalchemy import Engine, create_engine, insert, text

from dsr.demo.schema import learner, metadata
from dsr.demo.seed import SAMPLE_LEARNER_EMAIL
from inventory.indexes import index_warnings
from inventory.loader import parse_data_map
from inventory.locator import locate_subject
from inventory.model import DataMap
from inventory.systems import Systems

SCRATCH_DATABASE = "dsr_bench_lookup"
MAP_PATH = Path(__file__).resolve().parents[1] / "data_map.yaml"
EMAIL_LOCATION = "{column: learner.email, expect_one: true}"
EXPRESSION_INDEX = "ix_learner_email_lower"
FLOOR_FACTOR = 2.0
"""The issue's target: the lookup within 2x raw SQL when an index serves it."""


def fill_learners(engine: Engine, count: int) -> None:
    """Create the demo tables and `count` learners, the sample learner in the middle."""
    metadata.create_all(engine)
    created = datetime(2024, 1, 1, tzinfo=UTC)
    middle = count // 2
    with engine.begin() as conn:
        for start in range(1, count + 1, 10_000):
            rows = [
                {
                    "id": n,
                    "email": SAMPLE_LEARNER_EMAIL if n == middle else f"learner{n}@example.org",
                    "username": f"learner{n}",
                    "created_at": created,
                }
                for n in range(start, min(start + 10_000, count + 1))
            ]
            conn.execute(insert(learner), rows)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE learner"))


def _is_email_lookup(statement: str) -> bool:
    flat = " ".join(statement.lower().split())
    return "from learner where" in flat and "email" in flat.split("where", 1)[1]


def measure(name: str, data_map: DataMap, url: str, runs: int) -> tuple[float, float]:
    """Locate the sample learner `runs` times; print the medians and what the check says."""
    lookups: list[float] = []
    floors: list[float] = []
    alone: list[float] = []
    with Systems(data_map, {"POINT3_PLATFORM_URL": url}).opened() as systems:
        engine = systems.engine("learner_platform")
        location = locate_subject(data_map, systems, "email", SAMPLE_LEARNER_EMAIL)  # warm
        assert location.found, "the sample learner must be found"
        for _ in range(runs):
            with captured_statements(engine) as statements:
                started = time.perf_counter()
                locate_subject(data_map, systems, "email", SAMPLE_LEARNER_EMAIL)
                lookups.append(time.perf_counter() - started)
            floors.append(replay(engine, statements))
            alone.append(replay(engine, [s for s in statements if _is_email_lookup(s[0])]))
        said = [w.message for w in index_warnings(data_map, systems) if "`learner`" in w.message]
    lookup, floor = statistics.median(lookups), statistics.median(floors)
    print(f"\n{name}")
    print(f"  locate (every table of the map)  {lookup * 1000:8.2f} ms")
    print(f"  raw-SQL floor (same statements)  {floor * 1000:8.2f} ms  ({lookup / floor:.1f}x)")
    print(f"  of which learner by email, raw   {statistics.median(alone) * 1000:8.2f} ms")
    print(f"  map check --live on `learner`    {said[0][:90] + '...' if said else 'no warning'}")
    return lookup, floor


def run(url: str, learners: int, runs: int) -> bool:
    engine = create_engine(url)
    started = time.perf_counter()
    fill_learners(engine, learners)
    seconds = time.perf_counter() - started
    print(f"{learners:,} learners written in {seconds:.1f} s ({engine.dialect.name})")
    map_text = MAP_PATH.read_text(encoding="utf-8")
    folded = parse_data_map(map_text)
    normalised = parse_data_map(
        map_text.replace(EMAIL_LOCATION, EMAIL_LOCATION.replace("}", ", normalised: true}"))
    )
    with engine.begin() as conn:
        conn.execute(text(f"DROP INDEX {EXPRESSION_INDEX}"))
    plain, plain_floor = measure("plain index on email only: lower(email) = :v", folded, url, runs)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE INDEX {EXPRESSION_INDEX} ON learner (lower(email))"))
    expression, expression_floor = measure(
        "expression index on lower(email): lower(email) = :v", folded, url, runs
    )
    with engine.begin() as conn:
        conn.execute(text(f"DROP INDEX {EXPRESSION_INDEX}"))
    exact, exact_floor = measure("normalised: true, plain index: email = :v", normalised, url, runs)
    engine.dispose()
    checks = [
        ("expression index: within 2x floor", expression <= FLOOR_FACTOR * expression_floor),
        ("normalised + plain index: within 2x floor", exact <= FLOOR_FACTOR * exact_floor),
        ("an index serving the lookup beats the scan", max(expression, exact) < plain),
    ]
    print()
    for label, met in checks:
        print(f"  target {label}: {'met' if met else 'MISSED'}")
    return all(met for _, met in checks)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="an empty PostgreSQL or SQLite database to fill")
    parser.add_argument("--learners", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20, help="timed lookups per case (median)")
    args = parser.parse_args()
    if args.url:
        return 0 if run(args.url, args.learners, args.runs) else 1
    with scratch_database(SCRATCH_DATABASE) as url:
        return 0 if run(url, args.learners, args.runs) else 1


if __name__ == "__main__":
    sys.exit(main())
