"""What every scheduled job is given and what a run of it did.

A job takes the store's engine, the settings, the time of the run and the outcome it fills in; it
handles its items one by one with `each_item`, each in its own transaction, so that a failing item
is logged (by id and error class, never personal data) and skipped without stopping the batch.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine

from dsr.api.callback_addresses import ALLOWED_NETWORKS_KEY, IPNetwork, parse_allowed_networks
from dsr.config import DEFAULTS, InsecureConfiguration, Settings, retention_approval_share
from dsr.languages import Language
from dsr.outbox.smtp import SmtpSettings
from dsr.records import RecordPeriods
from dsr.scheduler.models import ERROR_SUMMARY_MAX

log = logging.getLogger("dsr.scheduler.jobs")  # the name of every job line in the logs

DEFAULT_CLOSED_RETENTION_DAYS: int = DEFAULTS["CLOSED_REQUEST_RETENTION_DAYS"]  # R32: five years


@dataclass(frozen=True, slots=True)
class SchedulerSettings:
    """What the jobs need to know, taken from the desk's settings (`from_settings`); `run`
    holds the settings the retention sweeps read (the map, its systems, the sweeps' own)."""

    secret_key: str
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    unverified_expiry_days: int = 7
    closed_request_retention_days: int = DEFAULT_CLOSED_RETENTION_DAYS
    stuck_processing_hours: int = 24
    staff_language: Language = Language.FR
    callback_allowed_networks: tuple[IPNetwork, ...] = ()
    records: RecordPeriods = field(default_factory=RecordPeriods)
    run: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> SchedulerSettings:
        """Read SECRET_KEY, the SMTP_* settings, UNVERIFIED_EXPIRY_DAYS,
        CLOSED_REQUEST_RETENTION_DAYS, STUCK_PROCESSING_HOURS, STAFF_LANGUAGE,
        CALLBACK_ALLOWED_NETWORKS and the periods of the desk's own records (`RecordPeriods`),
        each set as DSR_<NAME>, and check RETENTION_APPROVAL_SHARE; raise ValueError or
        SmtpSettingsError naming the variable whose value does not parse."""
        values = settings.values

        def number(name: str) -> int:
            given = values.get(name)
            raw = "" if given is None else str(given).strip()
            if not raw:
                return int(DEFAULTS[name])
            value = int(raw)
            if value < 1:
                raise ValueError(f"DSR_{name} must be a positive whole number")
            return value

        try:  # read by the retention sweep at night: refused at start instead
            retention_approval_share(values)
        except InsecureConfiguration as error:
            raise ValueError(str(error)) from None
        language = str(values.get("STAFF_LANGUAGE") or "").strip() or str(
            DEFAULTS["STAFF_LANGUAGE"]
        )
        return cls(
            secret_key=str(values["SECRET_KEY"]),
            smtp=SmtpSettings.from_config(values),
            unverified_expiry_days=number("UNVERIFIED_EXPIRY_DAYS"),
            closed_request_retention_days=number("CLOSED_REQUEST_RETENTION_DAYS"),
            stuck_processing_hours=number("STUCK_PROCESSING_HOURS"),
            staff_language=Language(language),
            callback_allowed_networks=parse_allowed_networks(values.get(ALLOWED_NETWORKS_KEY)),
            records=RecordPeriods.from_config(values),
            run=settings.for_run(),
        )


@dataclass(slots=True)
class JobOutcome:
    """What a run did: items handled, and the kinds of the errors met."""

    items_done: int = 0
    error_kinds: Counter[str] = field(default_factory=Counter)

    @property
    def errors(self) -> int:
        return sum(self.error_kinds.values())

    def failed(self, kind: str, count: int = 1) -> None:
        self.error_kinds[kind] += count

    def summary(self) -> str | None:
        """The error kinds with their counts, e.g. "OperationalError x2"; no messages."""
        if not self.error_kinds:
            return None
        shown = ", ".join(f"{kind} x{count}" for kind, count in sorted(self.error_kinds.items()))
        return shown[:ERROR_SUMMARY_MAX]


Job = Callable[[Engine, SchedulerSettings, datetime, JobOutcome], None]


def each_item(
    job: str, outcome: JobOutcome, item_ids: Iterable[int | None], handle: Callable[[int], bool]
) -> None:
    """Handle every item in turn; one that raises is logged by id and skipped. `handle` returns
    whether it did something (counted in items_done)."""
    for item_id in item_ids:
        if item_id is None:
            continue
        try:
            if handle(item_id):
                outcome.items_done += 1
        except Exception as error:  # one bad item never stops the batch
            log.error("job %s: item %s failed: %s", job, item_id, type(error).__name__)
            outcome.failed(type(error).__name__)
