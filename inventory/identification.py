"""Whether rows an erasure anonymised still identify the person, from the map alone.

A row is anonymous only when nothing kept identifies the person: neither the row itself (a field
that names them and that its strategy keeps, truncates or replaces by a keyed hash, which the
organisation can match again) nor a kept row linked to it (by the map's links, either way) that
holds such a field. A field names the person when the map marks it `identifying`, or when it is
where an identity of kind email, phone or text is found; an `id` identity (an account number) only
identifies through what is linked to it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from inventory.model import AnonymizeStrategy, DataMap, ErasureAction, Field_, IdentityKind

_STILL_THERE = frozenset(
    {AnonymizeStrategy.KEEP, AnonymizeStrategy.TRUNCATE, AnonymizeStrategy.KEYED_HASH}
)
_NAMING_KINDS = frozenset({IdentityKind.EMAIL, IdentityKind.PHONE, IdentityKind.TEXT})


@dataclass(frozen=True)
class StillIdentifying:
    """What keeps an anonymised category's rows tied to the person: its own fields that still
    name them, and the kept categories linked to it whose rows name them (with those fields)."""

    own_fields: tuple[Field_, ...]
    linked: dict[str, tuple[Field_, ...]]

    def __bool__(self) -> bool:
        return bool(self.own_fields or self.linked)


def naming_fields(data_map: DataMap, category_id: str) -> list[Field_]:
    """Return the category's fields that name the person by themselves."""
    category = data_map.categories[category_id]
    identity_columns = {
        (system, location.column)
        for identity in data_map.identities.values()
        if identity.kind in _NAMING_KINDS
        for system, locations in identity.locations.items()
        for location in locations
    }
    return [
        f
        for f in category.fields
        if f.identifying or ((f.system or category.system), f.column) in identity_columns
    ]


def _tables(data_map: DataMap, category_id: str) -> set[tuple[str, str]]:
    category = data_map.categories[category_id]
    return {((f.system or category.system), f.table) for f in category.fields}


def linked(data_map: DataMap, one: set[tuple[str, str]], other: set[tuple[str, str]]) -> bool:
    """Tell whether rows of the tables `one` lead to rows of `other` by a chain of the map's
    links, or the other way round (an invoice line -> its invoice -> the account)."""
    edges: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for system, spec in data_map.systems.items():
        for name, table in spec.tables.items():
            for link in table.links:
                edges.setdefault((system, name), set()).add((system, link.target_table))

    def reach(start: set[tuple[str, str]]) -> set[tuple[str, str]]:
        reached, frontier = set(start), list(start)
        while frontier:
            for following in edges.get(frontier.pop(), set()) - reached:
                reached.add(following)
                frontier.append(following)
        return reached

    return bool(reach(one) & other or reach(other) & one)


def still_identifying(
    data_map: DataMap, category_id: str, kept: Collection[str]
) -> StillIdentifying:
    """Return what still ties the anonymised rows of `category_id` to the person, given the
    categories whose rows the erasure `kept` (retained as they are)."""
    own = tuple(
        f
        for f in naming_fields(data_map, category_id)
        if f.anonymize is not None and f.anonymize.strategy in _STILL_THERE
    )
    tables = _tables(data_map, category_id)
    ties: dict[str, tuple[Field_, ...]] = {}
    for other in kept:
        spec = data_map.categories.get(other)
        if other == category_id or spec is None or spec.erasure.action is not ErasureAction.RETAIN:
            continue
        naming = tuple(naming_fields(data_map, other))
        if naming and linked(data_map, _tables(data_map, other), tables):
            ties[other] = naming
    return StillIdentifying(own, ties)
