"""Possible mentions of a person in other people's text (issue 20), with POINT3's map on the
seeded demo platform, on all three engines: whole name, any case, any accents; never the
subject's own rows; `%` and `_` in a name are letters, not wildcards."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert, select, text, update

from dsr.demo import schema
from dsr.demo.seed import SAMPLE_LEARNER_EMAIL, seed_platform
from inventory.live import check_live
from inventory.loader import MapError, load_data_map, parse_data_map
from inventory.locator import locate_subject
from inventory.mentions import (
    MentionsErased,
    _candidates,
    erase_mentions,
    find_in_text,
    find_mentions,
    like_pattern,
    name_words,
    redact_name,
    subject_full_names,
)
from inventory.model import DataMap
from inventory.systems import Systems, SystemUnavailable
from tests.databases import ENGINES, fresh_database
from tests.webshop.schema import ALICE_EMAIL, BOB_EMAIL, seed_webshop

MAP_PATH = Path(__file__).parents[2] / "data_map.yaml"
POSTED = datetime(2026, 10, 1, 12, tzinfo=UTC)
WILDCARD_EMAIL = "wild.card@example.org"
EXTRA = {
    # id: (author, text): 9001-9004 name the sample learner (Zoé Lefèvre) or almost
    9001: ("other", "Bravo ZOÉ\nlefevre, tes notes m'ont sauvé !"),
    9002: ("other", "Zoé Lefèvres n'est pas elle."),
    9003: ("other", "zoelefevre en un mot n'est pas un nom."),
    9004: ("sample", "Moi, Zoé Lefèvre, je recommande ce cours."),
    # 9005-9006 for a learner whose name holds LIKE's wildcards
    9005: ("other", "Merci à Ann_ 100% pour son aide."),
    9006: ("other", "Merci à AnnX 100X pour son aide."),
}


@pytest.fixture(scope="module")
def point3_map() -> DataMap:
    return load_data_map(MAP_PATH)


@pytest.fixture(scope="module", params=ENGINES)
def systems(request: pytest.FixtureRequest, point3_map: DataMap) -> Iterator[Systems]:
    with fresh_database(request.param) as url:
        seed_platform(url, learners=40, seed=7)
        with Systems(point3_map, {"POINT3_PLATFORM_URL": url}).opened() as opened:
            with opened.engine("learner_platform").begin() as conn:
                course = conn.execute(select(schema.course_comment.c.course_id)).first()
                assert course is not None
                conn.execute(
                    update(schema.learner)
                    .where(schema.learner.c.id == 2)
                    .values(first_name="Ann_", last_name="100%", email=WILDCARD_EMAIL)
                )
                conn.execute(
                    insert(schema.course_comment),
                    [
                        {
                            "id": key,
                            "learner_id": 1 if author == "sample" else 3,
                            "course_id": course[0],
                            "body": text,
                            "posted_at": POSTED,
                        }
                        for key, (author, text) in EXTRA.items()
                    ],
                )
            yield opened


def seeded_mentions(systems: Systems) -> set[int]:
    """The comments the seed wrote to name the sample learner (or her namesake)."""
    with systems.engine("learner_platform").connect() as conn:
        rows = conn.execute(
            select(schema.course_comment.c.id, schema.course_comment.c.body).where(
                schema.course_comment.c.id < 9000, schema.course_comment.c.learner_id != 1
            )
        )
        return {key for key, body in rows if "lef" in body.lower()}


def test_the_sample_learners_possible_mentions_are_the_others_texts_naming_her(
    point3_map: DataMap, systems: Systems
) -> None:
    location = locate_subject(point3_map, systems, "email", SAMPLE_LEARNER_EMAIL)
    assert subject_full_names(point3_map, systems, location) == ["Zoé Lefèvre"]

    found = find_mentions(point3_map, systems, location)

    comments = {m.key[0] for m in found if m.table == "course_comment"}
    seeded = seeded_mentions(systems)
    assert len(seeded) == 3, "the seed names her twice and her namesake once"
    # any case, accents or not, a line break between the words; her own comment is not flagged;
    # 'Lefèvres' and 'zoelefevre' are not her whole name
    assert comments == seeded | {9001}
    mention = next(m for m in found if m.key == (9001,))
    assert (mention.system, mention.column) == ("learner_platform", "body")
    assert mention.excerpt == EXTRA[9001][1]


def test_like_wildcards_in_a_name_are_letters(point3_map: DataMap, systems: Systems) -> None:
    location = locate_subject(point3_map, systems, "email", WILDCARD_EMAIL)
    words = name_words(subject_full_names(point3_map, systems, location)[0])
    assert words == ["ann_", "100%"]
    table = systems.tables("learner_platform")["course_comment"]
    with systems.engine("learner_platform").connect() as conn:
        candidates = {
            key[0]
            for key, _ in _candidates(conn, [table.c.id], table.c.body, words)
            if key[0] > 9000
        }
    assert candidates == {9005}, "the database itself treats % and _ of the name as letters"
    found = find_mentions(point3_map, systems, location)
    assert [m.key for m in found if m.table == "course_comment"] == [(9005,)]


def test_a_map_without_mentions_finds_none(point3_map: DataMap, systems: Systems) -> None:
    without = point3_map.model_copy(update={"mentions": None})
    location = locate_subject(without, systems, "email", SAMPLE_LEARNER_EMAIL)
    assert find_mentions(without, systems, location) == []


# --- pure rules -------------------------------------------------------------------------------


def test_the_name_is_matched_whole_ignoring_case_and_accents() -> None:
    words = name_words("Zoé  Lefèvre")
    assert find_in_text("merci ZOE LEFEVRE !", words) == (6, 17)
    assert find_in_text("Zoé-Lefèvre", words) is None
    assert find_in_text("Zoé Lefèvre-Martin", words) == (0, 11)
    assert find_in_text("AZoé Lefèvre", words) is None


def test_the_like_pattern_escapes_wildcards_and_leaves_accents_to_one_character() -> None:
    assert like_pattern(["b%_!", "x"]) == "%b!%!_!!%x%"
    assert like_pattern(["zoe"]) == "%___%"  # z, o and e may carry an accent in the text
    assert like_pattern(["zoe", "l_"], unaccented=True) == "%zoe%l!_%"  # PostgreSQL: translate()


def test_a_mention_search_must_name_mapped_tables() -> None:
    text = MAP_PATH.read_text(encoding="utf-8")
    head, _, tail = text.rpartition("column: survey_response.comment")  # the mention's
    broken = f"{head}column: survey.comment{tail}"
    with pytest.raises(MapError) as caught:
        parse_data_map(broken, filename="m.yaml")
    [problem] = [p for p in caught.value.problems if "survey" in p.message]
    assert problem.line == broken.split("\n").index("      column: survey.comment") + 1
    assert "`survey` is not a table of system `learner_platform`" in problem.message


# --- the webshop's map: another organisation, reviews naming a customer -------------------------

WEBSHOP_MAP = Path(__file__).parents[1] / "webshop" / "webshop_map.yaml"


def test_a_webshop_review_naming_bob_is_his_possible_mention_and_its_erasure_deletes_it(
    engine_url: str,
) -> None:
    seed_webshop(engine_url)
    webshop = load_data_map(WEBSHOP_MAP)
    with Systems(webshop, {"SHOP_DB_URL": engine_url}).opened() as systems:
        alice = locate_subject(webshop, systems, "email", ALICE_EMAIL)
        assert find_mentions(webshop, systems, alice) == []  # her own review names Bob, not her
        bob = locate_subject(webshop, systems, "email", BOB_EMAIL)
        names = subject_full_names(webshop, systems, bob)
        [mention] = find_mentions(webshop, systems, bob)
        assert (mention.table, mention.key) == ("review", (1,))
        assert "Bob Martin" in mention.excerpt

        assert erase_mentions(webshop, systems, [mention], names) == MentionsErased(deleted=1)
        with systems.engine("shop").connect() as conn:
            ids = conn.execute(text("SELECT id FROM review ORDER BY id")).scalars().all()
    assert ids == [2]


def test_the_name_is_replaced_everywhere_in_a_text() -> None:
    words = name_words("Zoé Lefèvre")
    assert (
        redact_name("ZOE lefevre et Zoé  Lefèvre, pas Zoé Lefèvres.", words, "[…]")
        == "[…] et […], pas Zoé Lefèvres."
    )


def test_the_live_check_reports_a_searched_column_missing_from_the_database(
    point3_map: DataMap, systems: Systems
) -> None:
    assert point3_map.mentions is not None
    moved = point3_map.mentions.search[0].model_copy(
        update={"column": "course_comment.review_text"}
    )
    mentions = point3_map.mentions.model_copy(update={"search": [moved]})
    changed = point3_map.model_copy(update={"mentions": mentions})
    said = [f.message for f in check_live(changed, systems.for_map(changed))]
    assert "column `course_comment.review_text` is in the map but not in the database." in said
    location = locate_subject(changed, systems.for_map(changed), "email", SAMPLE_LEARNER_EMAIL)
    with pytest.raises(SystemUnavailable) as failed:  # the page says so; never a 500
        find_mentions(changed, systems.for_map(changed), location)
    assert failed.value.system == "learner_platform"
