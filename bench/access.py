"""Time an access request end to end on PostgreSQL: collection, its raw-SQL floor, PDF and zip.

Usage: python bench/access.py [--learners N] [--url URL --no-seed] [--runs R]
Without --url, a scratch database is created on the local server, seeded with the demo platform
(50 tracking events per learner) plus one heavy learner whose 10,000 tracking events are spread
through the table, and dropped after. For the sample learner and the heavy one it prints the
collection time (locate + collect_subject), the floor (the very SELECTs the collection ran,
replayed with the driver alone), the PDF and zip times and the peak memory, against the targets.

Then, end to end as the desk answers an access request (collection, the PDF with its row limit
per category and the complete export, map and systems warm), each person in a process of its
own so that its peak memory (VmHWM) is its alone: the typical learner, the heavy one, and two
more learners given 100,000 and 1,000,000 tracking events of their own, each beside its raw-SQL
floor. `--end-to-end-only` skips the first part; `--largest N` caps the biggest person.
The first part ends with the typical learner's collection warm as a worker runs it (map and
systems from `dsr.datamap`, lookups served by indexes it creates and drops), beside its floor.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from machine import speed_line
from scratch import scratch_database
from sqlalchemy import Engine, create_engine, event, text

from dsr.datamap import desk_map, forget_systems, open_systems
from dsr.demo.seed import REFERENCE_NOW, SAMPLE_LEARNER_EMAIL, seed_platform
from dsr.languages import Language, translations
from exports.access_report import ROWS_PER_CATEGORY, ReportRequest, render_access_report
from exports.data_export import write_data_export
from exports.portability import write_portability_zip
from inventory.collection import Collection, collect_subject
from inventory.loader import load_data_map
from inventory.locator import locate_subject
from inventory.model import DataMap, IdentityKind
from inventory.systems import Systems

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
    """Run the statements on the driver's own cursor, fetching every row; return the seconds.

    Rows are read a thousand at a time, as the desk reads them (libpq's chunked mode, see
    `inventory.keyed.stream_keyed`): a million read at once made this floor, not the desk, the
    process's peak memory."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        started = time.perf_counter()
        for statement, parameters in statements:
            for _ in cursor.stream(statement, parameters, size=1000):
                pass
        elapsed = time.perf_counter() - started
        cursor.close()
        raw.rollback()
    finally:
        raw.close()
    return elapsed


def measure(data_map: DataMap, url: str, email: str, runs: int) -> Timings:
    """Answer with the portable zip (Art. 20) `runs` times warm; keep each stage's durations."""
    timings = Timings([], [], [], [])
    with (
        Systems(data_map, {"POINT3_PLATFORM_URL": url}).opened() as systems,
        tempfile.TemporaryDirectory(prefix="dsr-bench-access-") as folder,
    ):
        workdir = Path(folder)
        engine = systems.engine("learner_platform")

        def once() -> dict[str, float]:
            return answer_once(
                data_map, systems, email, workdir, ROWS_PER_CATEGORY, write_portability_zip
            )

        once()  # warm: reflection, pool, caches
        for _ in range(runs):
            with captured_statements(engine) as statements:
                answer = once()
            timings.collection.append(answer["collection"])
            timings.pdf.append(answer["pdf"])
            timings.zip.append(answer["export"])
            timings.floor.append(replay(engine, statements))
            timings.rows = int(answer["rows"])
            timings.pdf_bytes, timings.zip_bytes = (
                int(answer["pdf_bytes"]),
                int(answer["export_bytes"]),
            )
        tracemalloc.start()
        once()
        timings.peak_megabytes = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
    return timings


