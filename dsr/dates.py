"""How the desk writes dates and numbers for people: all through Babel, in Paris time.

Pages follow the locale and time zone of the current request (Flask-Babel); emails, rendered on
workers outside any request, name their language. Storage stays in UTC; only what is shown moves
to the organisation's zone.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import flask_babel  # type: ignore[import-untyped]
from babel.dates import format_date
from flask import current_app

from dsr.config import DEFAULTS
from dsr.languages import Language

SHOWN_TIMEZONE = ZoneInfo(str(DEFAULTS["BABEL_DEFAULT_TIMEZONE"]))
"""The organisation's zone, in which people read dates: the default of BABEL_DEFAULT_TIMEZONE,
the setting the pages read through `pages_zone`."""


def written_date(moment: datetime, language: Language) -> str:
    """Return the calendar date of `moment` in Paris as a letter writes it: "28 février 2026",
    "28 February 2026"."""
    local = moment.astimezone(SHOWN_TIMEZONE).date()
    return str(format_date(local, format="d MMMM y", locale=Language(language).value))


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
    """Return the time zone the pages show times in (BABEL_DEFAULT_TIMEZONE, in the settings)."""
    return ZoneInfo(str(current_app.config["BABEL_DEFAULT_TIMEZONE"]))
