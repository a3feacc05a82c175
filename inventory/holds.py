"""Legal holds seen by the map: a held category is retained for the hold's reason until its end,
whatever the map's own erasure action, so that the erasure engine keeps it as it keeps any
`retain` category (and restricts it where the map says how).

A held row must not lose what it refers to: a category whose rows the erasure would delete and
that held rows refer to (a map link or a live foreign key) is held with them. `only_categories`
limits a map to some categories, to erase the held data once the hold has ended.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from inventory.model import Category, DataMap, Erasure, ErasureAction, LocalText
from inventory.references import system_references
from inventory.systems import Systems

LINKED_REASON = LocalText(
    fr="Conservé avec des données gardées pour la défense de droits en justice qui s'y "
    "rapportent : {reason}",
    en="Kept with data held for a legal claim that refers to it: {reason}",
)


@dataclass(frozen=True)
class HeldCategory:
    """Why a category is held and until when, as the plan and the certificate say it."""

    reason: LocalText
    until: LocalText


def with_holds(data_map: DataMap, held: Mapping[str, HeldCategory]) -> DataMap:
    """Return the map in which each held category is retained for the hold's reason."""
    if not held:
        return data_map
    categories: dict[str, Category] = dict(data_map.categories)
    for category_id, hold in held.items():
        erasure = Erasure(action=ErasureAction.RETAIN, legal_reason=hold.reason, until=hold.until)
        categories[category_id] = categories[category_id].model_copy(update={"erasure": erasure})
    return data_map.model_copy(update={"categories": categories})


def referred_categories(
    data_map: DataMap, systems: Systems, held: Collection[str]
) -> dict[str, str]:
    """Return the categories the erasure would delete whose rows the held categories' rows refer
    to, each with the held category it is kept for (transitively)."""
    found: dict[str, str] = {}
    for system in data_map.systems:
        by_table: dict[str, list[str]] = {}
        for category_id, category in data_map.categories.items():
            for f in category.fields_in(system):
                by_table.setdefault(f.table, [])
                if category_id not in by_table[f.table]:
                    by_table[f.table].append(category_id)
        kept_for = {
            table: next(c for c in cats if c in held)
            for table, cats in by_table.items()
            if any(c in held for c in cats)
        }
        if not kept_for:
            continue
        with systems.engine(system).connect() as conn:
            references = system_references(data_map, system, conn)
        changed = True
        while changed:
            changed = False
            for ref in references:
                if ref.child not in kept_for or ref.parent in kept_for:
                    continue
                parents = by_table.get(ref.parent, [])
                actions = {data_map.categories[c].erasure.action for c in parents}
                if not parents or actions != {ErasureAction.DELETE}:
                    continue  # an anonymised or kept row stays: nothing to protect
                kept_for[ref.parent] = kept_for[ref.child]
                for category_id in parents:
                    found.setdefault(category_id, kept_for[ref.child])
                changed = True
    return {c: owner for c, owner in found.items() if c not in held}


def linked_hold(hold: HeldCategory) -> HeldCategory:
    """Return how a category kept because held rows refer to it is explained."""
    return HeldCategory(
        reason=LocalText(
            fr=LINKED_REASON.fr.format(reason=hold.reason.fr),
            en=LINKED_REASON.en.format(reason=hold.reason.en),
        ),
        until=hold.until,
    )


def only_categories(data_map: DataMap, category_ids: Collection[str]) -> DataMap:
    """Return the map limited to some categories: the other tables' rows are left untouched."""
    categories = {c: spec for c, spec in data_map.categories.items() if c in category_ids}
    return data_map.model_copy(update={"categories": categories})
