"""How fast this machine runs Python at the moment: each bench prints it as it starts and ends.

The 2-core machine the figures of issue 17 are taken on changes speed within the hour with
nothing else running: at stop 30 the same erasure ran in 52 ms, then 87 ms, then 57 ms. A figure
compared with one taken at another moment says little without this line. It gives the CPU time
of a fixed pure-Python workload (dictionaries, string formatting, sorting: what a request and a
PDF spend their time on), the best of several tries so that a burst of another process does not
count. Lower is faster; two figures compare through the ratio of their lines.
"""

from __future__ import annotations

import time

TRIES = 7


def _workload() -> int:
    counts: dict[str, int] = {}
    for number in range(60_000):
        key = f"k{number % 512}"
        counts[key] = counts.get(key, 0) + len(str(number))
    return len(sorted(counts.items()))


def workload_ms() -> float:
    """The best CPU time, in milliseconds, of TRIES runs of the fixed workload."""
    best = float("inf")
    for _ in range(TRIES):
        started = time.process_time()
        _workload()
        best = min(best, time.process_time() - started)
    return best * 1000


def speed_line(when: str) -> str:
    """Say how fast the machine runs Python `when` (as the bench starts, ends)."""
    return (
        f"machine {when}: a fixed Python workload takes {workload_ms():.1f} ms of CPU "
        f"(best of {TRIES}; lower is faster)"
    )