def report(name: str, timings: Timings, end_to_end_target: float, memory_target: float) -> bool:
    best = Timings.best
    collection, floor = best(timings.collection), best(timings.floor)
    total = collection + best(timings.pdf) + best(timings.zip)
    checks = [
        (
            f"collection within {COLLECTION_FACTOR:.0f}x floor",
            collection <= COLLECTION_FACTOR * floor,
        ),
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


# --- end to end, as the desk answers an access request ------------------------------------------

BIG_PEOPLE = ((100_000, 3.0), (1_000_000, 30.0))
"""Tracking events of the learners added for the end-to-end figures, and the seconds allowed."""
END_TO_END_TARGETS = {
    SAMPLE_LEARNER_EMAIL: 0.040,
    HEAVY_EMAIL: 0.600,
}
END_TO_END_MEGABYTES = 200.0
TYPICAL_END_TO_END_RUNS = 9
"""Timed answers of the typical learner end to end (the median is printed): at about 35 ms each,
nine cost a third of a second, and a median of nine is not moved by one or two answers that met
a slow moment of the machine (its speed changes within the minute), as a median of three was."""


def big_email(events: int) -> str:
    return f"big.learner.{events}@example.org"


def add_learner_with_events(url: str, events: int) -> str:
    """Add a learner owning `events` new tracking events (pages, referrers, devices and times
    varying as a visitor's do) with one INSERT ... SELECT; return their email."""
    email = big_email(events)
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            learner_id = connection.execute(text("SELECT max(id) + 1 FROM learner")).scalar_one()
            connection.execute(
                text(
                    "INSERT INTO learner (id, email, username, first_name, last_name, country, "
                    "preferred_language, created_at, last_login_at, login_enabled, restricted) "
                    "VALUES (:id, :email, :username, 'Bernard', 'Nombreux', 'FR', 'fr', "
                    ":created, :login, true, false)"
                ),
                {
                    "id": learner_id,
                    "email": email,
                    "username": f"big_learner_{events}",
                    "created": datetime(2022, 3, 1, tzinfo=UTC),
                    "login": REFERENCE_NOW,
                },
            )
            connection.execute(
                text(
                    "INSERT INTO tracking_event (id, learner_id, cookie_id, occurred_at, page_url,"
                    " referrer_url, search_terms, duration_seconds, device) "
                    "SELECT first + i, :learner, :cookie, "
                    " :start + make_interval(secs => i * 37), "
                    " 'https://www.point3.fr/fr/formations/' || (i % 211) || '/m' || (i % 13),"
                    " CASE WHEN i % 3 = 0 THEN 'https://www.google.com/' ELSE NULL END,"
                    " CASE WHEN i % 17 = 0 THEN 'excel niveau ' || (i % 5) ELSE NULL END,"
                    " 3 + (i::bigint * 7919) % 240,"
                    " (ARRAY['Firefox 132 / Windows 11', 'Safari 18 / iOS 18',"
                    "  'Chrome 131 / Android 15'])[1 + i % 3] "
                    "FROM (SELECT coalesce(max(id), 0) AS first FROM tracking_event) AS top, "
                    " generate_series(1, :events) AS i"
                ),
                {
                    "learner": learner_id,
                    "cookie": f"00000000-0000-4000-8000-{events:012d}",
                    "start": datetime(2022, 3, 1, tzinfo=UTC),
                    "events": events,
                },
            )
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE tracking_event"))
    finally:
        engine.dispose()
    return email


ExportWriter = Callable[..., None]
"""Writes a collection's export: the complete one delivered with the report, or the portable zip."""


def answer_once(
    data_map: DataMap,
    systems: Systems,
    email: str,
    workdir: Path,
    rows_per_category: int,
    export: ExportWriter = write_data_export,
) -> dict[str, float]:
    """Answer one access request as the desk does: collect, the PDF, the export (the complete
    one, or `export`)."""
    request = ReportRequest(
        reference="BENCH-2",
        received_at=REFERENCE_NOW,
        completed_at=REFERENCE_NOW,
        requester_email=email,
        language="fr",
    )
    catalogue = translations(Language.FR)
    # As `dsr.execution.access.run_access` does before it starts: a request's folder is new
    # (removed whole first), so nothing is truncated or cleared while the answer is timed.
    shutil.rmtree(workdir / "collection", ignore_errors=True)
    (workdir / "report.pdf").unlink(missing_ok=True)
    (workdir / "export.zip").unlink(missing_ok=True)
    cpu = [time.process_time()]
    started = time.perf_counter()
    with systems.pinned():  # one connection per system for the whole collection, as the desk
        location = locate_subject(data_map, systems, "email", email)
        collection = collect_subject(data_map, systems, location, workdir / "collection")
    del location  # as the desk does (`dsr.execution.access`): not kept while the files are written
    collected = time.perf_counter()
    cpu.append(time.process_time())
    peak_collected = _maxrss_megabytes()
    with (workdir / "report.pdf").open("wb") as out:
        render_access_report(
            data_map=data_map,
            collection=collection,
            request=request,
            translations=catalogue,
            out=out,
            rows_per_category=rows_per_category,
        )
    rendered = time.perf_counter()
    cpu.append(time.process_time())
    peak_rendered = _maxrss_megabytes()
    with (workdir / "export.zip").open("wb") as out:
        export(
            data_map=data_map,
            collection=collection,
            request=request,
            translations=catalogue,
            out=out,
        )
    exported = time.perf_counter()
    cpu.append(time.process_time())
    return {
        # This process's CPU seconds: on a busy machine, what the work cost apart from waiting.
        "collection_cpu": cpu[1] - cpu[0],
        "pdf_cpu": cpu[2] - cpu[1],
        "export_cpu": cpu[3] - cpu[2],
        "rows": collection.total_rows,
        "collection": collected - started,
        "pdf": rendered - collected,
        "export": exported - rendered,
        "pdf_bytes": (workdir / "report.pdf").stat().st_size,
        "export_bytes": (workdir / "export.zip").stat().st_size,
        "maxrss_after_collection": peak_collected,
        "maxrss_after_pdf": peak_rendered,
        "maxrss_after_export": _maxrss_megabytes(),
    }


def _maxrss_megabytes() -> float:
    """The process's peak resident memory so far.

    On Linux, the high-water mark of this program's own memory (`VmHWM`): `ru_maxrss` keeps, across
    the `exec` of a child, the peak of the parent it was forked from (the benchmark that seeded a
    million rows), so that every person measured in a child showed that parent's peak.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # in KiB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_end_to_end(url: str, email: str, runs: int, rows_per_category: int) -> dict[str, Any]:
    """Answer `runs` times warm (after one untimed answer); return the medians, the floor of the
    collection's SELECTs, and this process's peak resident memory."""
    data_map = load_data_map(MAP_PATH)
    answers: list[dict[str, float]] = []
    floors: list[float] = []
    with (
        Systems(data_map, {"POINT3_PLATFORM_URL": url}).opened() as systems,
        tempfile.TemporaryDirectory(prefix="dsr-bench-answer-") as folder,
    ):
        engine = systems.engine("learner_platform")
        # The first answer reaches each stage's peak: the high-water mark only grows.
        first = answer_once(data_map, systems, email, Path(folder), rows_per_category)
        for _ in range(runs):
            with captured_statements(engine) as statements:
                answers.append(
                    answer_once(data_map, systems, email, Path(folder), rows_per_category)
                )
            floors.append(replay(engine, statements))
    median = {key: statistics.median(a[key] for a in answers) for key in answers[0]}
    median["floor"] = statistics.median(floors)
    median["runs"] = runs
    # The desk's peak is the first answer's (later ones are the same work, warm); the process's
    # own peak after the timed runs also holds the statements captured for the floor (a million
    # keys as parameters) and is shown beside it.
    median["maxrss_megabytes"] = first["maxrss_after_export"]
    median["maxrss_with_floor"] = _maxrss_megabytes()
    for stage in ("collection", "pdf", "export"):
        median[f"maxrss_after_{stage}"] = first[f"maxrss_after_{stage}"]
    return median


def end_to_end_in_child(url: str, email: str, runs: int) -> dict[str, Any]:
    """Measure one person in a fresh process: its peak memory is that person's alone."""
    command = [sys.executable, __file__, "--url", url, "--answer", email, "--runs", str(runs)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)  # noqa: S603
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def report_end_to_end(name: str, figures: dict[str, Any], seconds: float) -> bool:
    total = figures["collection"] + figures["pdf"] + figures["export"]
    checks = [
        (f"end to end < {seconds * 1000:,.0f} ms", total < seconds),
        (
            f"peak memory (VmHWM) < {END_TO_END_MEGABYTES:.0f} MB",
            figures["maxrss_megabytes"] < END_TO_END_MEGABYTES,
        ),
    ]
    floor = figures["floor"]
    answers = int(figures["runs"])
    median_of = f"median of {answers} answers" if answers > 1 else "one answer"
    print(f"\nend to end, {name}: {int(figures['rows']):,} rows ({median_of})")
    print(
        f"  collection                     {figures['collection'] * 1000:9.1f} ms"
        f"  (CPU {figures['collection_cpu'] * 1000:.1f} ms)"
    )
    ratio = f"(end to end {total / floor:.1f}x)"
    print(f"  raw-SQL floor (same SELECTs)   {floor * 1000:9.1f} ms  {ratio}")
    print(
        f"  PDF ({int(figures['pdf_bytes']):,} bytes)".ljust(33)
        + f"{figures['pdf'] * 1000:9.1f} ms  (CPU {figures['pdf_cpu'] * 1000:.1f} ms)"
    )
    print(
        f"  export ({int(figures['export_bytes']):,} bytes)".ljust(33)
        + f"{figures['export'] * 1000:9.1f} ms  (CPU {figures['export_cpu'] * 1000:.1f} ms)"
    )
    cpu = figures["collection_cpu"] + figures["pdf_cpu"] + figures["export_cpu"]
    print(f"  end to end                     {total * 1000:9.1f} ms  (CPU {cpu * 1000:.1f} ms)")
    print(
        f"  peak memory (VmHWM)            {figures['maxrss_megabytes']:9.1f} MB"
        f"  (with the floor's capture {figures['maxrss_with_floor']:.1f} MB)"
    )
    stages = ", ".join(
        f"{stage} {figures[f'maxrss_after_{stage}']:.0f} MB"
        for stage in ("collection", "pdf", "export")
    )
    print(f"    first answer, peak after: {stages}")
    for label, met in checks:
        print(f"  target {label}: {'met' if met else 'MISSED'}")
    return all(met for _, met in checks)


def run_end_to_end(url: str, seed: bool, runs: int, largest: int) -> bool:
    """Print the end-to-end figures of the typical, the heavy and the big learners."""
    typical, heavy = SAMPLE_LEARNER_EMAIL, HEAVY_EMAIL
    people = [
        (
            "typical learner (the sample)",
            typical,
            END_TO_END_TARGETS[typical],
            max(runs, TYPICAL_END_TO_END_RUNS),
        ),
        (
            f"heavy learner ({HEAVY_EVENTS:,} tracking events)",
            heavy,
            END_TO_END_TARGETS[heavy],
            runs,
        ),
    ]
    for events, seconds in BIG_PEOPLE:
        if events > largest:
            continue
        if seed:
            _progress(f"adding a learner with {events:,} tracking events")
            add_learner_with_events(url, events)
        people.append((f"learner with {events:,} tracking events", big_email(events), seconds, 1))
    results = []
    for name, email, seconds, person_runs in people:
        _progress(f"end to end: {name}")
        figures = end_to_end_in_child(url, email, max(person_runs, 1))
        results.append(report_end_to_end(name, figures, seconds))
    return all(results)


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


def serve_email_lookups(url: str, data_map: DataMap) -> list[str]:
    """Create an index on lower(column) for every email identity column; return their names."""
    engine = create_engine(url)
    names: list[str] = []
    try:
        with engine.begin() as connection:
            for identity in data_map.identities.values():
                if identity.kind is not IdentityKind.EMAIL:
                    continue
                for place in identity.locations.get("learner_platform", []):
                    table, column = place.column.split(".", 1)
                    names.append(f"bench_{table}_{column}_lower")
                    connection.execute(
                        text(f"CREATE INDEX IF NOT EXISTS {names[-1]} ON {table} (lower({column}))")
                    )
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE"))
    finally:
        engine.dispose()
    return names


def drop_indexes(url: str, names: list[str]) -> None:
    """Leave the database as it was for the measures that follow."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            for name in names:
                connection.execute(text(f"DROP INDEX IF EXISTS {name}"))
    finally:
        engine.dispose()


def warm_typical_collection(url: str, runs: int) -> bool:
    """Time the typical learner's collection as a worker runs it once warm: the map and the
    systems taken from `dsr.datamap` (parsed and reflected once, pooled connections, built
    statements), an index serving each email lookup; beside the same SELECTs replayed on the
    driver, in the same run. Target: within WARM_FACTOR x that floor."""
    settings = {"DATA_MAP": str(MAP_PATH), "POINT3_PLATFORM_URL": url}
    indexes = serve_email_lookups(url, desk_map(settings))
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
    drop_indexes(url, indexes)
    collection, floor = statistics.median(collections), statistics.median(floors)
    met = collection <= WARM_FACTOR * floor
    print(f"\ntypical learner, warm (map and systems cached, lookups indexed): {rows:,} rows")
    print(f"  collection (locate + collect)  {collection * 1000:9.2f} ms  (median of {runs})")
    print(f"  raw-SQL floor (same SELECTs)   {floor * 1000:9.2f} ms  ({collection / floor:.1f}x)")
    print(f"  target within {WARM_FACTOR:.0f}x floor: {'met' if met else 'MISSED'}")
    return met


def run_seed_only(url: str, learners: int) -> None:
    """Seed the platform and the heavy learner, as `run` does, without timing the first part."""
    summary = seed_platform(
        url, learners=learners, seed=3, events_per_learner=50, progress=_progress
    )
    print(f"seeded {summary.total_rows:,} rows in {summary.seconds:.1f} s")
    add_heavy_learner(url)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="SQLAlchemy URL of an existing PostgreSQL database")
    parser.add_argument("--no-seed", action="store_true", help="with --url: already seeded")
    parser.add_argument("--learners", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3, help="timed runs per learner (median)")
    parser.add_argument("--end-to-end-only", action="store_true", help="only the answers")
    parser.add_argument("--largest", type=int, default=1_000_000, help="biggest person's rows")
    parser.add_argument("--answer", help=argparse.SUPPRESS)  # the child measuring one person
    parser.add_argument("--rows-per-category", type=int, default=ROWS_PER_CATEGORY)
    args = parser.parse_args()
    if not args.answer:
        print(speed_line("as the bench starts"), flush=True)
    if args.answer:
        figures = measure_end_to_end(args.url, args.answer, args.runs, args.rows_per_category)
        print(json.dumps(figures))
        return 0

    def both(url: str, seed: bool) -> bool:
        first = args.end_to_end_only or run(url, args.learners, seed, args.runs)
        if args.end_to_end_only and seed:
            run_seed_only(url, args.learners)
        return run_end_to_end(url, seed, args.runs, args.largest) and first

    if args.url:
        return 0 if both(args.url, not args.no_seed) else 1
    with scratch_database(SCRATCH_DATABASE) as url:
        return 0 if both(url, True) else 1


if __name__ == "__main__":
    code = main()
    if "--answer" not in sys.argv:  # a child measuring one person answers in JSON
        print(speed_line("as the bench ends"))
    sys.exit(code)
