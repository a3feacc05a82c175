"""The erasure's part of the legal holds: which map a request's erasure applies (held categories
retained for their hold), and the keys of the rows it kept for each hold, remembered on the hold
so that the rows are found again when it ends (the erasure may have removed the address that led
to them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from dsr.holds.models import LegalHold
from dsr.holds.service import active_holds, effective_holds, record_kept_rows
from inventory.holds import kept_with_held, with_holds
from inventory.locator import SubjectLocation, category_tables
from inventory.model import DataMap
from inventory.systems import Systems

KeysByTable = dict[str, dict[str, list[list[object]]]]


@dataclass(frozen=True)
class HeldErasure:
    """The map an erasure applies, and per hold id the keys of the rows kept for it."""

    data_map: DataMap
    kept: dict[int, KeysByTable]


def erasure_under_holds(
    data_map: DataMap, systems: Systems, holds: Sequence[LegalHold], location: SubjectLocation
) -> HeldErasure:
    """Return the map an erasure applies under `holds` (the request's, `active_holds`) and what
    each hold keeps of the located subject."""
    held = effective_holds(data_map, systems, holds)
    kept = {
        hold.id: _keys(data_map, location, _hold_categories(data_map, systems, hold))
        for hold in holds
        if hold.id is not None
    }
    return HeldErasure(with_holds(data_map, held), kept)


def remember_kept_rows(
    db_session: Session, request_id: int, held: HeldErasure, now: datetime
) -> None:
    """Store on each hold the keys of the rows the erasure kept for it."""
    for hold in active_holds(db_session, request_id, now):
        if hold.id in held.kept:
            record_kept_rows(db_session, hold, held.kept[hold.id])


def _hold_categories(data_map: DataMap, systems: Systems, hold: LegalHold) -> list[str]:
    own = hold.category_ids
    return [*own, *kept_with_held(data_map, systems, own)]


def _keys(data_map: DataMap, location: SubjectLocation, categories: list[str]) -> KeysByTable:
    found: KeysByTable = {}
    for category_id in categories:
        for system, table, _ in category_tables(data_map, data_map.categories[category_id]):
            keys = [list(k) for k in location.owned_keys(system, table)]
            if keys:
                found.setdefault(system, {})[table] = keys
    return found
