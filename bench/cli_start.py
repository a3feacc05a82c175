"""Time how long `dsr` commands take to start, beside the floor of starting Python itself.

Usage: python bench/cli_start.py [--runs N] [--email ADDRESS]
Each command is run N times as a new process (as a person or cron runs it): `python -c pass`
(the floor), `dsr --help` (target: under 300 ms) and `dsr subject find --summary ADDRESS` on the
demo platform (seeded first when instance/demo-platform.sqlite3 is missing or empty), which
should spend its time on its work (map, database), not on imports. Prints the median and p95
of each.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TARGET_HELP_MS = 300.0
SAMPLE_EMAIL = "zoe.lefevre@example.org"
DEMO_PLATFORM = PROJECT_ROOT / "instance" / "demo-platform.sqlite3"


def dsr_command() -> list[str]:
    script = Path(sys.executable).with_name("dsr")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from dsr.cli import main; main()"]


def seeded(path: Path) -> bool:
    """Tell whether the demo platform holds its learners: an empty file (left by a command that
    opened it before any seeding) does not count."""
    if not path.exists():
        return False
    with sqlite3.connect(path) as connection:
        found = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'learner'"
        ).fetchone()
    return found is not None


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def timed_runs(command: list[str], runs: int) -> list[float]:
    """Run `command` `runs` times (after one untimed run that warms the file cache); return the
    wall times in milliseconds. A failing run stops the bench: its time would mean nothing."""
    subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, check=True)  # noqa: S603
    times: list[float] = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, check=True)  # noqa: S603
        times.append((time.perf_counter() - started) * 1000)
    return times


def line(label: str, times: list[float], floor: float) -> str:
    median = statistics.median(times)
    return (
        f"  {label:<40} median {median:7.1f} ms   p95 {percentile(times, 0.95):7.1f} ms"
        f"   ({median / floor:.1f}x the floor)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--email", default=SAMPLE_EMAIL)
    args = parser.parse_args()
    dsr = dsr_command()
    if not seeded(DEMO_PLATFORM):
        DEMO_PLATFORM.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([*dsr, "demo", "seed"], cwd=PROJECT_ROOT, check=True)  # noqa: S603
    floor = timed_runs([sys.executable, "-c", "pass"], args.runs)
    help_times = timed_runs([*dsr, "--help"], args.runs)
    find_times = timed_runs([*dsr, "subject", "find", "--summary", args.email], args.runs)
    floor_median = statistics.median(floor)
    print(f"command start, {args.runs} runs each")
    print(line("floor: python -c pass", floor, floor_median))
    print(line("dsr --help", help_times, floor_median))
    print(line("dsr subject find --summary <demo email>", find_times, floor_median))
    met = percentile(help_times, 0.95) < TARGET_HELP_MS
    print(f"  target dsr --help p95 < {TARGET_HELP_MS:.0f} ms: {'met' if met else 'MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
