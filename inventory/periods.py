"""When a retention period starts and ends, for one row and for a whole sweep, by one rule.

A period runs from a row's date (`retention.from`), or from the close of the financial or calendar
year containing that date (`retention.from_close_of`, Code de commerce L123-22). A date without a
time counts from the end of its day, a year's close from the end of its last day. The row is kept
while its start plus the period is still to come: `kept_until` gives the last day it is kept (for
the certificate) and `start_boundary` the start before which rows have expired at an instant (for
the sweeps, as one comparison in SQL); the two agree by construction (tests/inventory/test_periods).
Days are UTC days, as the stores keep them.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta

from inventory.model import Duration, Organisation, Retention, YearClose

_CALENDAR_YEAR_END = (12, 31)


def retention_cutoff(period: Duration, now: datetime) -> datetime:
    """Return the instant before which a date has expired: `now` minus the period, by calendar."""
    months = now.month - 1 - period.months - 12 * period.years
    year, month = now.year + months // 12, months % 12 + 1
    day = min(now.day, calendar.monthrange(year, month)[1])
    return now.replace(year=year, month=month, day=day) - timedelta(
        days=period.days, seconds=period.seconds
    )


def add_period(start: datetime, period: Duration) -> datetime:
    """Return `start` plus the period, by calendar (31 January + 1 month = 28/29 February)."""
    months = start.month - 1 + period.months + 12 * period.years
    year, month = start.year + months // 12, months % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day) + timedelta(
        days=period.days, seconds=period.seconds
    )


def year_end(retention: Retention, organisation: Organisation) -> tuple[int, int] | None:
    """Return the (month, day) of the year's close the period runs from, or None (the date).

    Raise ValueError when the period runs from the financial year's close and the map does not
    declare `organisation.financial_year_end` (`dsr map check` reports it first)."""
    if retention.from_close_of is None:
        return None
    if retention.from_close_of is YearClose.CALENDAR_YEAR:
        return _CALENDAR_YEAR_END
    declared = organisation.year_end
    if declared is None:
        raise ValueError(
            "a retention runs from the close of the financial year, but the map does not "
            "declare `organisation.financial_year_end`"
        )
    return declared


def close_in(year: int, end: tuple[int, int]) -> date:
    """Return the year's close that falls in `year` (02-28 is the last day of February)."""
    month, day = end
    if month == 2 and day == 28:
        day = calendar.monthrange(year, 2)[1]
    return date(year, month, day)


def close_of(day: date, end: tuple[int, int]) -> date:
    """Return the last day of the (financial) year that contains `day`."""
    this_year = close_in(day.year, end)
    return this_year if day <= this_year else close_in(day.year + 1, end)


def _end_of(day: date) -> datetime:
    """Return the instant a day ends: the start of the next one, in UTC."""
    following = day + timedelta(days=1)
    return datetime(following.year, following.month, following.day, tzinfo=UTC)


def period_start(
    value: date | datetime, retention: Retention, organisation: Organisation
) -> datetime:
    """Return the instant the row's period runs from, in UTC (a naive time is taken as UTC)."""
    end = year_end(retention, organisation)
    if end is not None:
        return _end_of(close_of(_day(value), end))
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return _end_of(value)


def kept_until(value: date | datetime, retention: Retention, organisation: Organisation) -> date:
    """Return the last day (UTC) on which the row is still kept; the sweep takes it after."""
    ends = add_period(period_start(value, retention, organisation), retention.period)
    return (ends - timedelta(microseconds=1)).date()


def start_boundary(
    retention: Retention, organisation: Organisation, now: datetime
) -> datetime | None:
    """Return the instant such that the rows whose date is before it have expired at `now`, when
    the period runs from a year's close; None when it runs from the date (use the cutoff)."""
    end = year_end(retention, organisation)
    if end is None:
        return None
    cutoff = retention_cutoff(retention.period, now)
    year = cutoff.year
    while _end_of(close_in(year, end)) >= cutoff:  # at most twice: a close falls in every year
        year -= 1
    return _end_of(close_in(year, end))


def _day(value: date | datetime) -> date:
    if isinstance(value, datetime):
        aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return aware.date()
    return value
