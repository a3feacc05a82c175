"""Time `dsr.demo.seed.seed_platform` against the two-minute target for 100,000 learners.

Usage: python bench/seed.py [--url URL] [--learners N] [--seed S]
Without --url, a scratch PostgreSQL database is created on the local server and dropped after.
"""

from __future__ import annotations

import argparse
import sys

from scratch import scratch_database

from dsr.demo.seed import seed_platform

TARGET_SECONDS = 120.0
SCRATCH_DATABASE = "dsr_bench_seed"


def _run(url: str, learners: int, seed: int) -> bool:
    summary = seed_platform(url, learners=learners, seed=seed, progress=_progress)
    rows = summary.total_rows
    print(f"\nlearners: {learners}")
    for table, count in summary.counts.items():
        print(f"  {table:<24} {count:>10,}")
    print(f"total rows: {rows:,}")
    print(f"seconds: {summary.seconds:.1f}")
    print(f"rows/s: {rows / summary.seconds:,.0f}")
    met = summary.seconds < TARGET_SECONDS
    print(f"target < {TARGET_SECONDS:.0f} s for 100,000 learners: {'met' if met else 'MISSED'}")
    return met


def _progress(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="SQLAlchemy URL of an existing database")
    parser.add_argument("--learners", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    if args.url:
        return 0 if _run(args.url, args.learners, args.seed) else 1
    with scratch_database(SCRATCH_DATABASE) as url:
        met = _run(url, args.learners, args.seed)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
