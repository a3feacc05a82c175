"""Create the store: requests, their events and tasks, the outbox, API tokens.

Revision ID: 24566fef45e4
Revises:
Create Date: 2026-11-25 10:57:57.150489
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "24566fef45e4"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The values as they were when this revision was written: later changes get their own revision.
REQUEST_TYPES = (
    "access",
    "portability",
    "erasure",
    "rectification",
    "restriction",
    "objection",
    "deactivation",
)
STATUSES = (
    "received",
    "verified",
    "in_review",
    "awaiting_requester",
    "approved",
    "processing",
    "completed",
    "denied",
    "failed",
    "expired",
    "cancelled",
)
LANGUAGES = ("fr", "en")
GENESIS = "0" * 64


def utc_datetime() -> sa.types.TypeEngine[Any]:
    """A UTC instant to the microsecond: timestamptz, DATETIME(6), or text on SQLite."""
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def values(name: str, allowed: Sequence[str]) -> sa.Enum:
    """Text limited to `allowed` by a CHECK constraint named ck_<table>_<name>."""
    return sa.Enum(*allowed, name=name, native_enum=False, create_constraint=True, length=32)


def long_text() -> sa.types.TypeEngine[Any]:
    return sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "dsr_api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", utc_datetime(), nullable=False),
        sa.Column("revoked_at", utc_datetime(), nullable=True),
        sa.Column("last_used_at", utc_datetime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dsr_api_token")),
        sa.UniqueConstraint("name", name=op.f("uq_dsr_api_token_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_dsr_api_token_token_hash")),
    )
    head = op.create_table(
        "dsr_audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_sequence", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_dsr_audit_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dsr_audit_head")),
    )
    op.bulk_insert(head, [{"id": 1, "last_sequence": 0, "last_hash": GENESIS}])
    op.create_table(
        "dsr_reference_counter",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_dsr_reference_counter")),
    )
    op.create_table(
        "dsr_request",
        sa.Column("type", values("type", REQUEST_TYPES), nullable=False),
        sa.Column("requester_email", sa.String(length=254), nullable=False),
        sa.Column("language", values("language", LANGUAGES), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("rectification_details", sa.Text(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=20), nullable=False),
        sa.Column("status", values("status", STATUSES), nullable=False),
        sa.Column("normalized_email", sa.String(length=254), nullable=False),
        sa.Column("received_at", utc_datetime(), nullable=False),
        sa.Column("verified_at", utc_datetime(), nullable=True),
        sa.Column("due_at", utc_datetime(), nullable=False),
        sa.Column("paused_since", utc_datetime(), nullable=True),
        sa.Column("paused_total_microseconds", sa.BigInteger(), nullable=False),
        sa.Column("extension_months", sa.Integer(), nullable=False),
        sa.Column("extension_reason", sa.Text(), nullable=True),
        sa.Column("verification_nonce", sa.String(length=64), nullable=True),
        sa.Column("status_token_hash", sa.String(length=64), nullable=True),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("created_via", values("created_via", ("web", "api")), nullable=False),
        sa.Column("api_client_id", sa.Integer(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.CheckConstraint(
            "(created_via = 'api') = (api_client_id IS NOT NULL)",
            name=op.f("ck_dsr_request_api_client_if_api"),
        ),
        sa.CheckConstraint(
            "extension_months BETWEEN 0 AND 2", name=op.f("ck_dsr_request_extension_months")
        ),
        sa.CheckConstraint(
            "paused_total_microseconds >= 0", name=op.f("ck_dsr_request_paused_total")
        ),
        sa.ForeignKeyConstraint(
            ["api_client_id"],
            ["dsr_api_token.id"],
            name=op.f("fk_dsr_request_api_client_id_dsr_api_token"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dsr_request")),
        sa.UniqueConstraint(
            "api_client_id",
            "idempotency_key",
            name=op.f("uq_dsr_request_api_client_id_idempotency_key"),
        ),
        sa.UniqueConstraint("reference", name=op.f("uq_dsr_request_reference")),
        sa.UniqueConstraint("status_token_hash", name=op.f("uq_dsr_request_status_token_hash")),
    )
    op.create_index(op.f("ix_dsr_request_api_client_id"), "dsr_request", ["api_client_id"])
    op.create_index(op.f("ix_dsr_request_due_at"), "dsr_request", ["due_at"])
    op.create_index(op.f("ix_dsr_request_normalized_email"), "dsr_request", ["normalized_email"])

    op.create_table(
        "dsr_outbox_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("dedup_key", sa.String(length=200), nullable=True),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("to_address", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("text_body", long_text(), nullable=False),
        sa.Column("html_body", long_text(), nullable=True),
        sa.Column("language", values("language", LANGUAGES), nullable=False),
        sa.Column("status", values("status", ("pending", "sent", "failed")), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", utc_datetime(), nullable=False),
        sa.Column("claimed_until", utc_datetime(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", utc_datetime(), nullable=False),
        sa.Column("sent_at", utc_datetime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["dsr_request.id"],
            name=op.f("fk_dsr_outbox_message_request_id_dsr_request"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dsr_outbox_message")),
        sa.UniqueConstraint("dedup_key", name=op.f("uq_dsr_outbox_message_dedup_key")),
        sa.UniqueConstraint("message_id", name=op.f("uq_dsr_outbox_message_message_id")),
    )
    op.create_index(
        "ix_dsr_outbox_message_due", "dsr_outbox_message", ["status", "next_attempt_at"]
    )
    op.create_index(op.f("ix_dsr_outbox_message_request_id"), "dsr_outbox_message", ["request_id"])

    op.create_table(
        "dsr_request_event",
        sa.Column("sequence", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column(
            "actor_kind", values("actor_kind", ("staff", "requester", "system")), nullable=False
        ),
        sa.Column("actor_label", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("from_status", values("from_status", STATUSES), nullable=True),
        sa.Column("to_status", values("to_status", STATUSES), nullable=True),
        sa.Column("at", utc_datetime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("previous_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["dsr_request.id"],
            name=op.f("fk_dsr_request_event_request_id_dsr_request"),
        ),
        sa.PrimaryKeyConstraint("sequence", name=op.f("pk_dsr_request_event")),
        sa.UniqueConstraint("hash", name=op.f("uq_dsr_request_event_hash")),
    )
    op.create_index(op.f("ix_dsr_request_event_at"), "dsr_request_event", ["at"])
    op.create_index(op.f("ix_dsr_request_event_request_id"), "dsr_request_event", ["request_id"])

    op.create_table(
        "dsr_task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("kind", values("kind", ("notify_recipient", "manual_check")), nullable=False),
        sa.Column("status", values("status", ("open", "done", "cancelled")), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("details", sa.Text(), nullable=True),
        sa.Column("recipient", sa.String(length=200), nullable=True),
        sa.Column("category", sa.String(length=100), nullable=True),
        sa.Column("created_at", utc_datetime(), nullable=False),
        sa.Column("due_at", utc_datetime(), nullable=True),
        sa.Column("done_at", utc_datetime(), nullable=True),
        sa.Column("done_by", sa.String(length=200), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"], ["dsr_request.id"], name=op.f("fk_dsr_task_request_id_dsr_request")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dsr_task")),
    )
    op.create_index(op.f("ix_dsr_task_request_id"), "dsr_task", ["request_id"])


def downgrade() -> None:
    for table in (
        "dsr_task",
        "dsr_request_event",
        "dsr_outbox_message",
        "dsr_request",
        "dsr_reference_counter",
        "dsr_audit_head",
        "dsr_api_token",
    ):
        op.drop_table(table)
