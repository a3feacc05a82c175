"""The map's `sides` (rows of two people) and `identifies` (people named in others' rows): a bad
declaration is refused with a sentence at its line in the YAML (issue 20)."""

from __future__ import annotations

from pathlib import Path

import pytest

from inventory.loader import MapError, parse_data_map
from inventory.model import AnonymizeStrategy

ROOT = Path(__file__).parents[2]
POINT3 = (ROOT / "data_map.yaml").read_text(encoding="utf-8")

SIDES = """        sides:
          - name: referrer
            link: referrer_id
            columns: [referrer_message, referrer_reward_cents]
          - name: referee
            link: referee_id
            columns: [referee_signed_up_at, referee_discount_cents]
"""
RECIPIENT = """        identifies: email
        anonymize: unique_placeholder
"""


def edited(old: str, new: str) -> str:
    assert POINT3.count(old) == 1, old
    return POINT3.replace(old, new)


def line_of(text: str, needle: str) -> int:
    assert text.count(needle) == 1, needle
    return text[: text.index(needle)].count("\n") + 1


def problems(text: str) -> list[tuple[int, str]]:
    with pytest.raises(MapError) as caught:
        parse_data_map(text, filename="map.yaml")
    return [(p.line, p.message) for p in caught.value.problems]


def test_the_point3_map_declares_the_referral_sides_and_the_gift_recipient() -> None:
    data_map = parse_data_map(POINT3, filename="map.yaml")
    referral = data_map.systems["learner_platform"].tables["learner_referral"]
    assert [(s.name, s.link) for s in referral.sides] == [
        ("referrer", "referrer_id"),
        ("referee", "referee_id"),
    ]
    [recipient] = [
        f for f in data_map.categories["course_gifts"].fields if f.identifies is not None
    ]
    assert recipient.column == "course_gift.recipient_email" and recipient.identifies == "email"
    assert recipient.anonymize is not None
    assert recipient.anonymize.strategy is AnonymizeStrategy.UNIQUE_PLACEHOLDER
    assert "referrals_and_gifts" in data_map.activities


def test_a_side_column_no_category_holds_is_refused_at_its_line() -> None:
    text = edited(SIDES, SIDES.replace("referee_discount_cents]", "referee_bonus]"))
    assert problems(text) == [
        (
            line_of(text, "referee_bonus"),
            "side `referee` names column `referee_bonus`, which no category of the map holds "
            "in table `learner_referral`.",
        )
    ]


def test_a_side_column_without_an_anonymize_strategy_is_refused_at_its_line() -> None:
    field = """      - column: learner_referral.referrer_reward_cents
        label: {fr: Récompense du parrain (centimes), en: Referrer's reward (cents)}
        anonymize: "null"
"""
    text = edited(field, field.replace('        anonymize: "null"\n', ""))
    assert problems(text) == [
        (
            line_of(text, "columns: [referrer_message, referrer_reward_cents]"),
            "column `learner_referral.referrer_reward_cents` of side `referrer` has no "
            "`anonymize` strategy: say what erasing that side writes in it (null, fixed, "
            "keyed_hash, unique_placeholder...).",
        )
    ]


def test_a_side_tied_by_a_column_that_is_no_link_is_refused_at_its_table() -> None:
    text = edited(SIDES, SIDES.replace("link: referee_id", "link: referee_email"))
    [(line, message)] = problems(text)
    assert line == line_of(text, "  learner_referral:\n") + 1
    assert "side `referee` is tied by `referee_email`, which is not the column of one of the " in (
        message
    )


def test_a_single_side_is_refused() -> None:
    text = edited(SIDES, SIDES.split("          - name: referee")[0])
    [(_, message)] = problems(text)
    assert "a table with `sides` declares at least two" in message


def test_identifies_an_unknown_identity_is_refused_at_its_line() -> None:
    text = edited(RECIPIENT, RECIPIENT.replace("identifies: email", "identifies: e_mail"))
    assert problems(text) == [
        (
            line_of(text, "identifies: e_mail"),
            "field `course_gift.recipient_email` identifies `e_mail`, which is not declared "
            "under `identities`. Did you mean `email`?",
        )
    ]


def test_a_field_about_a_column_that_identifies_no_one_is_refused_at_its_line() -> None:
    text = edited("about: recipient_email", "about: gift_message")
    assert problems(text) == [
        (
            line_of(text, "about: gift_message"),
            "field `course_gift.recipient_name` is about the person of column `gift_message`, "
            "but no field of category `course_gifts` in table `course_gift` with that name "
            "`identifies` someone.",
        )
    ]


def test_identifies_without_an_anonymize_strategy_is_refused_at_its_line() -> None:
    text = edited(RECIPIENT, "        identifies: email\n")
    assert problems(text) == [
        (
            line_of(text, "identifies: email\n      - column: course_gift.recipient_name"),
            "field `course_gift.recipient_email` identifies people other than the row's owner "
            "but has no `anonymize` strategy: say what their erasure writes in it (null, fixed, "
            "unique_placeholder...).",
        )
    ]
