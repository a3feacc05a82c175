"""When a request's answer is due (Art. 12(3); R3, R4, R48): one month from the day of receipt
on the organisation's calendar, plus extension months and whole days of waiting for the
requester, due by the end of that local day.

Pure functions of their inputs: the zone is given, never read from the map.
"""

from __future__ import annotations

from calendar import monthrange
from datetime import UTC, date, datetime, time, timedelta, tzinfo

RESPONSE_MONTHS = 1


def aware_utc(moment: datetime, name: str) -> datetime:
    """Return `moment` in UTC; refuse a naive datetime, whose instant is unknown."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got a naive one")
    return moment.astimezone(UTC)


def add_months(day: date, months: int) -> date:
    """Add calendar months, clamping the day to the target month (31 January + 1 = 28/29 Feb)."""
    year, month_index = divmod(day.month - 1 + months, 12)
    year += day.year
    month = month_index + 1
    return day.replace(year=year, month=month, day=min(day.day, monthrange(year, month)[1]))


def end_of_day(day: date, zone: tzinfo) -> datetime:
    """Return the last instant (to the microsecond) of `day` on `zone`'s calendar, in UTC: shown
    in that zone it is still `day`, whatever the daylight-saving changes of that day."""
    next_midnight = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone)
    return next_midnight.astimezone(UTC) - timedelta(microseconds=1)


def deadline_for(
    received_at: datetime,
    *,
    zone: tzinfo,
    paused: timedelta = timedelta(0),
    extension_months: int = 0,
) -> datetime:
    """Return when the answer is due, on the organisation's calendar `zone` (R3, R4, R48).

    The day of receipt is the date of `received_at` in `zone`; the period ends on the same date
    one month later (plus any extension months), or on the last day of that month when it has
    no such date; a pause for the requester adds the whole days it lasted, rounded down (a pause
    of 2 days and 20 hours adds 2 days: a short pause never gives the desk a free day). The
    answer is due by the end of that day: the last instant of it in `zone`, returned in UTC.
    """
    if paused < timedelta(0):
        raise ValueError("paused time cannot be negative")
    if extension_months < 0:
        raise ValueError("extension_months cannot be negative")
    received = aware_utc(received_at, "received_at").astimezone(zone).date()
    due = add_months(received, RESPONSE_MONTHS + extension_months) + timedelta(days=paused.days)
    return end_of_day(due, zone)
