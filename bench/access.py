"""Time an access request end to end on PostgreSQL: collection, its raw-SQL floor, PDF and zip.

Usage: python bench/access.py [--learners N] [--url URL --no-seed] [--runs R]
Without --url, a scratch database is created on the local server, seeded with the demo platform
(50 tracking events per learner) plus one heavy learner whose 10,000 tracking events are spread
through the table, and dropped after. For the sample learner and the heavy one it prints the
collection time (locate + collect_subject), the floor (the very SELECTs the collection ran,
replayed with the driver alone), the PDF and zip times and the peak memory, against the targets;
then the typical learner's collection warm, as a worker runs it (map and systems from
`dsr.datamap`, lookups served by an index), beside its floor.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from dsr.datamap import desk_map, forget_systems, open_systems
from dsr.demo.seed import REFERENCE_NOW, SAMPLE_LEARNER_EMAIL, seed_platform
from dsr.languages import Language, translations
from exports.access_report import ReportRequest, render_access_report
from exports.portability import write_portability_zip
from inventory.collection import Collection, collect_subject
from inventory.loader import load_data_map
from inventory.locator import locate_subject
from inventory.model import DataMap, IdentityKind
from inventory.systems import Systems

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
SCRATCH_DATABASE = "dsr_bench_access"
MAP_PATH = Path(__file__).resolve().parents[1] / "data_map.yaml"
HEAVY_EMAIL = "heavy.learner@example.org"
HEAVY_EVENTS = 10_000
COLLECTION_FACTOR = 3.0
TYPICAL_SECONDS = 0.300
HEAVY_SECONDS = 5.0
HEAVY_MEGABYTES = 200.0


def _progress(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)


def add_heavy_learner(url: str) -> None:
    """Add a learner who owns 10,000 tracking events taken evenly across the whole table."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            heavy_id = connection.execute(text("SELECT max(id) + 1 FROM learner")).scalar_one()
            connection.execute(
                text(
                    "INSERT INTO learner (id, email, username, first_name, last_name, country, "
                    "preferred_language, created_at, last_login_at, login_enabled, restricted) "
                    "VALUES (:id, :email, 'heavy_learner', 'Hélène', 'Lourde', 'FR', 'fr', "
                    ":created, :login, true, false)"
                ),
                {
                    "id": heavy_id,
                    "email": HEAVY_EMAIL,
                    "created": datetime(2023, 1, 5, tzinfo=UTC),
                    "login": REFERENCE_NOW,
                },
            )
            total = connection.execute(text("SELECT count(*) FROM tracking_event")).scalar_one()
            step = max(total // HEAVY_EVENTS, 1)
            connection.execute(
                text(
                    "UPDATE tracking_event SET learner_id = :heavy WHERE id IN ("
                    " SELECT id FROM tracking_event WHERE id % :step = 0 ORDER BY id LIMIT :n)"
                ),
                {"heavy": heavy_id, "step": step, "n": HEAVY_EVENTS},
            )
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE"))
    finally:
        engine.dispose()


@dataclass
class Timings:
    collection: list[float]
    floor: list[float]
    pdf: list[float]
    zip: list[float]
    rows: int = 0
    pdf_bytes: int = 0
    zip_bytes: int = 0
    peak_megabytes: float = 0.0

    @staticmethod
    def best(values: list[float]) -> float:
        return statistics.median(values)


@contextmanager
def captured_statements(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """Record every statement the engine sends to the driver while the block runs."""
    statements: list[tuple[str, Any]] = []

    def record(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool
    ) -> None:
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def replay(engine: Engine, statements: list[tuple[str, Any]]) -> float:
    """Run the statements on the driver's own cursor, fetching every row; return the seconds."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        started = time.perf_counter()
        for statement, parameters in statements:
            cursor.execute(statement, parameters)
            if cursor.description is not None:
                cursor.fetchall()
        elapsed = time.perf_counter() - started
        cursor.close()
        raw.rollback()
    finally:
        raw.close()
    return elapsed


def run_once(
    data_map: DataMap, systems: Systems, email: str, workdir: Path
) -> tuple[Collection, float, float, float, int, int]:
    """Collect, render and zip once; return the collection and the three durations and sizes."""
    request = ReportRequest(
        reference="BENCH-1",
        received_at=REFERENCE_NOW,
        completed_at=REFERENCE_NOW,
        requester_email=email,
        language="fr",
    )
    catalogue = translations(Language.FR)
    started = time.perf_counter()
    location = locate_subject(data_map, systems, "email", email)
    collection = collect_subject(data_map, systems, location, workdir / "collection")
    collected = time.perf_counter()
    with (workdir / "report.pdf").open("wb") as out:
        render_access_report(
            data_map=data_map,
            collection=collection,
            request=request,
            translations=catalogue,
            out=out,
        )
    rendered = time.perf_counter()
    with (workdir / "export.zip").open("wb") as out:
        write_portability_zip(
            data_map=data_map,
            collection=collection,
            request=request,
            translations=catalogue,
            out=out,
        )
    zipped = time.perf_counter()
    return (
        collection,
        collected - started,
        rendered - collected,
        zipped - rendered,
        (workdir / "report.pdf").stat().st_size,
        (workdir / "export.zip").stat().st_size,
    )


def measure(data_map: DataMap, url: str, email: str, runs: int) -> Timings:
    timings = Timings([], [], [], [])
    with (
        Systems(data_map, {"POINT3_PLATFORM_URL": url}).opened() as systems,
        tempfile.TemporaryDirectory(prefix="dsr-bench-access-") as folder,
    ):
        workdir = Path(folder)
        engine = systems.engine("learner_platform")
        run_once(data_map, systems, email, workdir)  # warm: reflection, pool, caches
        for _ in range(runs):
            with captured_statements(engine) as statements:
                collection, collect_s, pdf_s, zip_s, pdf_size, zip_size = run_once(
                    data_map, systems, email, workdir
                )
            timings.collection.append(collect_s)
            timings.pdf.append(pdf_s)
            timings.zip.append(zip_s)
            timings.floor.append(replay(engine, statements))
            timings.rows = collection.total_rows
            timings.pdf_bytes, timings.zip_bytes = pdf_size, zip_size
        tracemalloc.start()
        run_once(data_map, systems, email, workdir)
        timings.peak_megabytes = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
    return timings


def report(name: str, timings: Timings, end_to_end_target: float, memory_target: float) -> bool:
    best = Timings.best
    collection, floor = best(timings.collection), best(timings.floor)
    total = collection + best(timings.pdf) + best(timings.zip)
    checks = [
        (f"collection within {COLLECTION_FACTOR:.0f}x floor", collection <= 3 * floor),
        (f"end to end < {end_to_end_target * 1000:.0f} ms", total < end_to_end_target),
        (f"peak memory < {memory_target:.0f} MB", timings.peak_megabytes < memory_target),
    ]
    print(f"\n{name}: {timings.rows:,} rows")
    print(f"  collection (locate + collect)  {collection * 1000:9.1f} ms")
    print(f"  raw-SQL floor (same SELECTs)   {floor * 1000:9.1f} ms  ({collection / floor:.1f}x)")
    print(f"  PDF ({timings.pdf_bytes:,} bytes)".ljust(33) + f"{best(timings.pdf) * 1000:9.1f} ms")
    print(f"  zip ({timings.zip_bytes:,} bytes)".ljust(33) + f"{best(timings.zip) * 1000:9.1f} ms")
    print(f"  end to end                     {total * 1000:9.1f} ms")
    print(f"  peak memory (tracemalloc)      {timings.peak_megabytes:9.1f} MB")
    for label, met in checks:
        print(f"  target {label}: {'met' if met else 'MISSED'}")
    return all(met for _, met in checks)


def run(url: str, learners: int, seed: bool, runs: int) -> bool:
    if seed:
        summary = seed_platform(
            url, learners=learners, seed=3, events_per_learner=50, progress=_progress
        )
        print(f"seeded {summary.total_rows:,} rows in {summary.seconds:.1f} s")
        for table, count in summary.counts.items():
            print(f"  {table:<24} {count:>12,}")
        add_heavy_learner(url)
        _progress("heavy learner added")
    data_map = load_data_map(MAP_PATH)
    results: list[bool] = []
    people: list[tuple[str, str, float, float]] = [
        ("typical learner (the sample)", SAMPLE_LEARNER_EMAIL, TYPICAL_SECONDS, HEAVY_MEGABYTES),
        (f"heavy learner ({HEAVY_EVENTS:,} tracking events)", HEAVY_EMAIL, HEAVY_SECONDS,
         HEAVY_MEGABYTES),
    ]  # fmt: skip
    for name, email, seconds, megabytes in people:
        results.append(report(name, measure(data_map, url, email, runs), seconds, megabytes))
    results.append(warm_typical_collection(url, max(runs, WARM_RUNS)))
    return all(results)


WARM_RUNS = 30
WARM_FACTOR = 2.0


def serve_email_lookups(url: str, data_map: DataMap) -> None:
    """Create an index on lower(column) for every email identity column that has none."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            for identity in data_map.identities.values():
                if identity.kind is not IdentityKind.EMAIL:
                    continue
                for place in identity.locations.get("learner_platform", []):
                    table, column = place.column.split(".", 1)
                    connection.execute(
                        text(
                            f"CREATE INDEX IF NOT EXISTS bench_{table}_{column}_lower "
                            f"ON {table} (lower({column}))"
                        )
                    )
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE"))
    finally:
        engine.dispose()


def warm_typical_collection(url: str, runs: int) -> bool:
    """Time the typical learner's collection as a worker runs it once warm: the map and the
    systems taken from `dsr.datamap` (parsed and reflected once, pooled connections, built
    statements), an index serving each email lookup; beside the same SELECTs replayed on the
    driver, in the same run. Target: within WARM_FACTOR x that floor."""
    settings = {"DATA_MAP": str(MAP_PATH), "POINT3_PLATFORM_URL": url}
    serve_email_lookups(url, desk_map(settings))
    collections: list[float] = []
    floors: list[float] = []
    rows = 0
    with tempfile.TemporaryDirectory(prefix="dsr-bench-warm-") as folder:
        workdir = Path(folder)

        def collect_once() -> Collection:
            data_map = desk_map(settings)
            with open_systems(settings).pinned() as systems:  # as dsr.execution.access does
                location = locate_subject(data_map, systems, "email", SAMPLE_LEARNER_EMAIL)
                return collect_subject(data_map, systems, location, workdir / "collection")

        for _ in range(3):  # warm: parse, reflection, pool, statements
            collect_once()
        engine = open_systems(settings).engine("learner_platform")
        for _ in range(runs):
            with captured_statements(engine) as statements:
                started = time.perf_counter()
                rows = collect_once().total_rows
                collections.append(time.perf_counter() - started)
            floors.append(replay(engine, statements))
    forget_systems()
    collection, floor = statistics.median(collections), statistics.median(floors)
    met = collection <= WARM_FACTOR * floor
    print(f"\ntypical learner, warm (map and systems cached, lookups indexed): {rows:,} rows")
    print(f"  collection (locate + collect)  {collection * 1000:9.2f} ms  (median of {runs})")
    print(f"  raw-SQL floor (same SELECTs)   {floor * 1000:9.2f} ms  ({collection / floor:.1f}x)")
    print(f"  target within {WARM_FACTOR:.0f}x floor: {'met' if met else 'MISSED'}")
    return met


@contextmanager
def scratch_database() -> Iterator[str]:
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{SCRATCH_DATABASE}"'))
        connection.execute(text(f'CREATE DATABASE "{SCRATCH_DATABASE}"'))
    try:
        yield (
            make_url(ADMIN_URL).set(database=SCRATCH_DATABASE).render_as_string(hide_password=False)
        )
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{SCRATCH_DATABASE}" WITH (FORCE)'))
        admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="SQLAlchemy URL of an existing PostgreSQL database")
    parser.add_argument("--no-seed", action="store_true", help="with --url: already seeded")
    parser.add_argument("--learners", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3, help="timed runs per learner (median)")
    args = parser.parse_args()
    if args.url:
        return 0 if run(args.url, args.learners, not args.no_seed, args.runs) else 1
    with scratch_database() as url:
        return 0 if run(url, args.learners, True, args.runs) else 1


if __name__ == "__main__":
    sys.exit(main())
