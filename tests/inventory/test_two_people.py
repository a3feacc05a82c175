"""Rows of two people and people named in other people's rows (issue 20), on the three engines.

A referral belongs to its referrer and its referee (the map's `sides`): each one's copy shows
their side and the other's redacted; erasing one anonymises their side only and keeps the row for
the other; erasing both removes it. A gift names its recipient by email (`identifies: email`):
the recipient's erasure replaces that address in the buyer's row, which stays, and the recipient
is then found nowhere.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, insert, select

from dsr.demo import schema as demo_schema
from dsr.demo.seed import seed_platform
from exports.access_report import ReportRequest, render_access_report
from exports.data_export import write_data_export
from inventory.collection import REDACTED, Collection, collect_subject
from inventory.erasure import execute_erasure, plan_erasure, verify_erased
from inventory.loader import load_data_map
from inventory.locator import locate_subject
from inventory.model import DataMap, ErasureAction
from inventory.systems import Systems
from tests.exports.conftest import pdf_text, translations_for

ROOT = Path(__file__).parents[2]
SECRET = b"test-secret-key"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
REFERRAL, GIFT_TO_FRIEND, GIFT_TO_LEARNER = 9001, 9001, 9002
FRIEND = "Gift.Friend@Example.net"
INVITATION = "Rejoins-moi sur POINT3, le cours de TEF est excellent !"
GIFT_MESSAGE = "Bon courage pour ton examen, Camille !"
REDACTED_WORDS = "[redacted: another person's data]"


@pytest.fixture(scope="module")
def point3_map() -> DataMap:
    return load_data_map(ROOT / "data_map.yaml")


@pytest.fixture
def people(engine_url: str) -> dict[str, str]:
    """Seed the platform, then add a referral (learner 2 invited learner 3) and two gifts of
    learner 4: to a friend without an account, and to learner 2; return their emails."""
    seed_platform(engine_url, learners=30)
    engine = create_engine(engine_url)
    try:
        with engine.begin() as conn:
            learner = demo_schema.learner
            emails = dict(
                conn.execute(select(learner.c.id, learner.c.email).where(learner.c.id < 5)).all()
            )
            conn.execute(
                insert(demo_schema.learner_referral).values(
                    id=REFERRAL,
                    referrer_id=2,
                    referee_id=3,
                    invited_at=datetime(2026, 3, 1, 9, tzinfo=UTC),
                    referrer_message=INVITATION,
                    referrer_reward_cents=2345,
                    referee_signed_up_at=datetime(2026, 3, 2, 9, tzinfo=UTC),
                    referee_discount_cents=1234,
                )
            )
            for gift_id, recipient in ((GIFT_TO_FRIEND, FRIEND), (GIFT_TO_LEARNER, emails[2])):
                conn.execute(
                    insert(demo_schema.course_gift).values(
                        id=gift_id,
                        buyer_learner_id=4,
                        course_id=1,
                        recipient_email=recipient,
                        recipient_name="Camille Petit",
                        gift_message=GIFT_MESSAGE,
                        offered_at=datetime(2026, 4, 1, 9, tzinfo=UTC),
                    )
                )
    finally:
        engine.dispose()
    return {"referrer": emails[2], "referee": emails[3], "buyer": emails[4], "url": engine_url}


@pytest.fixture
def systems(point3_map: DataMap, people: dict[str, str]) -> Iterator[Systems]:
    with Systems(point3_map, {"POINT3_PLATFORM_URL": people["url"]}).opened() as opened:
        yield opened


def referral_row(url: str) -> dict[str, Any] | None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            table = demo_schema.learner_referral
            row = conn.execute(select(table).where(table.c.id == REFERRAL)).one_or_none()
            return None if row is None else dict(row._mapping)
    finally:
        engine.dispose()


def gift_rows(url: str) -> dict[int, dict[str, Any]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            table = demo_schema.course_gift
            rows = conn.execute(select(table).where(table.c.id >= GIFT_TO_FRIEND)).all()
            return {row.id: dict(row._mapping) for row in rows}
    finally:
        engine.dispose()


def erase(data_map: DataMap, systems: Systems, email: str) -> None:
    location = locate_subject(data_map, systems, "email", email)
    [outcome] = execute_erasure(data_map, systems, location, secret_key=SECRET, now=NOW)
    assert outcome.status == "done", outcome.error
    assert verify_erased(data_map, systems, "email", email) == []


def collected(data_map: DataMap, systems: Systems, email: str, folder: Path) -> Collection:
    location = locate_subject(data_map, systems, "email", email)
    return collect_subject(data_map, systems, location, folder)


def report_text(data_map: DataMap, collection: Collection, email: str) -> str:
    out = io.BytesIO()
    render_access_report(
        data_map=data_map,
        collection=collection,
        request=ReportRequest("DSR-TEST", NOW, NOW, email, "en"),
        translations=translations_for("en"),
        out=out,
    )
    return " ".join(pdf_text(out.getvalue()).split())


def test_each_side_of_a_referral_sees_its_own_columns_and_the_other_redacted(
    point3_map: DataMap, systems: Systems, people: dict[str, str], tmp_path: Path
) -> None:
    referrer = collected(point3_map, systems, people["referrer"], tmp_path / "referrer")
    referee = collected(point3_map, systems, people["referee"], tmp_path / "referee")
    [mine] = [r for r in referrer.rows("referrals") if r.primary_key == {"id": REFERRAL}]
    assert mine.owned
    assert mine.values["referrer_message"] == INVITATION
    assert mine.values["referrer_reward_cents"] == 2345
    assert mine.values["referee_discount_cents"] is REDACTED
    assert mine.values["referee_signed_up_at"] is REDACTED
    [theirs] = [r for r in referee.rows("referrals") if r.primary_key == {"id": REFERRAL}]
    assert theirs.values["referee_discount_cents"] == 1234
    assert theirs.values["referrer_message"] is REDACTED
    assert theirs.values["referrer_reward_cents"] is REDACTED

    referrer_text = report_text(point3_map, referrer, people["referrer"])
    referee_text = report_text(point3_map, referee, people["referee"])
    assert "Rejoins-moi sur POINT3" in referrer_text
    assert "Rejoins-moi sur POINT3" not in referee_text
    assert REDACTED_WORDS in referee_text and REDACTED_WORDS in referrer_text
    # The portable copy writes the same redaction, never the other person's value.
    out = io.BytesIO()
    write_data_export(
        data_map=point3_map,
        collection=referee,
        request=ReportRequest("DSR-TEST", NOW, NOW, people["referee"], "en"),
        translations=translations_for("en"),
        out=out,
    )
    with zipfile.ZipFile(out) as archive:
        exported = archive.read("referrals.json").decode("utf-8")
    assert "Rejoins-moi" not in exported and REDACTED_WORDS in exported


def test_the_gift_recipient_is_mentioned_not_given_the_buyers_data(
    point3_map: DataMap, systems: Systems, people: dict[str, str], tmp_path: Path
) -> None:
    location = locate_subject(point3_map, systems, "email", FRIEND.lower())
    assert not location.found
    [mention] = location.mentions
    assert (mention.table, mention.column, mention.category) == (
        "course_gift",
        "recipient_email",
        "course_gifts",
    )
    assert mention.keys == ((GIFT_TO_FRIEND,),)
    collection = collect_subject(point3_map, systems, location, tmp_path / "friend")
    assert collection.counts == {}  # the buyer's gift is not the recipient's data


def test_erasing_the_referrer_keeps_the_referees_side_then_erasing_the_referee_removes_it(
    point3_map: DataMap, systems: Systems, people: dict[str, str]
) -> None:
    url = people["url"]
    location = locate_subject(point3_map, systems, "email", people["referrer"])
    plan = plan_erasure(point3_map, systems, location)
    [side] = [s for s in plan.steps if s.table == "learner_referral"]
    assert (side.kind, side.action, side.row_count) == ("side", ErasureAction.ANONYMIZE, 1)
    assert side.new_values == {
        "referrer_id": "NULL",
        "referrer_message": "NULL",
        "referrer_reward_cents": "NULL",
    }
    assert side.legal_reason is not None
    assert side.legal_reason.en == "Your side anonymised, record kept for the other person."
    # learner 2 is also the recipient of learner 4's gift: a mention, anonymised with them
    [gift] = [s for s in plan.steps if s.table == "course_gift" and s.kind == "mention"]
    assert gift.row_count == 1
    assert gift.new_values == {"recipient_email": "unique placeholder", "recipient_name": "NULL"}

    erase(point3_map, systems, people["referrer"])
    row = referral_row(url)
    assert row is not None
    assert row["referrer_id"] is None and row["referrer_message"] is None
    assert row["referrer_reward_cents"] is None
    assert row["referee_id"] == 3 and row["referee_discount_cents"] == 1234
    assert row["referee_signed_up_at"] is not None
    gifts = gift_rows(url)
    assert gifts[GIFT_TO_LEARNER]["recipient_email"].endswith("@erased.invalid")
    assert gifts[GIFT_TO_LEARNER]["gift_message"] == GIFT_MESSAGE  # the buyer's, kept
    assert gifts[GIFT_TO_FRIEND]["recipient_email"] == FRIEND

    referee = locate_subject(point3_map, systems, "email", people["referee"])
    assert (REFERRAL,) in referee.owned_keys("learner_platform", "learner_referral")
    plan = plan_erasure(point3_map, systems, referee)
    steps = {(s.table, s.kind): s for s in plan.steps if s.table == "learner_referral"}
    assert steps[("learner_referral", "")].action is ErasureAction.DELETE
    assert ("learner_referral", "side") not in steps
    erase(point3_map, systems, people["referee"])
    assert referral_row(url) is None


def test_erasing_the_referee_first_keeps_the_referrers_side(
    point3_map: DataMap, systems: Systems, people: dict[str, str]
) -> None:
    erase(point3_map, systems, people["referee"])
    row = referral_row(people["url"])
    assert row is not None
    assert row["referee_id"] is None and row["referee_discount_cents"] is None
    assert row["referee_signed_up_at"] is None
    assert row["referrer_id"] == 2 and row["referrer_message"] == INVITATION
    assert row["referrer_reward_cents"] == 2345
    erase(point3_map, systems, people["referrer"])
    assert referral_row(people["url"]) is None


def test_the_recipients_erasure_blanks_their_address_in_the_buyers_gift_only(
    point3_map: DataMap, systems: Systems, people: dict[str, str]
) -> None:
    location = locate_subject(point3_map, systems, "email", FRIEND)
    plan = plan_erasure(point3_map, systems, location)
    assert plan.blocked == []
    [step] = plan.steps
    assert (step.table, step.category, step.kind, step.row_count) == (
        "course_gift",
        "course_gifts",
        "mention",
        1,
    )
    # the recipient's name is `about` them: blanked with their address
    assert step.new_values == {"recipient_email": "unique placeholder", "recipient_name": "NULL"}
    before = gift_rows(people["url"])
    erase(point3_map, systems, FRIEND)
    after = gift_rows(people["url"])
    assert after[GIFT_TO_FRIEND]["recipient_email"].startswith("erased-")
    assert after[GIFT_TO_FRIEND]["recipient_name"] is None
    recipients = {"recipient_email", "recipient_name"}
    assert {k: v for k, v in after[GIFT_TO_FRIEND].items() if k not in recipients} == {
        k: v for k, v in before[GIFT_TO_FRIEND].items() if k not in recipients
    }
    assert after[GIFT_TO_LEARNER] == before[GIFT_TO_LEARNER]
    again = locate_subject(point3_map, systems, "email", FRIEND)
    assert not again.found and not again.mentioned
    # a second run has nothing left to do
    location = locate_subject(point3_map, systems, "email", FRIEND)
    assert plan_erasure(point3_map, systems, location).steps == []


def test_the_buyers_erasure_deletes_their_gifts(
    point3_map: DataMap, systems: Systems, people: dict[str, str]
) -> None:
    erase(point3_map, systems, people["buyer"])
    assert gift_rows(people["url"]) == {}
