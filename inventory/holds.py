"""Legal holds seen by the map: a held category is retained for the hold's reason until its end,
whatever the map's own erasure action, so that the erasure engine keeps it as it keeps any
`retain` category (and restricts it where the map says how).

A held row must not lose what it refers to: a category whose rows the erasure would delete and
that held rows refer to (a map link or a live foreign key) is held with them, and so is a
category stored in the same table as a held one (the engine keeps a table's rows whole).
`only_categories` limits a map to some categories, to erase the held data once it has ended.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date

from inventory.model import Category, DataMap, Erasure, ErasureAction, LocalText
from inventory.references import Reference, system_references
from inventory.systems import Systems

LINKED_REASON = LocalText(
    fr="Conservé avec des données gardées pour la défense de droits en justice (dans les mêmes "
    "enregistrements, ou auxquelles elles renvoient) : {reason}",
    en="Kept with data held for a legal claim (in the same records, or referred to by them): "
    "{reason}",
)


@dataclass(frozen=True)
class HeldCategory:
    """Why a category is held and until when, as the plan and the certificate say it."""

    reason: LocalText
    until: LocalText
    ends_on: date  # the hold's last day: each kept record is kept until then


def with_holds(data_map: DataMap, held: Mapping[str, HeldCategory]) -> DataMap:
    """Return the map in which each held category is retained for the hold's reason."""
    if not held:
        return data_map
    categories: dict[str, Category] = dict(data_map.categories)
    for category_id, hold in held.items():
        erasure = Erasure(
            action=ErasureAction.RETAIN,
            legal_reason=hold.reason,
            until=hold.until,
            held_until=hold.ends_on,
        )
        categories[category_id] = categories[category_id].model_copy(update={"erasure": erasure})
    return data_map.model_copy(update={"categories": categories})


def kept_with_held(data_map: DataMap, systems: Systems, held: Collection[str]) -> dict[str, str]:
    """Return the categories a hold on `held` keeps too, each with the held category it is kept
    for: those in the same tables (the engine keeps or changes a table's rows whole), and those
    the erasure would delete whose rows the kept rows refer to (a map link or a live foreign key),
    transitively."""
    by_table: dict[tuple[str, str], list[str]] = {}
    for category_id, category in data_map.categories.items():
        for f in category.fields:
            names = by_table.setdefault((f.system or category.system, f.table), [])
            if category_id not in names:
                names.append(category_id)
    kept: dict[str, str] = {c: c for c in held}
    references: dict[str, list[Reference]] = {}
    changed = True
    while changed:
        changed = False
        tables = {
            where: next(c for c in cats if c in kept)
            for where, cats in by_table.items()
            if any(c in kept for c in cats)
        }
        for (system, table), owner in tables.items():
            for category_id in by_table[(system, table)]:
                if category_id not in kept:
                    kept[category_id] = kept[owner]
                    changed = True
        for system in {system for system, _ in tables}:
            if system not in references:
                with systems.engine(system).connect() as conn:
                    references[system] = system_references(data_map, system, conn)
            for ref in references[system]:
                child_owner = tables.get((system, ref.child))
                parents = by_table.get((system, ref.parent), [])
                if child_owner is None or not parents or any(c in kept for c in parents):
                    continue
                if {data_map.categories[c].erasure.action for c in parents} != {
                    ErasureAction.DELETE
                }:
                    continue  # an anonymised or kept row stays: nothing to protect
                for category_id in parents:
                    kept[category_id] = kept[child_owner]
                changed = True
    return {c: owner for c, owner in kept.items() if c not in held}


def linked_hold(hold: HeldCategory) -> HeldCategory:
    """Return how a category kept because held rows refer to it is explained."""
    return HeldCategory(
        reason=LocalText(
            fr=LINKED_REASON.fr.format(reason=hold.reason.fr),
            en=LINKED_REASON.en.format(reason=hold.reason.en),
        ),
        until=hold.until,
        ends_on=hold.ends_on,
    )


def only_categories(data_map: DataMap, category_ids: Collection[str]) -> DataMap:
    """Return the map limited to some categories: the other tables' rows are left untouched."""
    categories = {c: spec for c, spec in data_map.categories.items() if c in category_ids}
    return data_map.model_copy(update={"categories": categories})
