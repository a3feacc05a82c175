"""Time the erasure certificate's PDF for a typical erasure, in one process, as a worker draws it.

Usage: python bench/certificate.py [--renders N] [--profile]
The typical erasure is the sample learner's of the golden test (data_map.yaml: twelve categories
erased, contact and account pseudonymised, invoices kept with two last days, four recipients
being told). Each render has its own reference and dates (nothing of a person is the same twice),
French and English in turn, after a few to warm the process up. Printed: CPU (time.process_time)
and wall time per certificate, minimum and median, against TARGET_CPU_S; `--profile` adds where
the renders spend their time (cProfile, by cumulative and by own time).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from machine import speed_line

from dsr.languages import Language, translations
from exports.certificate import CategoryOutcome, CertifiedRequest, render_erasure_certificate
from inventory.loader import load_data_map
from inventory.model import DataMap, ErasureAction

MAP_PATH = Path(__file__).resolve().parents[1] / "data_map.yaml"
TARGET_CPU_S = 0.003
WARM_UP = 20
PROFILE_TOP = 40
DELETE, ANONYMIZE, RETAIN = ErasureAction.DELETE, ErasureAction.ANONYMIZE, ErasureAction.RETAIN
TYPICAL = [
    CategoryOutcome("contact", ANONYMIZE, 1, ("learner",)),
    CategoryOutcome("account", ANONYMIZE, 1, ("learner",)),
    CategoryOutcome("billing_cards", DELETE, 2, ("payment_card",)),
    CategoryOutcome(
        "invoices",
        RETAIN,
        5,
        ("invoice_line", "invoice"),
        withdrawn=5,
        kept_until=(date(2034, 12, 31), date(2036, 12, 31)),
    ),
    CategoryOutcome("optional_profile", DELETE, 1, ("learner_profile",)),
    CategoryOutcome("course_comments", DELETE, 2, ("course_comment",)),
    CategoryOutcome("quiz_answers", DELETE, 3, ("quiz_answer",)),
    CategoryOutcome("survey_responses", DELETE, 2, ("survey_response",)),
    CategoryOutcome(
        "support", DELETE, 7, ("support_participant", "support_message", "support_thread")
    ),
    CategoryOutcome("exam_registration", DELETE, 1, ("exam_registration",)),
    CategoryOutcome("purchases", DELETE, 4, ("course_purchase",)),
    CategoryOutcome("course_interests", DELETE, 2, ("course_interest",)),
    CategoryOutcome("tracking", DELETE, 8, ("tracking_event",)),
    CategoryOutcome("email_engagement", DELETE, 3, ("email_open",)),
    CategoryOutcome("marketing", DELETE, 2, ("marketing_subscription",)),
]
RECIPIENTS = ["cci_paris_idf", "payment_provider", "email_provider", "hosting"]


def certificate(data_map: DataMap, number: int) -> bytes:
    """The typical certificate of request `number`: its own reference and dates."""
    language = Language.FR if number % 2 == 0 else Language.EN
    received = datetime(2026, 3, 2, 9, 0, tzinfo=UTC) + timedelta(days=number % 300)
    completed = received + timedelta(days=5, hours=number % 9)
    return render_erasure_certificate(
        data_map,
        CertifiedRequest(
            reference=f"DSR-2026-{number:06d}",
            received_at=received,
            completed_at=completed,
            language=language.value,
            address_kept_until=completed + timedelta(days=1826),
        ),
        TYPICAL,
        RECIPIENTS,
        translations(language),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=400)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    print(speed_line("as the bench starts"), flush=True)
    data_map = load_data_map(MAP_PATH)
    for number in range(WARM_UP):
        certificate(data_map, number)
    cpu, wall = [], []
    for number in range(WARM_UP, WARM_UP + args.renders):
        started_cpu, started = time.process_time(), time.perf_counter()
        pdf = certificate(data_map, number)
        cpu.append(time.process_time() - started_cpu)
        wall.append(time.perf_counter() - started)
    median = statistics.median(cpu)
    print(f"certificate: {len(pdf)} bytes, {args.renders} renders")
    print(f"  CPU  min {min(cpu) * 1e3:.2f} ms, median {median * 1e3:.2f} ms")
    print(f"  wall min {min(wall) * 1e3:.2f} ms, median {statistics.median(wall) * 1e3:.2f} ms")
    met = median <= TARGET_CPU_S
    print(f"  target: median CPU <= {TARGET_CPU_S * 1e3:.1f} ms: {'met' if met else 'NOT met'}")
    if args.profile:
        profiler = cProfile.Profile()
        start = WARM_UP + args.renders
        profiler.enable()
        for number in range(start, start + args.renders):
            certificate(data_map, number)
        profiler.disable()
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(PROFILE_TOP)
        stats.sort_stats("tottime").print_stats(PROFILE_TOP)
    return 0 if met else 1


if __name__ == "__main__":
    code = main()
    print(speed_line("as the bench ends"))
    sys.exit(code)
