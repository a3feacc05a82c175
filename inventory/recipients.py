"""Who received which fields, from the map: what Art. 19 needs to tell each recipient of a change.

A recipient receives the fields of every category that lists it, plus the fields it `receives`
from other categories. A recipient with `disclosed_when` received a person's data only if one of
their rows of that table has the date set (or the desk recorded such a row before it was swept);
the others are assumed to have received every field they are declared to receive.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from inventory.model import DataMap, IdentityKind, Link

FieldRef = tuple[str, str]
"""(system, `table.column`) of a category's field."""


def field_category(data_map: DataMap) -> dict[FieldRef, str]:
    """Return the category of every field of the map."""
    return {
        (f.system or category.system, f.column): category_id
        for category_id, category in data_map.categories.items()
        for f in category.fields
    }


def fields_received(data_map: DataMap, recipient_id: str) -> set[FieldRef]:
    """Return every field the recipient is declared to receive (its categories and `receives`)."""
    received: set[FieldRef] = set()
    for category in data_map.categories.values():
        if recipient_id in category.recipients:
            received |= {(f.system or category.system, f.column) for f in category.fields}
    recipient = data_map.recipients.get(recipient_id)
    if recipient is not None:
        wanted = set(recipient.receives)
        received |= {ref for ref in field_category(data_map) if ref[1] in wanted}
    return received


def all_recipients(data_map: DataMap) -> list[str]:
    """Return every recipient id the map names, declared or only listed by a category."""
    named = list(data_map.recipients)
    for category in data_map.categories.values():
        named += category.recipients
    return list(dict.fromkeys(named))


@dataclass(frozen=True)
class Concerned:
    """A recipient to tell of a change, and the categories of the changed fields it received."""

    recipient: str
    categories: tuple[str, ...]


def recipients_of_fields(
    data_map: DataMap, changed: Iterable[FieldRef], disclosed_to: Collection[str]
) -> list[Concerned]:
    """Return the recipients that received any of the `changed` fields, in the map's order.

    A recipient with `disclosed_when` counts only when it is in `disclosed_to` (the recipients a
    row of this person was sent to, live or recorded).
    """
    categories = field_category(data_map)
    changed_set = set(changed)
    found = []
    for recipient_id in all_recipients(data_map):
        recipient = data_map.recipients.get(recipient_id)
        if (
            recipient is not None
            and recipient.disclosed_when is not None
            and recipient_id not in disclosed_to
        ):
            continue
        hit = changed_set & fields_received(data_map, recipient_id)
        if hit:
            names = dict.fromkeys(categories[ref] for ref in sorted(hit) if ref in categories)
            found.append(Concerned(recipient_id, tuple(names)))
    return found


def category_fields(data_map: DataMap, category_ids: Iterable[str]) -> set[FieldRef]:
    """Return the fields of the given categories."""
    return {
        (f.system or data_map.categories[c].system, f.column)
        for c in category_ids
        for f in data_map.categories[c].fields
    }


def disclosure_category(data_map: DataMap, recipient_id: str) -> str | None:
    """Return the category of a recipient's `disclosed_when` column (None without one)."""
    recipient = data_map.recipients.get(recipient_id)
    if recipient is None or recipient.disclosed_when is None:
        return None
    for (_, column), category_id in field_category(data_map).items():
        if column == recipient.disclosed_when:
            return category_id
    return None


def coverage_warnings(data_map: DataMap) -> list[str]:
    """Say where the map may not say everything a recipient received (`dsr map check`).

    1. A recipient with `disclosed_when` is sent rows of its table: the rows these refer to
       through the map's links (e.g. the learner of an exam registration) belong to other
       categories; when none of their fields is declared received, say so: name and email
       usually go with the row.
    2. The category of the `disclosed_when` column does not list the recipient: the access
       report and the register would not name it there.
    3. The rows sent cannot be tied to an email identity through the map's links: the desk
       cannot record whose they were before a sweep deletes them.
    """
    warnings: list[str] = []
    categories = field_category(data_map)
    for recipient_id, recipient in data_map.recipients.items():
        if recipient.disclosed_when is None:
            continue
        received = fields_received(data_map, recipient_id)
        category_id = disclosure_category(data_map, recipient_id)
        if category_id is None:
            continue
        category = data_map.categories[category_id]
        if recipient_id not in category.recipients:
            warnings.append(
                f"recipient `{recipient_id}` is sent the rows of `{recipient.disclosed_when}`, "
                f"but category `{category_id}` does not list it among its recipients"
            )
        system = category.system
        table = recipient.disclosed_when.split(".", 1)[0]
        if email_path(data_map, system, table) is None:
            warnings.append(
                f"recipient `{recipient_id}` is sent rows of `{table}`, which no link ties to an "
                "email identity: the desk cannot record whose they were before they are swept"
            )
        for parent in _referred_tables(data_map, system, table):
            fields = {ref for ref, _ in categories.items() if ref[0] == system}
            parent_fields = {ref for ref in fields if ref[1].split(".", 1)[0] == parent}
            if parent_fields and not parent_fields & received:
                owners = sorted({categories[ref] for ref in parent_fields})
                warnings.append(
                    f"recipient `{recipient_id}` is sent rows of `{table}`, which refer to "
                    f"`{parent}` (category {', '.join(f'`{o}`' for o in owners)}): list the "
                    f"fields of `{parent}` sent with them under `receives`"
                )
    return warnings


def _referred_tables(data_map: DataMap, system: str, table: str) -> list[str]:
    """Return the tables a table's rows refer to through the map's links, nearest first."""
    tables = data_map.systems[system].tables
    seen: list[str] = []
    todo = [table]
    while todo:
        current = todo.pop(0)
        spec = tables.get(current)
        if spec is None:
            continue
        for link in spec.links:
            target = link.target_table
            if target != table and target not in seen:
                seen.append(target)
                todo.append(target)
    return seen


def email_path(data_map: DataMap, system: str, table: str) -> tuple[list[Link], str] | None:
    """Return the links from `table` to a table holding an email identity, and its column
    (nearest first); None when the table's rows cannot be tied to an address."""
    holders = {
        loc.column.split(".", 1)[0]: loc.column.split(".", 1)[1]
        for identity in data_map.identities.values()
        if identity.kind is IdentityKind.EMAIL
        for loc in identity.locations.get(system, [])
    }
    tables = data_map.systems[system].tables
    todo: list[tuple[str, list[Link]]] = [(table, [])]
    seen = {table}
    while todo:
        current, path = todo.pop(0)
        if current in holders:
            return path, holders[current]
        spec = tables.get(current)
        for link in spec.links if spec is not None else []:
            if link.target_table not in seen:
                seen.add(link.target_table)
                todo.append((link.target_table, [*path, link]))
    return None
