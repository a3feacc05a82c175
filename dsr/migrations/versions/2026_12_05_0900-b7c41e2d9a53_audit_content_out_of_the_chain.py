"""The personal content of audit events (reasons, notes, questions, old and new values) moves out
of the chained rows into `dsr_request_event_content`, with a random salt per event; the chained
row keeps the non-personal `facts` and the salted digest of the content. The existing chain is
re-sealed in this format (every hash recomputed, the head moved): the store is pre-release, so no
chain sealed in the old format was handed to anyone to keep. The data move and re-seal run in
the migration's transaction (on MariaDB, whose schema changes commit by themselves, between
them). Downgrading re-seals the chain in the old format, without the contents already removed.

Revision ID: b7c41e2d9a53
Revises: 5c1f0e7a2b93
Create Date: 2026-12-05 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from dsr.audit.chain import (
    GENESIS,
    ChainAnchor,
    append_event,
    canonical_fields,
    chain_hash,
    content_digest,
    content_hash,
    new_salt,
    split_details,
)
from dsr.db import UTCDateTime

revision: str = "b7c41e2d9a53"
down_revision: str | Sequence[str] | None = "5c1f0e7a2b93"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHAINED = ("request_id", "actor_kind", "actor_label", "action", "from_status", "to_status", "at")
BATCH = 1000


def _events(columns: Sequence[str]) -> sa.TableClause:
    return sa.table(
        "dsr_request_event",
        sa.column("sequence", sa.BigInteger()),
        sa.column("at", UTCDateTime()),
        *(sa.column(name) for name in CHAINED if name != "at"),
        *(sa.column(name, sa.JSON()) for name in columns if name in ("details", "facts")),
        *(sa.column(name) for name in columns if name not in ("details", "facts")),
        sa.column("content_hash"),
        sa.column("previous_hash"),
        sa.column("hash"),
    )


CONTENTS = sa.table(
    "dsr_request_event_content",
    sa.column("sequence", sa.BigInteger()),
    sa.column("salt"),
    sa.column("reason"),
    sa.column("details", sa.JSON()),
)
HEAD = sa.table(
    "dsr_audit_head", sa.column("id"), sa.column("last_sequence"), sa.column("last_hash")
)


Fields = Callable[[dict[str, Any]], dict[str, object]]
Seal = Callable[[dict[str, Any]], tuple[dict[str, object], dict[str, Any]]]


def _reseal(columns: Sequence[str], sealed_as: Fields, seal: Seal) -> None:
    """Re-seal every event in sequence order, once its hashes in the format it leaves
    (`sealed_as` gives its fields) are found intact: a re-seal must not launder an edit.
    `seal` returns an event's chained fields in the new format and the values to store."""
    connection = op.get_bind()
    events = _events(columns)
    head = old = ChainAnchor(0, GENESIS)
    last = 0
    while True:
        rows = (
            connection.execute(
                sa.select(events)
                .where(events.c.sequence > last)
                .order_by(events.c.sequence)
                .limit(BATCH)
            )
            .mappings()
            .all()
        )
        if not rows:
            break
        for mapping in rows:
            row = dict(mapping)
            chained = {name: row[name] for name in CHAINED}
            _check_intact(row, {**chained, **sealed_as(row)}, after=old)
            old = ChainAnchor(row["sequence"], row["hash"])
            fields, values = seal(row)
            sealed = append_event(
                ChainAnchor(row["sequence"] - 1, head.hash), {**chained, **fields}
            )
            connection.execute(
                sa.update(events)
                .where(events.c.sequence == row["sequence"])
                .values(
                    **values,
                    content_hash=sealed.content_hash,
                    previous_hash=sealed.previous_hash,
                    hash=sealed.hash,
                )
            )
            head, last = sealed.anchor, row["sequence"]
    recorded = connection.execute(sa.select(HEAD.c.last_sequence, HEAD.c.last_hash)).one()
    if (recorded.last_sequence, recorded.last_hash) != (old.sequence, old.hash):
        raise RuntimeError(_NOT_INTACT.format(sequence=old.sequence + 1))
    connection.execute(
        sa.update(HEAD)
        .where(HEAD.c.id == 1)
        .values(last_sequence=head.sequence, last_hash=head.hash)
    )


