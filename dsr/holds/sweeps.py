"""The retention sweeps' part of the legal holds: a held person's rows of a held category stay
until the hold ends, and `dsr retention plan` counts them apart; no warning announces their
expiry meanwhile.

Each held category's sweep (and that of the categories the hold keeps with it, as the erasure
does: `inventory.holds.kept_with_held`) gets a gate (`inventory.retention.Gate`) that holds back
the rows of its main table that belong to a held person: found by the locator from the address
the hold keeps, and by the keys an erasure kept for the hold (the address may be gone from the
systems). A category with a gate is known to the other sweeps as one whose rows stay, so what
held rows refer to stays too.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from dsr import db
from dsr.execution.targets import email_identity
from dsr.holds.models import LegalHold
from dsr.holds.service import in_force
from dsr.requests.models import DataRequest
from inventory.holds import kept_with_held
from inventory.keyed import Key
from inventory.locator import locate_subject
from inventory.model import DataMap
from inventory.retention import Gate, RetentionPlan
from inventory.systems import Systems


def row_key(key: Sequence[object]) -> str:
    """Return a row's key as compared: JSON, values that JSON lacks as text."""
    return json.dumps(list(key), default=str, separators=(",", ":"))


class HoldGate:
    """Hold back the held rows of one category's main table, then apply the category's own gate
    (if any) to the rest; `held` counts the rows held back."""

    def __init__(self, held_keys: set[str], then: Gate | None) -> None:
        self.held_keys = held_keys
        self.then = then
        self.held = 0

    def __call__(self, rows: Sequence[tuple[Key, Any]]) -> Sequence[Key]:
        free = [(key, day) for key, day in rows if row_key(key) not in self.held_keys]
        self.held += len(rows) - len(free)
        if self.then is not None:
            return self.then(free)
        return [key for key, _ in free]


def holds_in_force(engine: Engine, now: datetime) -> list[LegalHold]:
    """Return every request's holds in force at `now`, each on its request's calendar."""
    with db.transaction(engine) as db_session:
        rows = db_session.exec(
            select(LegalHold, DataRequest.time_zone)
            .join(DataRequest, col(DataRequest.id) == col(LegalHold.request_id))
            .where(col(LegalHold.lifted_at).is_(None))
        ).all()
        return [hold for hold, zone in rows if in_force(hold, zone, now)]


def held_keys(
    data_map: DataMap, systems: Systems, holds: Sequence[LegalHold]
) -> dict[str, set[str]]:
    """Return, per held category, the keys of the held rows of its main table."""
    identity = email_identity(data_map)
    found: dict[str, set[str]] = {}
    for hold in holds:
        categories = [c for c in hold.category_ids if c in data_map.categories]
        if not categories:
            continue
        categories += kept_with_held(data_map, systems, categories)  # as the erasure keeps them
        location = locate_subject(data_map, systems, identity, hold.email)
        kept = hold.kept
        for category_id in categories:
            category = data_map.categories[category_id]
            main = category.retention.from_.split(".", 1)[0]
            keys = found.setdefault(category_id, set())
            keys.update(row_key(k) for k in location.owned_keys(category.system, main))
            keys.update(row_key(k) for k in kept.get(category.system, {}).get(main, []))
    return found


def held_rows(
    engine: Engine, data_map: DataMap, systems: Systems, now: datetime
) -> dict[str, set[str]]:
    """Return, per category, the keys of its main table's rows under a hold in force at `now`."""
    return held_keys(data_map, systems, holds_in_force(engine, now))


def with_hold_gates(gates: Mapping[str, Gate], held: Mapping[str, set[str]]) -> dict[str, Gate]:
    """Return the sweeps' gates with those of the held categories (`held_rows`) in front."""
    combined: dict[str, Gate] = dict(gates)
    for category_id, keys in held.items():
        if keys:
            combined[category_id] = HoldGate(keys, gates.get(category_id))
    return combined


def counted_as_held(plan: RetentionPlan, gates: Mapping[str, Gate]) -> RetentionPlan:
    """Return the plan with the rows each hold gate held back counted as `legal_hold`, apart
    from the rows waiting for their warning."""
    sweeps = []
    for sweep in plan.sweeps:
        gate = gates.get(sweep.category)
        if isinstance(gate, HoldGate):
            sweep = dataclasses.replace(sweep, held=sweep.held - gate.held, legal_hold=gate.held)
            gate.held = 0
        sweeps.append(sweep)
    return RetentionPlan(sweeps)
