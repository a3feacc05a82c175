"""Time a learner's erasure as the worker carries it out, beside the raw-SQL floor of its writes.

Usage: python bench/erasure.py [--url URL] [--store-url URL] [--learners N] [--samples N] [--cold]
                               [--profile [PATH]]
Without --url, a scratch PostgreSQL database is created on the local server, seeded like the access
bench (100,000 learners, 50 tracking events each) and dropped after; without --store-url, so is a
scratch store (PostgreSQL, migrated). One learner gets 10,000 more tracking events (the heavy one).

Each learner erased is an approved erasure request carried out by `dsr.execution.runner.
run_request` exactly as a worker does (plan, disclosures, holds, execution, verification, the
certificate PDF, suppression, tasks, audit, the answer email queued), committed, with the map and
the systems warm: several learners run in one process, after one to warm up. Until
`dsr.datamap.open_systems` keeps the systems for the process, the bench keeps them (it says so);
`--cold` opens them per request, as the worker did before.

The floor of a learner: the DELETEs and UPDATEs the erasure sends to the platform, captured from a
rolled-back run of `execute_erasure`, sent raw on the driver in one transaction per system (best of
FLOOR_REPEATS, rolled back) plus the median commit of a one-row change. Printed: the whole run
(median, p95) against TYPICAL_TARGET_S; the erasure's own transaction on the platform (committed)
against the floor (FLOOR_FACTOR); where the run spends its time; statements and store transactions.
`--profile [PATH]` also prints the functions the typical runs spend their time in (cProfile, by
cumulative and by own CPU time, on the worker's thread; saved to PATH for pstats when given).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from machine import speed_line
from scratch import scratch_database
from sqlalchemy import Connection, Engine, create_engine, event, text

import dsr.execution.erasure as erasure_module
import dsr.execution.runner as runner_module
from dsr import db
from dsr.datamap import desk_map, open_systems
from dsr.demo.seed import seed_platform
from dsr.execution.runner import app_settings, run_request
from dsr.languages import Language
from dsr.requests.models import DataRequest, next_reference
from dsr.requests.workflow import RequestState, RequestType, Status
from dsr.store_models import import_models
from inventory.anonymisation import PLACEHOLDER_DOMAIN
from inventory.erasure import execute_erasure
from inventory.locator import locate_subject
from inventory.systems import Systems

SCRATCH_PLATFORM = "dsr_bench_erasure"
SCRATCH_STORE = "dsr_bench_erasure_store"
SYSTEM = "learner_platform"
PLATFORM_VARIABLE = "POINT3_PLATFORM_URL"
HEAVY_EVENTS = 10_000
TYPICAL_TARGET_S = 0.040
HEAVY_TARGET_S = 1.0
PROFILE_TOP = 40
FLOOR_FACTOR = 2.0
FLOOR_REPEATS = 5
SECRET = "bench-secret-of-the-erasure-bench"  # noqa: S105 (a scratch database's)
MAP_PATH = Path(__file__).resolve().parents[1] / "data_map.yaml"
PHASES = (
    "locate_subject",
    "record_subject_disclosures",
    "erasure_under_holds",
    "plan_erasure",
    "execute_erasure",
    "_store_run",
    "verify_erased",
    "recipients_to_tell",
    "_write_certificate",
)
"""The steps of `run_erasure` timed one by one (the names it calls them by)."""
RUNNER_PHASES = ("_start", "_complete")
"""The runner's own transactions: processing starts; the result, audit and email are stored."""


class _Rollback(Exception):
    """Raised at commit time to keep a capture run from changing anything."""


@dataclass
class Timing:
    run: float  # run_request, committed: what a worker spends on the request
    cpu: float  # the process's CPU time during run_request
    transaction: float  # the erasure's own transaction on the platform, committed
    floor: float  # its DELETEs and UPDATEs sent raw, rolled back
    writes: int
    platform_statements: int
    store_statements: int
    store_transactions: int
    phases: dict[str, float] = field(default_factory=dict)
    phases_cpu: dict[str, float] = field(default_factory=dict)


