"""Requests made for someone else (R45: a representative, a parent), the check of their proof,
the other identities of a request's subject, and a document removed because its request closed
(an identity document never checked, R46).

Revision ID: e5a7c3d91b62
Revises: c4d19a7e5b22
Create Date: 2026-12-06 02:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "e5a7c3d91b62"
down_revision: str | Sequence[str] | None = "c4d19a7e5b22"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES = ("self", "representative", "parental_authority")
CHECKS = ("accepted", "refused")
OLD_CAUSES = ("checked", "staff", "minimised")
NEW_CAUSES = (*OLD_CAUSES, "closed")


def _causes(allowed: Sequence[str]) -> None:
    """Let dsr_request_document.removal_cause hold exactly `allowed` (its CHECK is replaced)."""
    with op.batch_alter_table("dsr_request_document") as batch:
        batch.drop_constraint(op.f("ck_dsr_request_document_removal_cause"), type_="check")
    with op.batch_alter_table("dsr_request_document") as batch:
        batch.alter_column(
            "removal_cause",
            existing_type=sa.String(length=32),
            type_=sa.Enum(
                *allowed,
                name="removal_cause",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            existing_nullable=True,
        )


def utc_datetime() -> sa.types.TypeEngine[Any]:
    """A UTC instant to the microsecond: timestamptz, DATETIME(6), or text on SQLite."""
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    _causes(NEW_CAUSES)
    with op.batch_alter_table("dsr_request") as batch:
        batch.add_column(
            sa.Column(
                "requester_role",
                sa.Enum(
                    *ROLES,
                    name="requester_role",
                    native_enum=False,
                    create_constraint=True,
                    length=32,
                ),
                nullable=False,
                server_default="self",
            )
        )
        batch.add_column(sa.Column("subject_email", sa.String(length=254), nullable=True))
        batch.add_column(sa.Column("subject_name", sa.String(length=200), nullable=True))
        batch.add_column(
            sa.Column(
                "proof_check",
                sa.Enum(
                    *CHECKS,
                    name="proof_check",
                    native_enum=False,
                    create_constraint=True,
                    length=32,
                ),
                nullable=True,
            )
        )
        batch.add_column(sa.Column("proof_checked_at", utc_datetime(), nullable=True))
    op.create_table(
        "dsr_request_identity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("identity", sa.String(length=100), nullable=False),
        sa.Column("value", sa.String(length=254), nullable=False),
        sa.Column("proof", sa.Text(), nullable=False),
        sa.Column("added_at", utc_datetime(), nullable=False),
        sa.Column("added_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["dsr_request.id"],
            name=op.f("fk_dsr_request_identity_request_id_dsr_request"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dsr_request_identity")),
    )
    op.create_index(
        op.f("ix_dsr_request_identity_request_id"),
        "dsr_request_identity",
        ["request_id"],
        unique=False,
    )


def downgrade() -> None:
    # The previous revision has no such cause: a document removed at closing reads as minimised.
    op.execute(
        sa.text(
            "UPDATE dsr_request_document SET removal_cause = 'minimised' "
            "WHERE removal_cause = 'closed'"
        )
    )
    _causes(OLD_CAUSES)
    op.drop_table("dsr_request_identity")
    with op.batch_alter_table("dsr_request") as batch:  # SQLite: the checks before their columns
        batch.drop_constraint(op.f("ck_dsr_request_proof_check"), type_="check")
        batch.drop_constraint(op.f("ck_dsr_request_requester_role"), type_="check")
    with op.batch_alter_table("dsr_request") as batch:
        batch.drop_column("proof_checked_at")
        batch.drop_column("proof_check")
        batch.drop_column("subject_name")
        batch.drop_column("subject_email")
        batch.drop_column("requester_role")
