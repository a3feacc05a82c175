"""Read, in the organisation's systems, which rows were sent to a recipient (its `disclosed_when`
column is set): a subject's own rows, or the rows a retention sweep is about to expire, with the
email address of the person they belong to (found through the map's links), so that the desk can
record the disclosure before the row is gone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import Select, Table, select

from inventory.keyed import KeyedTable, chunks, select_where
from inventory.locator import SubjectLocation
from inventory.model import DataMap, Link
from inventory.recipients import disclosure_category, email_path
from inventory.retention import as_utc
from inventory.retention_scope import expired_condition, sweep_context, sweep_scope

BATCH = 1000


@dataclass(frozen=True)
class Disclosed:
    """A row of `category` sent to `recipient` on `sent_at`; `email`: whose (read by a sweep)."""

    recipient: str
    category: str
    sent_at: datetime
    email: str | None = None


@dataclass(frozen=True)
class _Source:
    recipient: str
    category: str
    system: str
    table: str
    column: str


def _sources(data_map: DataMap) -> list[_Source]:
    found = []
    for recipient_id, recipient in data_map.recipients.items():
        category_id = disclosure_category(data_map, recipient_id)
        if category_id is None or recipient.disclosed_when is None:
            continue
        table, column = recipient.disclosed_when.split(".", 1)
        category = data_map.categories[category_id]
        system = next(
            f.system or category.system
            for f in category.fields
            if f.column == recipient.disclosed_when
        )
        found.append(_Source(recipient_id, category_id, system, table, column))
    return found


def subject_disclosures(
    data_map: DataMap, systems: Any, location: SubjectLocation
) -> list[Disclosed]:
    """Return the disclosures of the subject's own rows (those with the recipient's date set)."""
    found: dict[Disclosed, None] = {}
    for source in _sources(data_map):
        match = location.match(source.system, source.table)
        if match is None:
            continue
        owned = [k for k in match.keys if k not in match.not_owned]
        if not owned:
            continue
        zone = data_map.system_zone(source.system)
        with systems.connect(source.system) as conn:
            table = systems.tables(source.system)[source.table]
            keyed = KeyedTable(conn, systems, source.system, table, match.primary_key)
            build = partial(select_where, [table.c[source.column]])
            for chunk in chunks(owned):
                for (value,) in keyed.rows(("disclosed", source.column), build, chunk):
                    if value is not None:
                        sent_at = as_utc(value, zone)
                        found[Disclosed(source.recipient, source.category, sent_at)] = None
    return list(found)


def _with_email(
    tables: dict[str, Table], main: Table, path: list[Link], column: str
) -> Select[Any]:
    joined: Any = main
    current = main
    for link in path:
        target = tables[link.target_table]
        joined = joined.join(target, current.c[link.column] == target.c[link.target_column])
        current = target
    return select(current.c[column]).select_from(joined)


def expiring_disclosures(
    data_map: DataMap, systems: Any, category_id: str, now: datetime
) -> Iterator[list[Disclosed]]:
    """Yield, in batches, the disclosures of the rows that the category's sweep expires at `now`,
    each with the address of the person it belongs to (rows without one are left out)."""
    category = data_map.categories[category_id]
    for source in _sources(data_map):
        if source.system != category.system:
            continue
        if category.retention.from_.split(".", 1)[0] != source.table:
            continue
        found = email_path(data_map, source.system, source.table)
        if found is None:
            continue
        path, email_column = found
        zone = data_map.system_zone(source.system)
        # in a transaction (not `systems.connect`, which reads without one where it can): the
        # rows are streamed through a server-side cursor
        with systems.engine(source.system).connect() as conn:
            ctx = sweep_context(conn, data_map, systems, source.system, now, frozenset())
            scope = sweep_scope(ctx, category_id)
            tables = systems.tables(source.system)
            sent = scope.table.c[source.column]
            stmt = (
                _with_email(tables, scope.table, path, email_column)
                .add_columns(sent)
                .where(expired_condition(scope), sent.is_not(None))
            )
            result = conn.execution_options(stream_results=True).execute(stmt)
            for rows in result.partitions(BATCH):
                yield [
                    Disclosed(source.recipient, source.category, as_utc(when, zone), str(email))
                    for email, when in rows
                    if email
                ]
