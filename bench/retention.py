"""Time the retention sweep of millions of expired tracking events on PostgreSQL against a floor.

Usage: python bench/retention.py [--events N] [--batch-size N] [--learners N]
A scratch PostgreSQL database is created on the local server, seeded with the demo platform
(--learners, few events each) plus N expired tracking events (default 5,000,000, generated with
INSERT ... SELECT generate_series), and dropped after. The floor is a raw batched DELETE loop
(`DELETE ... WHERE id IN (SELECT id ... LIMIT n)`, one transaction per batch), timed directly;
the events are then generated again and swept by `run_retention` (the whole run: warnings,
plan, every category, audit) while a reader thread reads learner rows and reports its p95.
Targets: the sweep within 1.5x of the floor and at least 100,000 rows/s.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from scratch import scratch_database
from sqlalchemy import Engine, create_engine, text

from dsr import db
from dsr.demo.seed import seed_platform
from dsr.retention.service import run_retention
from inventory.loader import load_data_map
from inventory.periods import retention_cutoff

SCRATCH_DATABASE = "dsr_bench_retention"
MAP_PATH = Path(__file__).resolve().parents[1] / "data_map.yaml"
FLOOR_FACTOR = 1.5
RATE_TARGET = 100_000
NOW = datetime(2026, 11, 1, tzinfo=UTC)
EXPIRED_AT = NOW - timedelta(days=800)  # tracking is kept 13 months


def generate_events(engine: Engine, count: int) -> None:
    """Insert `count` expired anonymous-visitor events in one statement, then vacuum."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO tracking_event (cookie_id, occurred_at, page_url, device) "
                "SELECT md5(g::text)::uuid::text, :at - make_interval(secs => g % 86400), "
                "'/courses/' || (g % 500), 'bench' FROM generate_series(1, :n) AS g"
            ),
            {"at": EXPIRED_AT, "n": count},
        )
    vacuum(engine)


def vacuum(engine: Engine) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE tracking_event"))


def expired_count(engine: Engine, cutoff: datetime) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM tracking_event WHERE occurred_at < :c"), {"c": cutoff}
            ).scalar_one()
        )


def floor_delete(engine: Engine, cutoff: datetime, batch_size: int) -> tuple[int, float]:
    """The raw batched DELETE loop: rows deleted and seconds taken."""
    statement = text(
        "DELETE FROM tracking_event WHERE id IN "
        "(SELECT id FROM tracking_event WHERE occurred_at < :c LIMIT :n)"
    )
    deleted = 0
    started = time.perf_counter()
    while True:
        with engine.begin() as conn:
            gone = conn.execute(statement, {"c": cutoff, "n": batch_size}).rowcount
        deleted += gone
        if gone < batch_size:
            break
    return deleted, time.perf_counter() - started


class Reader(threading.Thread):
    """Reads one learner row after another (a page of the platform) and times each read."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.engine = create_engine(url)
        self.latencies: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        rng = random.Random(1)
        with self.engine.connect() as conn:
            top = int(conn.execute(text("SELECT max(id) FROM learner")).scalar_one())
            conn.commit()
            while not self.stop.is_set():
                started = time.perf_counter()
                conn.execute(
                    text("SELECT * FROM learner WHERE id = :id"), {"id": rng.randint(1, top)}
                ).all()
                conn.commit()
                self.latencies.append(time.perf_counter() - started)
                time.sleep(0.002)
        self.engine.dispose()

    def p95_ms(self) -> float:
        if len(self.latencies) < 20:
            return float("nan")
        return statistics.quantiles(self.latencies, n=20)[-1] * 1000


def run(url: str, events: int, batch_size: int, learners: int) -> bool:
    print(f"seeding {learners} learners, then {events:,} expired tracking events...", flush=True)
    seed_platform(url, learners=learners, seed=11, events_per_learner=2.0)
    engine = create_engine(url)
    cutoff = retention_cutoff(load_data_map(MAP_PATH).categories["tracking"].retention.period, NOW)
    generate_events(engine, events)
    floor_rows, floor_s = floor_delete(engine, cutoff, batch_size)
    floor_rate = floor_rows / floor_s
    print(f"floor: {floor_rows:,} rows in {floor_s:.2f} s = {floor_rate:,.0f} rows/s", flush=True)

    generate_events(engine, events)
    expired = expired_count(engine, cutoff)
    with tempfile.TemporaryDirectory() as folder:
        store_url = f"sqlite:///{folder}/store.sqlite3"
        db.run_migrations(store_url)
        store = db.make_engine(store_url)
        settings = {
            "DATA_MAP": str(MAP_PATH),
            "SYSTEM_ENVIRONMENT": {"POINT3_PLATFORM_URL": url},
            "SECRET_KEY": "bench-secret",
        }
        reader = Reader(url)
        reader.start()
        started = time.perf_counter()
        report = run_retention(engine=store, settings=settings, now=NOW, batch_size=batch_size)
        took = time.perf_counter() - started
        reader.stop.set()
        reader.join()
        store.dispose()
    tracking = next(r for r in report.categories if r.category == "tracking")
    rate = tracking.rows / took
    engine.dispose()
    print(
        f"run_retention: {tracking.rows:,} tracking rows ({report.rows:,} in all) in {took:.2f} s "
        f"= {rate:,.0f} rows/s (batch {batch_size})"
    )
    print(f"concurrent reader: {len(reader.latencies)} reads, p95 {reader.p95_ms():.2f} ms")
    ratio = floor_rate / rate
    rate_ok = rate >= RATE_TARGET
    floor_ok = ratio <= FLOOR_FACTOR
    print(
        f"targets: >= {RATE_TARGET:,} rows/s: {'met' if rate_ok else 'MISSED'}; "
        f"within {FLOOR_FACTOR}x of the floor ({ratio:.2f}x): {'met' if floor_ok else 'MISSED'}"
    )
    if tracking.rows != expired:
        print(f"warning: {expired:,} rows expired, {tracking.rows:,} swept")
    return rate_ok and floor_ok and tracking.rows == expired


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--learners", type=int, default=2000)
    args = parser.parse_args()
    with scratch_database(SCRATCH_DATABASE) as url:
        met = run(url, args.events, args.batch_size, args.learners)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
