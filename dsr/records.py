"""How long the desk keeps its own records (R32, R43): the periods of the `delete_unverified` and
`housekeeping` jobs, read from the settings and checked at start.

Each period is a whole number of days set as DSR_<NAME>; `RecordPeriods.from_config` raises
ValueError naming the variable for anything else, so that a typo stops the desk (and the
scheduler) at start instead of keeping records for ever or deleting them at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dsr.config import DEFAULTS

SECURITY_LOG_DAYS = (183, 366)
"""R31/R43: security logs are kept from 6 to 12 months."""


def whole_days(
    config: Mapping[str, Any],
    name: str,
    *,
    lowest: int = 1,
    highest: int | None = None,
    why: str = "",
) -> int:
    """Return the setting `name` (without its DSR_ prefix) as a whole number of days from
    `lowest` to `highest`, its default when unset; raise ValueError naming the variable (and
    saying `why` the bounds, when they come from elsewhere)."""
    value = config.get(name)
    if value is None or value == "":
        value = DEFAULTS[name]
    text = str(value).strip()
    if (
        isinstance(value, bool)
        or not text.isdigit()
        or int(text) < lowest
        or (highest is not None and int(text) > highest)
    ):
        bounds = f"from {lowest} to {highest}" if highest is not None else f"{lowest} or more"
        raise ValueError(
            f"DSR_{name} must be a whole number of days, {bounds}{why}, not {value!r}."
        )
    return int(text)


@dataclass(frozen=True, slots=True)
class RecordPeriods:
    """The days each of the desk's own records is kept (see the README's table of them)."""

    unverified_days: int = int(DEFAULTS["UNVERIFIED_RETENTION_DAYS"])
    job_run_days: int = int(DEFAULTS["JOB_RUN_RETENTION_DAYS"])
    outbox_days: int = int(DEFAULTS["OUTBOX_RETENTION_DAYS"])
    callback_days: int = int(DEFAULTS["CALLBACK_RETENTION_DAYS"])
    security_log_days: int = int(DEFAULTS["SECURITY_LOG_RETENTION_DAYS"])

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> RecordPeriods:
        """Read the periods; an unverified request is kept at least until it expires
        (DSR_UNVERIFIED_EXPIRY_DAYS), the security records 6 to 12 months."""
        expiry = whole_days(config, "UNVERIFIED_EXPIRY_DAYS")
        low, high = SECURITY_LOG_DAYS
        return cls(
            unverified_days=whole_days(
                config,
                "UNVERIFIED_RETENTION_DAYS",
                lowest=expiry,
                why=" (a request is not deleted before DSR_UNVERIFIED_EXPIRY_DAYS expires it)",
            ),
            job_run_days=whole_days(config, "JOB_RUN_RETENTION_DAYS"),
            outbox_days=whole_days(config, "OUTBOX_RETENTION_DAYS"),
            callback_days=whole_days(config, "CALLBACK_RETENTION_DAYS"),
            security_log_days=whole_days(
                config, "SECURITY_LOG_RETENTION_DAYS", lowest=low, highest=high
            ),
        )
