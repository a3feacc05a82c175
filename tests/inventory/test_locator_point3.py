"""The locator with POINT3's map on the seeded demo platform, on all three engines.

One seeded database per engine for the module (seeding is the slow part); the tests only read.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from dsr.demo.seed import SAMPLE_LEARNER_EMAIL, seed_platform
from inventory.loader import load_data_map
from inventory.locator import (
    SubjectLocation,
    category_counts,
    iter_category_rows,
    locate_subject,
)
from inventory.model import DataMap
from inventory.systems import Systems
from tests.databases import ENGINES, fresh_database

MAP_PATH = Path(__file__).parents[2] / "data_map.yaml"


@pytest.fixture(scope="module")
def point3_map() -> DataMap:
    return load_data_map(MAP_PATH)


@pytest.fixture(scope="module", params=ENGINES)
def systems(request: pytest.FixtureRequest, point3_map: DataMap) -> Iterator[Systems]:
    with fresh_database(request.param) as url:
        seed_platform(url, learners=40, seed=7)
        with Systems(point3_map, {"POINT3_PLATFORM_URL": url}).opened() as opened:
            yield opened


def ids(systems: Systems, sql: str, **params: object) -> set[int]:
    with systems.engine("learner_platform").connect() as conn:
        return {row[0] for row in conn.execute(text(sql), params)}


def located(point3_map: DataMap, systems: Systems, email: str) -> SubjectLocation:
    return locate_subject(point3_map, systems, "email", email)


def keys(location: SubjectLocation, table: str) -> set[int]:
    match = location.match("learner_platform", table)
    return {k[0] for k in match.keys} if match else set()


def test_sample_learner_is_found_in_every_category_but_prospects(
    point3_map: DataMap, systems: Systems
) -> None:
    location = located(point3_map, systems, SAMPLE_LEARNER_EMAIL)
    # she neither took part in a referral nor offered a course (see test_two_people.py)
    assert set(category_counts(point3_map, location)) == set(point3_map.categories) - {
        "prospects",
        "referrals",
        "course_gifts",
    }
    assert keys(location, "learner") == {1}
    assert location.flags == []


def test_multi_hop_rows_are_exactly_the_subjects(point3_map: DataMap, systems: Systems) -> None:
    location = located(point3_map, systems, SAMPLE_LEARNER_EMAIL)
    assert keys(location, "invoice_line") == ids(
        systems,
        "SELECT l.id FROM invoice_line l JOIN invoice i ON i.id = l.invoice_id "
        "WHERE i.learner_id = 1",
    )
    assert keys(location, "email_open") == ids(
        systems,
        "SELECT o.id FROM email_open o JOIN marketing_subscription s ON s.id = o.subscription_id "
        "WHERE s.learner_id = 1 OR lower(s.email) = :email",
        email=SAMPLE_LEARNER_EMAIL,
    )
    assert keys(location, "tracking_event") == ids(
        systems, "SELECT id FROM tracking_event WHERE learner_id = 1"
    )


def test_look_alike_neighbours_are_not_included(point3_map: DataMap, systems: Systems) -> None:
    location = located(point3_map, systems, SAMPLE_LEARNER_EMAIL)
    others = ids(
        systems,
        "SELECT id FROM learner WHERE id <> 1 AND (last_name = 'Lefèvre' "
        "OR email = 'zoe.lefevte@example.org')",
    )
    assert len(others) >= 2
    for table in ("invoice", "tracking_event", "course_comment", "exam_registration"):
        mine = keys(location, table)
        theirs = ids(
            systems, f"SELECT id FROM {table} WHERE learner_id IN ({','.join(map(str, others))})"
        )
        assert not mine & theirs, table


def test_shared_thread_shows_the_other_learners_messages_as_not_owned(
    point3_map: DataMap, systems: Systems
) -> None:
    location = located(point3_map, systems, SAMPLE_LEARNER_EMAIL)
    rows = list(iter_category_rows(point3_map, systems, location, "support"))
    messages = [r for r in rows if r.table == "support_message"]
    colleague = ids(systems, "SELECT id FROM support_message WHERE author_learner_id = 2")
    staff = ids(systems, "SELECT id FROM support_message WHERE author_learner_id IS NULL")
    own = ids(systems, "SELECT id FROM support_message WHERE author_learner_id = 1")
    assert colleague and own
    assert {r.primary_key["id"] for r in messages if not r.owned} == colleague & keys(
        location, "support_message"
    )
    assert own <= {r.primary_key["id"] for r in messages if r.owned}
    assert {r.primary_key["id"] for r in messages if r.owned} <= own | staff
    # The colleague finds the same thread, with the sample learner's messages as not theirs.
    theirs = located(point3_map, systems, "lukasz.wroblewski@example.com")
    assert keys(theirs, "support_thread") & keys(location, "support_thread")
    their_match = theirs.match("learner_platform", "support_message")
    assert their_match is not None
    assert {k[0] for k in their_match.not_owned} == own & keys(theirs, "support_message") != set()


def test_emails_differing_by_case_find_both_accounts_and_flag_them(
    point3_map: DataMap, systems: Systems
) -> None:
    location = located(point3_map, systems, "  JEAN.MARTIN@example.com ")
    assert len(keys(location, "learner")) == 2
    [flag] = location.flags
    assert flag.table == "learner" and "2 rows" in flag.message


def test_prospect_without_account_is_found_by_email(point3_map: DataMap, systems: Systems) -> None:
    with systems.engine("learner_platform").connect() as conn:
        prospect_id, email = conn.execute(
            text("SELECT id, email FROM prospect ORDER BY id LIMIT 1")
        ).one()
    location = located(point3_map, systems, email.upper())
    assert keys(location, "prospect") >= {prospect_id}
    assert "prospects" in category_counts(point3_map, location)


def test_other_identities(point3_map: DataMap, systems: Systems) -> None:
    by_id = locate_subject(point3_map, systems, "learner_id", "1")
    assert keys(by_id, "invoice") == keys(
        located(point3_map, systems, SAMPLE_LEARNER_EMAIL), "invoice"
    )
    assert not locate_subject(point3_map, systems, "learner_id", "not-a-number").found
    by_phone = locate_subject(point3_map, systems, "phone", "+33 6 12 34 56 78")
    assert keys(by_phone, "learner") == {1}


def test_unknown_person_is_an_empty_result(point3_map: DataMap, systems: Systems) -> None:
    location = located(point3_map, systems, "personne@nulle-part.example")
    assert not location.found and category_counts(point3_map, location) == {}


def test_anonymous_visitors_events_are_found_by_cookie_only(
    point3_map: DataMap, systems: Systems
) -> None:
    with systems.engine("learner_platform").connect() as conn:
        cookie = conn.execute(
            text(
                "SELECT cookie_id FROM tracking_event WHERE learner_id IS NULL ORDER BY id LIMIT 1"
            )
        ).scalar_one()
    location = locate_subject(point3_map, systems, "cookie_id", cookie)
    assert keys(location, "tracking_event") == ids(
        systems, "SELECT id FROM tracking_event WHERE cookie_id = :c", c=cookie
    )
    assert keys(location, "learner") == set()


def test_seeded_demo_matches_the_map_live(point3_map: DataMap, systems: Systems) -> None:
    from inventory.live import check_live

    assert check_live(point3_map, systems) == []
