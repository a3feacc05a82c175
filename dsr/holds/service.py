"""Place, lift and read the legal holds of a request (Art. 17(3)(e), R50).

A hold names categories of the map, the reason (the claim) and the last day it lasts, on the
organisation's calendar. While it lasts, the erasure keeps those categories (`inventory.holds`)
and the retention sweeps spare the person's rows of them (`dsr.holds.sweeps`); when it ends,
`dsr.holds.release` erases what an erasure kept for it and deletes the hold with its identity.
Services flush; the caller commits. Audit events hold category ids, dates and staff's reason,
never the person's data.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime, tzinfo
from zoneinfo import ZoneInfo

from babel.dates import format_date
from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from dsr.audit.models import record_action
from dsr.execution.targets import ChangeRefused
from dsr.holds.models import REASON_MAX, LegalHold
from dsr.i18n import gettext
from dsr.requests.models import DataRequest
from dsr.requests.workflow import Actor, RequestType, Status
from inventory.holds import HeldCategory, kept_with_held, linked_hold, with_holds
from inventory.model import DataMap, LocalText
from inventory.systems import Systems

PLACED_ACTION = "legal_hold_placed"
LIFTED_ACTION = "legal_hold_lifted"
RELEASED_ACTION = "legal_hold_released"
MAX_HOLD_YEARS = 10
"""The longest hold staff can place at once: the longest limitation period of French law that
a claim about this data could need (ten years); a longer one is placed again when it ends."""

HOLD_REASON = LocalText(
    fr="Conservé pour la constatation, l'exercice ou la défense de droits en justice "
    "(art. 17(3)(e) RGPD) : {reason}",
    en="Kept for the establishment, exercise or defence of legal claims "
    "(Art. 17(3)(e) GDPR): {reason}",
)
HOLD_UNTIL = LocalText(
    fr="Jusqu'au {date} inclus, fin de la conservation pour ce litige",
    en="Until {date} inclusive, the end of the hold for this claim",
)


def organisation_today(now: datetime, zone: tzinfo) -> date:
    """Return the date of `now` on the calendar of the request (the organisation's zone kept
    with it at receipt)."""
    return now.astimezone(zone).date()


def in_force(hold: LegalHold, zone: str, now: datetime) -> bool:
    """Whether `hold`, on a request of time zone `zone`, is not lifted and not past its end."""
    return hold.lifted_at is None and hold.ends_on >= organisation_today(now, ZoneInfo(zone))


def _latest_end(today: date) -> date:
    try:
        return today.replace(year=today.year + MAX_HOLD_YEARS)
    except ValueError:  # 29 February
        return today.replace(year=today.year + MAX_HOLD_YEARS, day=28)


def active_holds(db_session: Session, request_id: int, now: datetime) -> list[LegalHold]:
    """Return the request's holds still in force at `now` (not lifted, not past their end)."""
    request = db_session.get(DataRequest, request_id)
    if request is None:
        return []
    today = organisation_today(now, request.zone)
    return list(db_session.exec(_ACTIVE, params={"p_request": request_id, "p_today": today}).all())


_ACTIVE = (
    select(LegalHold)
    .where(
        LegalHold.request_id == bindparam("p_request"),
        col(LegalHold.lifted_at).is_(None),
        col(LegalHold.ends_on) >= bindparam("p_today"),
    )
    .order_by(col(LegalHold.id))
)
"""Built once: every erasure run reads its request's holds."""


def held_category(hold: LegalHold) -> HeldCategory:
    """Say why and until when the hold keeps its categories, in French and English."""
    return HeldCategory(
        reason=LocalText(
            fr=HOLD_REASON.fr.format(reason=hold.reason),
            en=HOLD_REASON.en.format(reason=hold.reason),
        ),
        until=LocalText(
            fr=HOLD_UNTIL.fr.format(date=format_date(hold.ends_on, "d MMMM y", locale="fr")),
            en=HOLD_UNTIL.en.format(date=format_date(hold.ends_on, "d MMMM y", locale="en")),
        ),
        ends_on=hold.ends_on,
    )


def held_categories(holds: Sequence[LegalHold]) -> dict[str, HeldCategory]:
    """Return each held category with the hold that keeps it."""
    return {c: held_category(hold) for hold in holds for c in hold.category_ids}


def effective_holds(
    data_map: DataMap, systems: Systems, holds: Sequence[LegalHold]
) -> dict[str, HeldCategory]:
    """Return what the holds keep: their categories, and those kept with them (in the same
    records, or that their rows refer to), each with why and until when."""
    held = held_categories(holds)
    if not held:
        return held
    for category_id, kept_for in kept_with_held(data_map, systems, held).items():
        held[category_id] = linked_hold(held[kept_for])
    return held


