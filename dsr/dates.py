"""How the desk writes dates and numbers for people: all through Babel, in the organisation's zone.

Pages follow the locale of the current request and the zone the map names (`organisation.timezone`,
through Flask-Babel's time zone selector); emails, rendered on workers outside any request, name
their language and the zone (a request's own: the calendar of its deadline). Storage stays in
UTC; only what is shown moves to the organisation's zone.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from zoneinfo import ZoneInfo

import flask_babel  # type: ignore[import-untyped]
from babel.dates import format_date
from flask import current_app

from dsr.datamap import organisation_zone
from dsr.languages import Language


def written_date(moment: datetime, language: Language, zone: tzinfo) -> str:
    """Return the calendar date of `moment` in `zone` as a letter writes it: "28 février 2026",
    "28 February 2026"."""
    local = moment.astimezone(zone).date()
    return str(format_date(local, format="d MMMM y", locale=Language(language).value))


def days_between(start: datetime, end: datetime, zone: tzinfo) -> int:
    """Return how many days `end` is after `start` on `zone`'s calendar (negative when before):
    a request due by the end of tomorrow has 1 day left all through today."""
    return (end.astimezone(zone).date() - start.astimezone(zone).date()).days


def shown_date(moment: datetime) -> str:
    """Return the calendar date of `moment` in the shown time zone, in the current locale."""
    return str(flask_babel.format_date(moment, format="long", rebase=True))


def shown_moment(moment: datetime) -> str:
    """Return the date and time of `moment` to the second, in the shown time zone and the
    current locale (the audit log, the scheduler's runs)."""
    return str(flask_babel.format_datetime(moment, format="medium", rebase=True))


def shown_minute(moment: datetime) -> str:
    """Return the date and time of `moment` to the minute, in the shown time zone and the
    current locale (a request's history)."""
    return str(flask_babel.format_datetime(moment, format="short", rebase=True))


def shown_month(first_day: date) -> str:
    """Return a month as the figures' axis writes it ("nov. 26", "Nov 26")."""
    return str(flask_babel.format_date(first_day, format="MMM yy"))


def shown_percent(value: float) -> str:
    """Return a percentage (0 to 100) rounded to a whole number, in the current locale."""
    return str(flask_babel.format_percent(value / 100, format="#,##0 %"))


def shown_decimal(value: float) -> str:
    """Return `value` with grouped thousands and at most one decimal, in the current locale."""
    return str(flask_babel.format_decimal(value, format="#,##0.#"))


def pages_zone() -> ZoneInfo:
    """Return the time zone the pages show times in: the organisation's, as the map names it."""
    return organisation_zone(current_app.config)
