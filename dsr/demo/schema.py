"""The demo learner platform's schema, separate from the tool's own store.

It mirrors what POINT3's privacy policy says is collected, with the shapes that make a data map
interesting: multi-hop references (invoice line -> invoice -> learner), a thread shared by two
learners, anonymous tracking, prospects without an account and a table the map does not cover
(the course catalogue, which holds no personal data).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect

metadata = MetaData()

# MariaDB and MySQL compare strings case-insensitively by default, so a unique email column would
# refuse two accounts whose addresses differ only by case; a binary collation keeps them apart,
# as PostgreSQL and SQLite do.
Email = String(254).with_variant(mysql.VARCHAR(254, collation="utf8mb4_bin"), "mysql", "mariadb")

course = Table(
    "course",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(20), nullable=False, unique=True),
    Column("title", String(200), nullable=False),
    Column("language", String(20), nullable=False),
    Column("price_cents", Integer, nullable=False),
)

learner = Table(
    "learner",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", Email, nullable=False, unique=True),
    Column("username", String(80), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=True),
    Column("first_name", String(100), nullable=True),
    Column("last_name", String(100), nullable=True),
    Column("phone", String(30), nullable=True, index=True),
    Column("street", String(200), nullable=True),
    Column("postal_code", String(20), nullable=True),
    Column("city", String(100), nullable=True),
    Column("country", String(2), nullable=True),
    Column("preferred_language", String(5), nullable=False, server_default="fr"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_login_at", DateTime(timezone=True), nullable=True),
    Column("login_enabled", Boolean, nullable=False, server_default="1"),
    Column("deactivated_at", DateTime(timezone=True), nullable=True),
    Column("restricted", Boolean, nullable=False, server_default="0"),
)

learner_profile = Table(
    "learner_profile",
    metadata,
    Column("learner_id", Integer, ForeignKey("learner.id"), primary_key=True),
    Column("language_level", String(2), nullable=True),
    Column("learning_style", String(50), nullable=True),
    Column("goals", Text, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

payment_card = Table(
    "payment_card",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("learner_id", Integer, ForeignKey("learner.id"), nullable=False, index=True),
    Column("psp_token", String(64), nullable=False, unique=True),
    Column("last4", String(4), nullable=False),
    Column("brand", String(20), nullable=False),
    Column("expiry_month", Integer, nullable=False),
    Column("expiry_year", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

invoice = Table(
    "invoice",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("learner_id", Integer, ForeignKey("learner.id"), nullable=False, index=True),
    Column("number", String(30), nullable=False, unique=True),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("billing_name", String(200), nullable=False),
    Column("billing_street", String(200), nullable=True),
    Column("billing_postal_code", String(20), nullable=True),
    Column("billing_city", String(100), nullable=True),
    Column("billing_country", String(2), nullable=True),
    Column("total_cents", Integer, nullable=False),
    Column("currency", String(3), nullable=False),
    # Set when the invoice is only kept for the law (an erased learner's): out of everyday use.
    Column("restricted", Boolean, nullable=False, server_default="0"),
)

invoice_line = Table(
    "invoice_line",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("invoice_id", Integer, ForeignKey("invoice.id"), nullable=False, index=True),
    Column("course_id", Integer, ForeignKey("course.id"), nullable=False),
    Column("description", String(200), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("unit_price_cents", Integer, nullable=False),
)

course_purchase = Table(
    "course_purchase",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("learner_id", Integer, ForeignKey("learner.id"), nullable=False, index=True),
    Column("course_id", Integer, ForeignKey("course.id"), nullable=False),
    Column("invoice_id", Integer, ForeignKey("invoice.id"), nullable=True),
    Column("purchased_at", DateTime(timezone=True), nullable=False),
    Column("progress_percent", Integer, nullable=False, server_default="0"),
)

course_interest = Table(
    "course_interest",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("learner_id", Integer, ForeignKey("learner.id"), nullable=False, index=True),
    Column("course_id", Integer, ForeignKey("course.id"), nullable=False),
    Column("noted_at", DateTime(timezone=True), nullable=False),
)

course_comment = Table(
    "course_comment",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("learner_id", Integer, ForeignKey("learner.id"), nullable=False, index=True),
    Column("course_id", Integer, ForeignKey("course.id"), nullable=False),
    Column("body", Text, nullable=False),
    Column("posted_at", DateTime(timezone=True), nullable=False),
)

quiz_answer = Table(
    "quiz_answer",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("learner_id", Integer, ForeignKey("learner.id"), nullable=False, index=True),
    Column("course_id", Integer, ForeignKey("course.id"), nullable=False),
    Column("question", String(300), nullable=False),
    Column("answer", Text, nullable=False),
    Column("score", Integer, nullable=True),
    Column("answered_at", DateTime(timezone=True), nullable=False),
)

survey_response = Table(
    "survey_response",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("learner_id", Integer, ForeignKey("learner.id"), nullable=False, index=True),
    Column("survey", String(100), nullable=False),
    Column("rating", Integer, nullable=True),
    Column("comment", Text, nullable=True),
    Column("submitted_at", DateTime(timezone=True), nullable=False),
)

support_thread = Table(
    "support_thread",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("topic", String(200), nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True), nullable=True),
)

support_participant = Table(
    "support_participant",
    metadata,
    Column("thread_id", Integer, ForeignKey("support_thread.id"), primary_key=True),
    Column("learner_id", Integer, ForeignKey("learner.id"), primary_key=True, index=True),
    Column("joined_at", DateTime(timezone=True), nullable=False),
)

support_message = Table(
    "support_message",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("thread_id", Integer, ForeignKey("support_thread.id"), nullable=False, index=True),
    # NULL when the message was written by POINT3's staff.
    Column("author_learner_id", Integer, ForeignKey("learner.id"), nullable=True, index=True),
    Column("body", Text, nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=False),
)

exam_registration = Table(
    "exam_registration",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("learner_id", Integer, ForeignKey("learner.id"), nullable=False, index=True),
    Column("exam", String(100), nullable=False),
    Column("session_date", Date, nullable=False),
    Column("birth_date", Date, nullable=False),
    Column("id_document_type", String(20), nullable=False),
    Column("id_document_number", String(40), nullable=False),
    Column("registered_at", DateTime(timezone=True), nullable=False),
    Column("sent_to_cci_at", DateTime(timezone=True), nullable=True),
)

prospect = Table(
    "prospect",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", Email, nullable=False, index=True),
    Column("first_name", String(100), nullable=True),
    Column("last_name", String(100), nullable=True),
    Column("phone", String(30), nullable=True, index=True),
    Column("source", String(50), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_contact_at", DateTime(timezone=True), nullable=False),
)

marketing_subscription = Table(
    "marketing_subscription",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", Email, nullable=False, index=True),
    Column("learner_id", Integer, ForeignKey("learner.id"), nullable=True, index=True),
    Column("prospect_id", Integer, ForeignKey("prospect.id"), nullable=True, index=True),
    Column("list_name", String(50), nullable=False),
    Column("opted_in", Boolean, nullable=False),
    Column("consent_at", DateTime(timezone=True), nullable=True),
    Column("unsubscribed_at", DateTime(timezone=True), nullable=True),
)

email_open = Table(
    "email_open",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "subscription_id",
        Integer,
        ForeignKey("marketing_subscription.id"),
        nullable=False,
        index=True,
    ),
    Column("campaign", String(100), nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("device", String(100), nullable=True),
)

tracking_event = Table(
    "tracking_event",
    metadata,
    Column("id", Integer, primary_key=True),
    # NULL for an anonymous visitor who never logged in.
    Column("learner_id", Integer, ForeignKey("learner.id"), nullable=True, index=True),
    Column("cookie_id", String(36), nullable=False, index=True),
    Column("occurred_at", DateTime(timezone=True), nullable=False, index=True),
    Column("page_url", String(500), nullable=False),
    Column("referrer_url", String(500), nullable=True),
    Column("search_terms", String(200), nullable=True),
    Column("duration_seconds", Integer, nullable=True),
    Column("device", String(100), nullable=True),
)


def _supports_functional_index(*_args: Any, dialect: Dialect, **_kw: Any) -> bool:
    """MariaDB has no index on an expression; it scans for lower(email) instead."""
    return dialect.name in ("postgresql", "sqlite")


# Emails are compared case-insensitively by the locator (lower(email) = :value).
Index("ix_learner_email_lower", func.lower(learner.c.email)).ddl_if(
    callable_=_supports_functional_index
)
Index("ix_prospect_email_lower", func.lower(prospect.c.email)).ddl_if(
    callable_=_supports_functional_index
)
Index("ix_marketing_subscription_email_lower", func.lower(marketing_subscription.c.email)).ddl_if(
    callable_=_supports_functional_index
)


# --- rows of two people, people named in others' rows (issue 20) ---

learner_referral = Table(
    "learner_referral",
    metadata,
    Column("id", Integer, primary_key=True),
    # Each side is NULL once that learner's data was erased: the row stays for the other one.
    Column("referrer_id", Integer, ForeignKey("learner.id"), nullable=True, index=True),
    Column("referee_id", Integer, ForeignKey("learner.id"), nullable=True, index=True),
    Column("invited_at", DateTime(timezone=True), nullable=False),
    Column("referrer_message", Text, nullable=True),
    Column("referrer_reward_cents", Integer, nullable=True),
    Column("referee_signed_up_at", DateTime(timezone=True), nullable=True),
    Column("referee_discount_cents", Integer, nullable=True),
)

course_gift = Table(
    "course_gift",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("buyer_learner_id", Integer, ForeignKey("learner.id"), nullable=False, index=True),
    Column("course_id", Integer, ForeignKey("course.id"), nullable=False),
    # The person offered the course, who may have no account: found by this address.
    Column("recipient_email", Email, nullable=False, index=True),
    Column("recipient_name", String(100), nullable=True),
    Column("gift_message", Text, nullable=True),
    Column("offered_at", DateTime(timezone=True), nullable=False),
    Column("redeemed_at", DateTime(timezone=True), nullable=True),
)

Index("ix_course_gift_recipient_email_lower", func.lower(course_gift.c.recipient_email)).ddl_if(
    callable_=_supports_functional_index
)
