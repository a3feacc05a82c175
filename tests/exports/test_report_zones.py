"""The access report reads the times a system stores without a zone in the zone the map gives
that system, shows every moment in the organisation's zone, and a date column as a date."""

from __future__ import annotations

import io
import re
from pathlib import Path

from pypdf import PdfReader

from dsr.demo.seed import REFERENCE_NOW, SAMPLE_LEARNER_EMAIL, seed_platform
from exports.access_report import render_access_report
from inventory.collection import collect_subject
from inventory.loader import parse_data_map
from inventory.locator import locate_subject
from inventory.systems import Systems
from tests.exports.conftest import translations_for
from tests.exports.demo_subject import MAP_PATH, report_request

POINT3_PLATFORM_ZONE = "    timezone: UTC\n"
ORGANISATION = "organisation:\n  name: POINT3\n"


def report_text(
    engine_url: str, directory: Path, *, platform_zone: str, organisation_zone: str | None = None
) -> str:
    """The French report of the sample learner, from the POINT3 map with the platform's zone
    set to `platform_zone` and, when given, the organisation's to `organisation_zone`."""
    text = MAP_PATH.read_text(encoding="utf-8")
    assert text.count(POINT3_PLATFORM_ZONE) == 1 and text.count(ORGANISATION) == 1
    text = text.replace(POINT3_PLATFORM_ZONE, f"    timezone: {platform_zone}\n")
    if organisation_zone is not None:
        text = text.replace(ORGANISATION, f"{ORGANISATION}  timezone: {organisation_zone}\n")
    data_map = parse_data_map(text)
    with Systems(data_map, {"POINT3_PLATFORM_URL": engine_url}).opened() as systems:
        location = locate_subject(data_map, systems, "email", SAMPLE_LEARNER_EMAIL)
        collection = collect_subject(data_map, systems, location, directory)
    out = io.BytesIO()
    render_access_report(
        data_map=data_map,
        collection=collection,
        request=report_request(SAMPLE_LEARNER_EMAIL, "fr"),
        translations=translations_for("fr"),
        out=out,
    )
    pages = PdfReader(io.BytesIO(out.getvalue())).pages
    return re.sub(r"\s+", " ", "\n".join(page.extract_text() for page in pages))


def test_naive_times_are_read_in_the_systems_zone_and_dates_stay_dates(
    engine_url: str, tmp_path: Path
) -> None:
    seed_platform(engine_url, learners=12, seed=7, now=REFERENCE_NOW)
    in_utc = report_text(engine_url, tmp_path / "utc", platform_zone="UTC")
    in_new_york = report_text(engine_url, tmp_path / "ny", platform_zone="America/New_York")
    # The birth date and the session date are SQL DATEs: a date, with no time, whatever the zone.
    for text in (in_utc, in_new_york):
        assert "Date de la session 20/01/2025 Date de naissance 17/05/1994 Type" in text
    # Registered at midnight UTC: 01:00 in Paris in winter.
    assert "Date d'inscription 21/12/2024 01:00" in in_utc
    if engine_url.startswith("postgresql"):
        # PostgreSQL keeps the zone (timestamptz): the map's zone for naive times changes nothing.
        assert "Date d'inscription 21/12/2024 01:00" in in_new_york
    else:
        # SQLite and MariaDB keep "2024-12-21 00:00" without a zone: midnight in New York is
        # 06:00 in Paris.
        assert "Date d'inscription 21/12/2024 06:00" in in_new_york


def test_moments_are_shown_in_the_organisations_zone(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'platform.sqlite3'}"
    seed_platform(url, learners=12, seed=7, now=REFERENCE_NOW)
    text = report_text(
        url, tmp_path / "c", platform_zone="UTC", organisation_zone="Pacific/Auckland"
    )
    # Midnight UTC on 21 December is 13:00 in Auckland (summer time, UTC+13).
    assert "Date d'inscription 21/12/2024 13:00" in text
    # The request itself: received on 2 November 2026 at 09:30 UTC, 22:30 in Auckland.
    assert "02/11/2026 22:30" in text
