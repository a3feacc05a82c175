"""The documents' short dates are Babel's patterns, written without Babel on each call."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date, format_datetime

from exports.dates import _SHORT_DATE, short_date, short_datetime

ZONES = (ZoneInfo("Europe/Paris"), ZoneInfo("America/New_York"), ZoneInfo("Asia/Kolkata"), UTC)


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_a_short_date_is_what_babel_writes(lang: str) -> None:
    days = [date(2023, 1, 1) + timedelta(days=n) for n in range(800)]
    days += [date(1, 1, 1), date(999, 12, 31), date(9999, 12, 31)]
    for day in days:
        assert short_date(day, lang) == format_date(day, _SHORT_DATE[lang], locale=lang)
    moment = datetime(2026, 3, 9, 23, 30)
    assert short_date(moment, lang) == format_date(moment, _SHORT_DATE[lang], locale=lang)


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_a_short_moment_is_what_babel_writes(lang: str) -> None:
    """Across the changes of summer time, and at the turn of a day, a month and a year."""
    start = datetime(2025, 12, 31, 20, 7, tzinfo=UTC)
    moments = [start + timedelta(minutes=97 * n) for n in range(6000)]
    pattern = f"{_SHORT_DATE[lang]} HH:mm"
    for zone in ZONES:
        for moment in moments:
            expected = format_datetime(moment, pattern, tzinfo=zone, locale=lang)
            assert short_datetime(moment, lang, zone) == expected
    with pytest.raises(ValueError):
        short_datetime(datetime(2026, 1, 1), lang, UTC)
