"""How the documents write dates: Babel patterns, in the organisation's zone, as each reader
expects them.

French readers get numeric dates (25/11/2026), English readers the month's short name
(25 Nov 2026); a letter-like date is written out (2 mars 2026, 2 March 2026). Every moment is
shown in the zone the caller names (the map's `organisation.timezone`). The desk's own moments
are aware; a time an organisation's system stored without a zone is first read in that system's
zone (`as_instant`).
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from functools import cache, lru_cache

from babel.dates import format_date, get_month_names

_SHORT_DATE = {"fr": "dd/MM/y", "en": "d MMM y"}
_EDITION_DATE = {"fr": "dd/MM/y", "en": "y-MM-dd"}
_LONG_DATE_LOCALE = {"fr": "fr_FR", "en": "en_GB"}
LONG_DAYS_CACHED = 4096


def _language(lang: str) -> str:
    return "fr" if lang == "fr" else "en"


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a moment without a zone: read it in its system's zone (as_instant)")
    return moment


def as_instant(value: datetime, stored_zone: tzinfo) -> datetime:
    """Return `value` as an instant: one stored without a zone is a wall-clock time in
    `stored_zone`, the zone of the system that stored it (the earlier of a repeated hour)."""
    if value.tzinfo is not None and value.utcoffset() is not None:
        return value
    return value.replace(tzinfo=stored_zone)


@cache
def _short_months() -> dict[int, str]:
    return dict(get_month_names("abbreviated", "format", "en"))


def short_date(value: date, lang: str) -> str:
    """25/11/2026 in French, 25 Nov 2026 in English.

    What Babel writes with the `_SHORT_DATE` patterns (the tests hold them to it), written here
    with Babel's month names: the cells of an access report hold dozens of dates, and Babel
    reads the pattern and the locale again for each."""
    if isinstance(value, datetime):
        value = value.date()
    if _language(lang) == "fr":
        return f"{value.day:02d}/{value.month:02d}/{value.year}"
    return f"{value.day} {_short_months()[value.month]} {value.year}"


def short_datetime(value: datetime, lang: str, zone: tzinfo) -> str:
    """A moment in `zone`, to the minute: 25/11/2026 14:05, 25 Nov 2026 14:05 (Babel's
    `_SHORT_DATE` and HH:mm, as `short_date` writes them)."""
    local = _aware(value).astimezone(zone)
    normalize = getattr(zone, "normalize", None)  # a pytz zone, as Babel does
    if normalize is not None:
        local = normalize(local)
    return f"{short_date(local.date(), lang)} {local.hour:02d}:{local.minute:02d}"


def long_date(moment: datetime, lang: str, zone: tzinfo) -> str:
    """The calendar day of `moment` in `zone`, written out (2 mars 2026 / 2 March 2026)."""
    return long_day(_aware(moment).astimezone(zone).date(), lang)


def long_day(value: date, lang: str) -> str:
    """A calendar day written out (31 décembre 2036 / 31 December 2036), moved to no zone."""
    return _long_day(date(value.year, value.month, value.day), _language(lang))


@lru_cache(maxsize=LONG_DAYS_CACHED)
def _long_day(value: date, lang: str) -> str:
    # Babel finds the locale's pattern again for every call: the same few days (a request's,
    # the ends of its kept records) are written several times in every certificate and email.
    return str(format_date(value, format="long", locale=_LONG_DATE_LOCALE[lang]))


def edition_date(value: date, lang: str) -> str:
    """The register's edition date: 25/11/2026 in French, 2026-11-25 in English."""
    lang = _language(lang)
    return str(format_date(value, _EDITION_DATE[lang], locale=lang))
