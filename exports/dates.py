"""How the documents write dates: Babel patterns, in Paris time, as each reader expects them.

French readers get numeric dates (25/11/2026), English readers the month's short name
(25 Nov 2026); a letter-like date is written out (2 mars 2026, 2 March 2026). Stored moments
are UTC; a naive value is taken as UTC, which is how the stores keep them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime

SHOWN_TIMEZONE = ZoneInfo("Europe/Paris")
"""The organisation's zone, in which the documents show moments."""

_SHORT_DATE = {"fr": "dd/MM/y", "en": "d MMM y"}
_EDITION_DATE = {"fr": "dd/MM/y", "en": "y-MM-dd"}
_LONG_DATE_LOCALE = {"fr": "fr_FR", "en": "en_GB"}


def _language(lang: str) -> str:
    return "fr" if lang == "fr" else "en"


def short_date(value: date, lang: str) -> str:
    """25/11/2026 in French, 25 Nov 2026 in English."""
    lang = _language(lang)
    return str(format_date(value, _SHORT_DATE[lang], locale=lang))


def short_datetime(value: datetime, lang: str) -> str:
    """A moment in Paris time, to the minute: 25/11/2026 14:05, 25 Nov 2026 14:05."""
    lang = _language(lang)
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    pattern = f"{_SHORT_DATE[lang]} HH:mm"
    return str(format_datetime(aware, pattern, tzinfo=SHOWN_TIMEZONE, locale=lang))


def long_date(moment: datetime, lang: str) -> str:
    """The calendar day of `moment` in Paris, written out (2 mars 2026 / 2 March 2026)."""
    local = moment.astimezone(SHOWN_TIMEZONE).date()
    return str(format_date(local, format="long", locale=_LONG_DATE_LOCALE[_language(lang)]))


def long_day(value: date, lang: str) -> str:
    """A calendar day written out (31 décembre 2036 / 31 December 2036), moved to no zone."""
    return str(format_date(value, format="long", locale=_LONG_DATE_LOCALE[_language(lang)]))


def edition_date(value: date, lang: str) -> str:
    """The register's edition date: 25/11/2026 in French, 2026-11-25 in English."""
    lang = _language(lang)
    return str(format_date(value, _EDITION_DATE[lang], locale=lang))