def map_with_holds(
    db_session: Session, data_map: DataMap, systems: Systems, request_id: int, now: datetime
) -> DataMap:
    """Return the map as the erasure of the request must apply it at `now`: held categories
    retained for their hold."""
    holds = active_holds(db_session, request_id, now)
    return with_holds(data_map, effective_holds(data_map, systems, holds))


def place_hold(
    *,
    db_session: Session,
    request: DataRequest,
    data_map: DataMap,
    categories: Sequence[str],
    reason: str,
    ends_on: date | None,
    staff_label: str,
    now: datetime,
) -> LegalHold:
    """Hold categories of the request's subject until `ends_on`; raise ChangeRefused, storing
    nothing, on a bad category, reason or date."""
    if request.id is None:
        raise ChangeRefused("the request is not stored yet")
    chosen = list(dict.fromkeys(c.strip() for c in categories if c.strip()))
    if not chosen:
        raise ChangeRefused(gettext("Choose at least one category of data to hold."))
    unknown = [c for c in chosen if c not in data_map.categories]
    if unknown:
        raise ChangeRefused(
            gettext("The data map has no category %(names)s.", names=", ".join(sorted(unknown)))
        )
    reason = reason.strip()
    if not reason:
        raise ChangeRefused(gettext("Say which legal claim the data is kept for."))
    if len(reason) > REASON_MAX:
        raise ChangeRefused(gettext("Please keep this under %(max)d characters.", max=REASON_MAX))
    today = organisation_today(now, request.zone)
    if ends_on is None or ends_on <= today:
        raise ChangeRefused(gettext("The hold must end on a date after today."))
    if ends_on > _latest_end(today):
        raise ChangeRefused(
            gettext(
                "A hold lasts at most %(years)d years: place a new one when it ends.",
                years=MAX_HOLD_YEARS,
            )
        )
    if request.type is RequestType.ERASURE and request.status is Status.COMPLETED:
        raise ChangeRefused(
            gettext("This request's erasure is done: there is nothing left to hold.")
        )
    already = {c for hold in active_holds(db_session, request.id, now) for c in hold.category_ids}
    taken = sorted(set(chosen) & already)
    if taken:
        raise ChangeRefused(
            gettext(
                "Already held: %(names)s; lift that hold first to change it.",
                names=", ".join(taken),
            )
        )
    hold = LegalHold(
        request_id=request.id,
        categories=json.dumps(chosen),
        reason=reason,
        ends_on=ends_on,
        placed_by=staff_label,
        placed_at=now,
        email=request.subject_address,
    )
    db_session.add(hold)
    db_session.flush()
    record_action(
        db_session=db_session,
        request=request,
        actor=Actor.STAFF,
        actor_label=staff_label,
        action=PLACED_ACTION,
        at=now,
        reason=reason,
        details={"hold": hold.id, "categories": chosen, "ends_on": ends_on.isoformat()},
    )
    return hold


def lift_hold(
    *,
    db_session: Session,
    request: DataRequest,
    hold_id: int | None,
    reason: str,
    staff_label: str,
    now: datetime,
) -> LegalHold:
    """End a hold before its date, with the reason; the next release erases what it kept."""
    if request.id is None:
        raise ChangeRefused("the request is not stored yet")
    hold = next((h for h in active_holds(db_session, request.id, now) if h.id == hold_id), None)
    if hold is None:
        raise ChangeRefused(gettext("This hold is not in force on this request."))
    reason = reason.strip()
    if not reason:
        raise ChangeRefused(gettext("Say why the hold is lifted before its date."))
    if len(reason) > REASON_MAX:
        raise ChangeRefused(gettext("Please keep this under %(max)d characters.", max=REASON_MAX))
    hold.lifted_at, hold.lifted_by, hold.lift_reason = now, staff_label, reason
    db_session.add(hold)
    db_session.flush()
    record_action(
        db_session=db_session,
        request=request,
        actor=Actor.STAFF,
        actor_label=staff_label,
        action=LIFTED_ACTION,
        at=now,
        reason=reason,
        details={"hold": hold.id, "categories": hold.category_ids},
    )
    return hold


def record_kept_rows(
    db_session: Session, hold: LegalHold, rows: Mapping[str, Mapping[str, list[list[object]]]]
) -> None:
    """Remember on the hold the keys of the rows an erasure kept for it (system -> table ->
    keys), so that they are found once the identity is gone from the systems."""
    known: dict[str, dict[str, list[list[object]]]] = hold.kept
    for system, tables in rows.items():
        for table, keys in tables.items():
            stored = known.setdefault(system, {}).setdefault(table, [])
            stored.extend(k for k in keys if k not in stored)
    hold.kept_rows = json.dumps(known, default=str, sort_keys=True)
    db_session.add(hold)
    db_session.flush()