_NOT_INTACT = (
    "The audit log is not intact at event #{sequence}: migrating would re-seal it as it is now. "
    "Run `dsr audit verify` with the version installed before, and keep a copy of the database."
)


def _check_intact(row: dict[str, Any], fields: dict[str, object], *, after: ChainAnchor) -> None:
    intact = (
        row["sequence"] == after.sequence + 1
        and row["previous_hash"] == after.hash
        and content_hash(fields) == row["content_hash"]
        and chain_hash(row["previous_hash"], row["content_hash"]) == row["hash"]
    )
    if not intact:
        raise RuntimeError(_NOT_INTACT.format(sequence=after.sequence + 1))


def _old_fields(row: dict[str, Any]) -> dict[str, object]:
    return {"reason": row["reason"], "details": row["details"]}


def _new_fields(row: dict[str, Any]) -> dict[str, object]:
    return {"details": row["facts"], "content": row["content_digest"]}


def upgrade() -> None:
    op.create_table(
        "dsr_request_event_content",
        sa.Column("sequence", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("salt", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("sequence", name=op.f("pk_dsr_request_event_content")),
    )  # its foreign key comes last: SQLite copies dsr_request_event, which a key would forbid
    with op.batch_alter_table("dsr_request_event") as batch:
        batch.add_column(sa.Column("facts", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("content_digest", sa.String(length=64), nullable=True))
    connection = op.get_bind()

    def seal(row: dict[str, Any]) -> tuple[dict[str, object], dict[str, Any]]:
        facts, personal = split_details(canonical_fields(row["details"] or {}))
        digest = None
        if row["reason"] is not None or personal:
            salt = new_salt()
            content = {"reason": row["reason"], "details": personal}
            digest = content_digest(salt, content)
            connection.execute(
                sa.insert(CONTENTS).values(sequence=row["sequence"], salt=salt, **content)
            )
        return {"details": facts, "content": digest}, {"facts": facts, "content_digest": digest}

    _reseal(("reason", "details", "facts", "content_digest"), _old_fields, seal)
    with op.batch_alter_table("dsr_request_event") as batch:
        batch.alter_column("facts", existing_type=sa.JSON(), nullable=False)
        batch.drop_column("reason")
        batch.drop_column("details")
    with op.batch_alter_table("dsr_request_event_content") as batch:
        batch.create_foreign_key(
            op.f("fk_dsr_request_event_content_sequence_dsr_request_event"),
            "dsr_request_event",
            ["sequence"],
            ["sequence"],
        )


def downgrade() -> None:
    with op.batch_alter_table("dsr_request_event") as batch:
        batch.add_column(sa.Column("reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("details", sa.JSON(), nullable=True))
    connection = op.get_bind()
    contents = {row.sequence: row for row in connection.execute(sa.select(CONTENTS)).all()}

    def seal(row: dict[str, Any]) -> tuple[dict[str, object], dict[str, Any]]:
        content = contents.get(row["sequence"])
        reason = content.reason if content is not None else None
        details = {**(row["facts"] or {}), **(content.details if content is not None else {})}
        return {"reason": reason, "details": details}, {"reason": reason, "details": details}

    _reseal(("reason", "details", "facts", "content_digest"), _new_fields, seal)
    op.drop_table("dsr_request_event_content")
    with op.batch_alter_table("dsr_request_event") as batch:
        batch.alter_column("details", existing_type=sa.JSON(), nullable=False)
        batch.drop_column("facts")
        batch.drop_column("content_digest")
