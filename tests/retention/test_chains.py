"""Chains of expired rows on a real schema (SQLite and PostgreSQL): a prospect, its subscriptions
and the openings of their emails are three categories with their own periods, listed parents
first. Expired referring rows go first, in the same run, so that their expired parents go too; a
subscription with no date of its own belongs to its prospect and runs from the prospect's start
(its fallback), so it goes with an expired prospect; what truly blocks (a row whose own period
still runs) is reported with its table and column."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    select,
)

from dsr.languages import Language
from dsr.retention.cli import show_plan
from inventory.loader import parse_data_map
from inventory.retention import Blocked, plan_retention, sweep_category
from inventory.systems import Systems

pytestmark = pytest.mark.databases("sqlite", "postgresql")

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=365 * 4 + 180)  # 4.5 years ago: past every period below
RECENT = NOW - timedelta(days=30)

metadata = MetaData()
prospect = Table(
    "prospect",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(254), nullable=False),
    Column("last_contact_at", DateTime(timezone=True), nullable=False),
)
subscription = Table(
    "subscription",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("prospect_id", Integer, ForeignKey("prospect.id"), nullable=True),
    Column("consent_at", DateTime(timezone=True), nullable=True),
    Column("unsubscribed_at", DateTime(timezone=True), nullable=True),
)
email_open = Table(
    "email_open",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("subscription_id", Integer, ForeignKey("subscription.id"), nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
)


def _category(title: str, column: str, period: str, start: str, more: str = "") -> str:
    return f"""
  {title}:
    title: {{fr: {title}, en: {title}}}
    description: {{fr: {title}, en: {title}}}
    system: shop
    fields:
      - {{column: {column}, label: {{fr: Date, en: Date}}}}
    purposes: [{{fr: Prospecter, en: Prospecting}}]
    legal_basis: legitimate_interests
    retention:
      period: {period}
      from: {start}{more}
      source: {{fr: CNIL, en: CNIL}}
    source: {{fr: Vous, en: You}}
    provenance: provided
    erasure: {{action: delete}}"""


MAP = (
    """version: 1
organisation:
  name: Shop
  address: 1 rue de la Paix, 75002 Paris
  controller: {name: Shop SAS, email: contact@shop.example}
  dpo: {name: DPO, email: dpo@shop.example}
  supervisory_authority: {name: CNIL, email: plaintes@cnil.example, address: Paris}
  automated_decisions: {fr: Aucune, en: None}
  transfers_outside_eu: {fr: Aucun, en: None}
  data_subjects: [{fr: Prospects, en: Prospects}]
systems:
  shop:
    title: Shop database
    url: {env: SHOP_DB_URL, default: "sqlite:///shop.sqlite3"}
    tables:
      prospect:
        primary_key: id
      subscription:
        primary_key: id
        links:
          - {column: prospect_id, to: prospect.id}
      email_open:
        primary_key: id
        links:
          - {column: subscription_id, to: subscription.id}
identities:
  email:
    kind: email
    label: {fr: Adresse, en: Address}
    locations:
      shop:
        - {column: prospect.email}
categories:"""
    + _category("prospects", "prospect.last_contact_at", "P3Y", "prospect.last_contact_at")
    + _category(
        "marketing",
        "subscription.consent_at",
        "P3Y",
        "subscription.consent_at",
        "\n      fallback: [subscription.unsubscribed_at, prospect.last_contact_at]",
    )
    + _category("engagement", "email_open.opened_at", "P13M", "email_open.opened_at")
    + """
activities:
  prospecting:
    name: {fr: Prospection, en: Prospecting}
    purposes: [{fr: Prospecter, en: Prospecting}]
    data_subjects: [{fr: Prospects, en: Prospects}]
    categories: [prospects, marketing, engagement]
"""
)


def _rows(url: str) -> dict[str, set[int]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                t.name: set(conn.execute(select(t.c.id)).scalars())
                for t in (prospect, subscription, email_open)
            }
    finally:
        engine.dispose()


def test_expired_referrers_go_first_and_what_blocks_is_reported(
    engine_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = create_engine(engine_url)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            prospect.insert(),
            [
                {"id": n, "email": f"p{n}@example.org", "last_contact_at": OLD}
                for n in (1, 2, 3, 4, 5)
            ],
        )
        conn.execute(
            subscription.insert(),
            [
                # 1: expired, with an expired opening: the whole chain goes
                {"id": 11, "prospect_id": 1, "consent_at": OLD, "unsubscribed_at": None},
                # 2: no consent date, unsubscribed long ago: expired through its fallback
                {"id": 21, "prospect_id": 2, "consent_at": None, "unsubscribed_at": OLD},
                # 3: consent renewed a month ago: its own period runs, it keeps its prospect
                {"id": 31, "prospect_id": 3, "consent_at": RECENT, "unsubscribed_at": None},
                # 4: expired, but an email of it was opened a month ago
                {"id": 41, "prospect_id": 4, "consent_at": OLD, "unsubscribed_at": OLD},
                # 5: no date at all: it runs from its prospect's last contact, and goes with it
                {"id": 51, "prospect_id": 5, "consent_at": None, "unsubscribed_at": None},
            ],
        )
        conn.execute(
            email_open.insert(),
            [
                {"id": 111, "subscription_id": 11, "opened_at": OLD},
                {"id": 411, "subscription_id": 41, "opened_at": RECENT},
            ],
        )
    engine.dispose()
    data_map = parse_data_map(MAP)

    with Systems(data_map, {"SHOP_DB_URL": engine_url}).opened() as systems:
        plan = plan_retention(data_map, systems, NOW)
        assert [s.category for s in plan.sweeps] == ["engagement", "marketing", "prospects"]
        sweeps = {s.category: s for s in plan.sweeps}
        assert sweeps["engagement"].rows == 1
        assert sweeps["marketing"].rows == 3 and sweeps["marketing"].referenced == 1
        assert sweeps["marketing"].no_date == 0
        assert sweeps["marketing"].blocked == (Blocked("email_open", "subscription_id", 1),)
        assert sweeps["prospects"].rows == 3 and sweeps["prospects"].referenced == 2
        assert sweeps["prospects"].blocked == (Blocked("subscription", "prospect_id", 2),)

        show_plan(plan, Language.EN)
        shown = capsys.readouterr().out
        assert "prospects (P3Y from prospect.last_contact_at, before 2023-12-01)" in shown
        assert "expired but still referenced by kept rows: 2 kept" in shown
        assert (
            "2 of them kept by rows of subscription (prospect_id) that no sweep takes now" in shown
        )
        assert "else prospect.last_contact_at" in shown

        done = {
            s.category: sweep_category(
                data_map, systems, s.category, NOW, secret_key=b"k", batch_size=1
            ).rows
            for s in plan.sweeps
        }

    assert done == {s.category: s.rows for s in plan.sweeps}
    assert _rows(engine_url) == {
        "prospect": {3, 4},
        "subscription": {31, 41},
        "email_open": {411},
    }