class Watch:
    """Count and time what the run sends: statements and transactions per engine, and the
    phases of `run_erasure` (by wrapping the functions it calls)."""

    def __init__(self, store: Engine) -> None:
        self.store = store
        self.platform_statements = 0
        self.store_statements = 0
        self.store_transactions = 0
        self.transactions: list[float] = []
        self.phases: dict[str, float] = {}
        self.phases_cpu: dict[str, float] = {}
        self.profiler: cProfile.Profile | None = None
        self._begun: float | None = None
        event.listen(Engine, "before_cursor_execute", self._statement)
        event.listen(Engine, "begin", self._begin)
        event.listen(Engine, "commit", self._commit)
        for name in PHASES:
            setattr(erasure_module, name, self._timed(name, getattr(erasure_module, name)))
        for name in RUNNER_PHASES:
            setattr(runner_module, name, self._timed(name, getattr(runner_module, name)))

    def reset(self) -> None:
        self.platform_statements = self.store_statements = self.store_transactions = 0
        self.transactions = []
        self.phases = {}
        self.phases_cpu = {}

    def _is_store(self, conn: Connection) -> bool:
        return conn.engine.url == self.store.url

    def _statement(self, conn: Connection, *_args: Any) -> None:
        if self._is_store(conn):
            self.store_statements += 1
        else:
            self.platform_statements += 1

    def _begin(self, conn: Connection) -> None:
        if self._is_store(conn):  # counted as begun: a read's transaction is rolled back
            self.store_transactions += 1
        else:
            self._begun = time.perf_counter()

    def _commit(self, conn: Connection) -> None:
        if not self._is_store(conn) and self._begun is not None:
            self.transactions.append(time.perf_counter() - self._begun)
            self._begun = None

    def _timed(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started, cpu = time.perf_counter(), time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                self.phases[name] = self.phases.get(name, 0.0) + time.perf_counter() - started
                cpu = time.process_time() - cpu
                self.phases_cpu[name] = self.phases_cpu.get(name, 0.0) + cpu

        return timed


class _KeptSystems(Systems):
    """Systems that outlive `opened()`: what `open_systems` will hand out for the process."""

    @contextmanager
    def opened(self) -> Iterator[Systems]:
        yield self


def keep_systems_warm(settings: dict[str, Any]) -> str:
    """Make the erasure executor reuse one Systems for the process unless `open_systems` already
    does; return a line saying which."""
    if open_systems(settings) is open_systems(settings):
        return "systems kept by open_systems"
    data_map = desk_map(settings)
    opened = open_systems(settings, data_map)
    kept = _KeptSystems(opened.data_map, opened.environ, opened.base_dir)

    def reuse(settings: Any, data_map: Any = None) -> Systems:
        return (
            kept
            if data_map is None or data_map is kept.data_map
            else open_systems(settings, data_map)
        )

    erasure_module.open_systems = reuse  # type: ignore[assignment]
    return "systems kept by the bench (open_systems opens them per call)"


@contextmanager
def _capturing(engine: Engine) -> Iterator[list[tuple[str, Any, bool]]]:
    """Record the statements sent on `engine`, and roll the transaction back."""
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


def _writes(statements: list[tuple[str, Any, bool]]) -> list[tuple[str, Any, bool]]:
    return [s for s in statements if s[0].lstrip().upper().startswith(("DELETE", "UPDATE"))]


def captured_writes(settings: dict[str, Any], url: str, email: str) -> list[tuple[str, Any, bool]]:
    """Return the DELETEs and UPDATEs the erasure of `email` sends, changing nothing."""
    data_map = desk_map(settings)
    with Systems(data_map, {PLATFORM_VARIABLE: url}).opened() as systems:
        location = locate_subject(data_map, systems, "email", email)
        with _capturing(systems.engine(SYSTEM)) as statements, suppress(_Rollback):
            execute_erasure(
                data_map, systems, location, secret_key=SECRET.encode(), now=datetime.now(UTC)
            )
    return _writes(statements)


def floor(raw: Any, statements: list[tuple[str, Any, bool]]) -> float:
    """Return the best time of `statements` sent on the driver connection `raw`, rolled back."""
    best = float("inf")
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
    return best


def approved_erasure(store: Engine, email: str) -> int:
    """Add an approved erasure request from `email`; return its id."""
    received_at = datetime.now(UTC) - timedelta(days=3)
    zone = ZoneInfo("Europe/Paris")
    with db.transaction(store) as session:
        request = DataRequest(
            reference=next_reference(db_session=session, received_at=received_at),
            type=RequestType.ERASURE,
            requester_email=email,
            normalized_email=email.lower(),
            language=Language.FR,
            status=Status.APPROVED,
            received_at=received_at,
            verified_at=received_at + timedelta(hours=1),
            due_at=RequestState(
                status=Status.APPROVED, received_at=received_at, paused_since=None, zone=zone
            ).due_at,
            time_zone=zone.key,
        )
        session.add(request)
        session.flush()
        assert request.id is not None
        return request.id


def erase_one(
    settings: dict[str, Any], store: Engine, watch: Watch, raw: Any, url: str, email: str
) -> Timing:
    request_id = approved_erasure(store, email)
    writes = captured_writes(settings, url, email)
    best = floor(raw, writes)
    watch.reset()
    if watch.profiler is not None:
        watch.profiler.enable()
    cpu, started = time.process_time(), time.perf_counter()
    status = run_request(engine=store, request_id=request_id, settings=settings, now=db.utcnow())
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    if watch.profiler is not None:
        watch.profiler.disable()
    if status is not Status.READY_TO_SEND:
        raise SystemExit(f"the erasure request {request_id} ended {status.value}")
    return Timing(
        run=elapsed,
        cpu=cpu,
        transaction=max(watch.transactions, default=0.0),
        floor=best,
        writes=len(writes),
        platform_statements=watch.platform_statements,
        store_statements=watch.store_statements,
        store_transactions=watch.store_transactions,
        phases=dict(watch.phases),
        phases_cpu=dict(watch.phases_cpu),
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


def settle(url: str) -> None:
    """VACUUM ANALYZE the freshly seeded platform, as autovacuum does within a minute after so
    many inserts: otherwise the timed runs share the machine with it by chance (the seeded tables'
    first vacuum takes seconds) and read pages whose hint bits are still to be set."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("VACUUM ANALYZE"))
    finally:
        engine.dispose()


def commit_latency(raw: Any, repeats: int = 20) -> float:
    """Return the median time of committing a one-row change: what the rolled-back floor omits."""
    times = []
    cursor = raw.cursor()
    cursor.execute("DROP TABLE IF EXISTS bench_commit")  # not temporary: those skip the WAL
    cursor.execute("CREATE TABLE bench_commit (id integer PRIMARY KEY, n integer)")
    cursor.execute("INSERT INTO bench_commit VALUES (1, 0)")
    raw.commit()
    for _ in range(repeats):
        cursor.execute("UPDATE bench_commit SET n = n + 1 WHERE id = 1")
        started = time.perf_counter()
        raw.commit()
        times.append(time.perf_counter() - started)
    cursor.execute("DROP TABLE bench_commit")
    raw.commit()
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


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def report(label: str, timings: list[Timing], target: float, commit: float) -> bool:
    def median(values: Any) -> float:
        return float(statistics.median(values))

    runs = [t.run for t in timings]
    run, p95 = median(runs), _p95(runs)
    transaction = median(t.transaction for t in timings)
    floor_committed = median(t.floor + commit for t in timings)
    ratio = median(t.transaction / (t.floor + commit) for t in timings)
    print(f"\n{label} learner ({len(timings)} erased through run_request)")
    print(f"  whole run, committed, median / p95:   {_ms(run)} / {_ms(p95)}")
    print(f"  its CPU time (process), median:       {_ms(median(t.cpu for t in timings))}")
    print(f"  its erasure transaction, committed:   {_ms(transaction)}")
    print(
        f"  floor: its {median(t.writes for t in timings):.0f} DELETEs/UPDATEs raw, one "
        f"transaction: {_ms(median(t.floor for t in timings))} + commit {_ms(commit)}"
        f" = {_ms(floor_committed)}"
    )
    print(f"  erasure transaction / floor (median):   {ratio:.2f}x")
    print(f"  whole run / floor (median):             {run / floor_committed:.1f}x")
    print(
        f"  statements to the platform / the store, store transactions (median): "
        f"{median(t.platform_statements for t in timings):.0f} / "
        f"{median(t.store_statements for t in timings):.0f}, "
        f"{median(t.store_transactions for t in timings):.0f}"
    )
    print("  where the run spends its time (median), wall / CPU:")
    accounted = accounted_cpu = 0.0
    for name in (*RUNNER_PHASES[:1], *PHASES, *RUNNER_PHASES[1:]):
        spent = median(t.phases.get(name, 0.0) for t in timings)
        spent_cpu = median(t.phases_cpu.get(name, 0.0) for t in timings)
        accounted += spent
        accounted_cpu += spent_cpu
        print(f"    {name:<28} {_ms(spent)} / {_ms(spent_cpu)}")
    cpu = median(t.cpu for t in timings)
    print(
        f"    {'the rest':<28} {_ms(max(0.0, run - accounted))} / "
        f"{_ms(max(0.0, cpu - accounted_cpu))}"
    )
    met = run < target and ratio <= FLOOR_FACTOR
    print(
        f"  target < {target * 1e3:.0f} ms and the transaction within {FLOOR_FACTOR:.0f}x "
        f"the floor: {'met' if met else 'MISSED'}"
    )
    return met


def print_profile(profile: cProfile.Profile, runs: int, cpu: float) -> None:
    """Print where the profiled runs spent their time, by cumulative and by own time."""
    print(f"\nprofile of {runs} typical runs (CPU {_ms(cpu / runs)} per run, profiled)")
    stats = pstats.Stats(profile, stream=sys.stdout)
    stats.strip_dirs()
    for order in ("cumulative", "tottime"):
        stats.sort_stats(order).print_stats(PROFILE_TOP)


def run(
    url: str,
    store_url: str,
    learners: int,
    samples: int,
    seed: bool,
    cold: bool,
    profile: str | None = None,
) -> bool:
    if seed:
        summary = seed_platform(url, learners=learners, events_per_learner=50.0)
        print(f"seeded {summary.total_rows:,} rows in {summary.seconds:.0f} s", file=sys.stderr)
        settle(url)
    import_models()
    db.run_migrations(store_url)
    heavy_id = learners // 2
    heavy = add_heavy_learner(url, heavy_id)
    store = db.make_engine(store_url)
    raw_engine = create_engine(url)
    with tempfile.TemporaryDirectory(prefix="dsr_bench_") as folder, raw_engine.connect() as conn:
        settings = app_settings(
            {
                "DATA_MAP": str(MAP_PATH),
                "SYSTEM_ENVIRONMENT": {PLATFORM_VARIABLE: url},
                "REPORTS_DIR": folder,
                "SECRET_KEY": SECRET,
            },
            folder,
        )
        print("cold: systems opened per request" if cold else keep_systems_warm(settings))
        watch = Watch(store)
        raw = conn.connection.dbapi_connection
        emails = typical_emails(url, samples + 2, heavy_id)

        def erase(email: str) -> Timing:
            return erase_one(settings, store, watch, raw, url, email)

        erase(emails.pop())  # warm-up: the first run parses the map and reflects the schema
        erase(emails.pop())
        watch.profiler = cProfile.Profile(time.process_time) if profile is not None else None
        typical = [erase(email) for email in emails]
        profiler, watch.profiler = watch.profiler, None
        heavy_timing = [erase(heavy)]
        commit = commit_latency(raw)
    store.dispose()
    raw_engine.dispose()
    if profiler is not None:
        print_profile(profiler, len(typical), sum(t.cpu for t in typical))
        if profile:
            profiler.dump_stats(profile)
    met_typical = report("typical", typical, TYPICAL_TARGET_S, commit)
    met_heavy = report("heavy", heavy_timing, HEAVY_TARGET_S, commit)
    return met_typical and met_heavy


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="an already seeded demo platform (it will be changed)")
    parser.add_argument("--store-url", help="a store to add the requests to (migrated first)")
    parser.add_argument("--learners", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--cold", action="store_true", help="open the systems per request")
    parser.add_argument(
        "--profile",
        nargs="?",
        const="",
        metavar="PATH",
        help="print where the typical runs spend their time (and save the profile to PATH)",
    )
    args = parser.parse_args()
    print(speed_line("as the bench starts"), flush=True)
    with suppress_nothing() if args.url else scratch_database(SCRATCH_PLATFORM) as scratch:
        url = args.url or scratch
        with suppress_nothing() if args.store_url else scratch_database(SCRATCH_STORE) as store:
            store_url = args.store_url or store
            met = run(
                url, store_url, args.learners, args.samples, not args.url, args.cold, args.profile
            )
    return 0 if met else 1


@contextmanager
def suppress_nothing() -> Iterator[str]:
    yield ""


if __name__ == "__main__":
    code = main()
    print(speed_line("as the bench ends"))
    sys.exit(code)
