"""Record requests received by email, letter, phone or in person (R44): the new channels of
`created_via`, how the answer must go (`answer_channel`: email or post, every request filed so
far answered by email), and the requester's postal address or phone number.

Revision ID: a9d3e61f4c07
Revises: c4d2e8a1f05b
Create Date: 2026-12-06 01:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a9d3e61f4c07"
down_revision: str | Sequence[str] | None = "c4d2e8a1f05b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_CHANNELS = ("web", "api")
NEW_CHANNELS = (*OLD_CHANNELS, "email", "letter", "phone", "in_person")
ANSWER_CHANNELS = ("email", "post")


def values(name: str, allowed: Sequence[str]) -> sa.Enum:
    """Text limited to `allowed` by a CHECK constraint named ck_<table>_<name>."""
    return sa.Enum(*allowed, name=name, native_enum=False, create_constraint=True, length=32)


def _channels(allowed: Sequence[str]) -> None:
    """Let `created_via` hold exactly `allowed` (its CHECK constraint is replaced; the one that
    ties an API client to the API channel stays as it is)."""
    with op.batch_alter_table("dsr_request") as batch:
        batch.drop_constraint(op.f("ck_dsr_request_created_via"), type_="check")
    with op.batch_alter_table("dsr_request") as batch:
        batch.alter_column(
            "created_via",
            existing_type=sa.String(length=32),
            type_=values("created_via", allowed),
            existing_nullable=False,
        )


def upgrade() -> None:
    _channels(NEW_CHANNELS)
    with op.batch_alter_table("dsr_request") as batch:
        batch.add_column(
            sa.Column(
                "answer_channel",
                values("answer_channel", ANSWER_CHANNELS),
                nullable=False,
                server_default="email",
            )
        )
        batch.add_column(sa.Column("contact_details", sa.Text(), nullable=True))


def downgrade() -> None:
    others = op.get_bind().execute(
        sa.text("SELECT COUNT(*) FROM dsr_request WHERE created_via NOT IN ('web', 'api')")
    )
    if others.scalar_one():
        raise RuntimeError(
            "Some requests were received by email, letter, phone or in person: the previous "
            "revision cannot record them. Delete them before downgrading."
        )
    with op.batch_alter_table("dsr_request") as batch:
        batch.drop_constraint(op.f("ck_dsr_request_answer_channel"), type_="check")
    with op.batch_alter_table("dsr_request") as batch:
        batch.drop_column("contact_details")
        batch.drop_column("answer_channel")
    _channels(OLD_CHANNELS)
