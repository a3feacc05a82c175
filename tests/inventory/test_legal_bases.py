"""Several legal bases per category (issue 20): both forms load, mixing or omitting them is
reported at the category's line, and every reader sees each ground with its purposes."""

from __future__ import annotations

from pathlib import Path

import pytest

from inventory.loader import MapError, parse_data_map
from inventory.model import LegalBasis

MINIMAL = (Path(__file__).parent / "minimal_map.yaml").read_text(encoding="utf-8")
SINGLE = (
    "    purposes: [{fr: Gérer l'adhésion, en: Manage the membership}]\n    legal_basis: contract\n"
)
SEVERAL = """    legal_bases:
      - basis: contract
        purposes: [{fr: Gérer l'adhésion, en: Manage the membership}]
      - basis: "6(1)(a)"
        purposes: [{fr: Envoyer la lettre, en: Send the newsletter}]
        detail: {fr: Retrait à tout moment, en: Withdrawn at any time}
"""


def with_grounds(grounds: str) -> str:
    assert MINIMAL.count(SINGLE) == 1
    return MINIMAL.replace(SINGLE, grounds)


def problems_of(text: str) -> list[tuple[int, str]]:
    with pytest.raises(MapError) as caught:
        parse_data_map(text, filename="map.yaml")
    return [(p.line, p.message) for p in caught.value.problems]


def line_of(text: str, needle: str) -> int:
    assert text.count(needle) == 1, needle
    return text[: text.index(needle)].count("\n") + 1


def test_the_single_form_reads_as_one_ground_with_every_purpose() -> None:
    contact = parse_data_map(MINIMAL).categories["contact"]
    [ground] = contact.grounds
    assert ground.basis is LegalBasis.CONTRACT
    assert [p.en for p in ground.purposes] == ["Manage the membership"]
    assert contact.bases == [LegalBasis.CONTRACT]


def test_several_grounds_each_keep_their_purposes() -> None:
    contact = parse_data_map(with_grounds(SEVERAL)).categories["contact"]
    assert [(g.basis, [p.en for p in g.purposes]) for g in contact.grounds] == [
        (LegalBasis.CONTRACT, ["Manage the membership"]),
        (LegalBasis.CONSENT, ["Send the newsletter"]),  # "6(1)(a)" is consent
    ]
    assert [p.en for p in contact.all_purposes] == ["Manage the membership", "Send the newsletter"]
    assert contact.bases == [LegalBasis.CONTRACT, LegalBasis.CONSENT]
    assert contact.legal_basis is None


def test_both_forms_at_once_are_refused_at_the_key_to_remove() -> None:
    text = with_grounds(SEVERAL + "    legal_basis: consent\n")
    found = problems_of(text)
    assert any(
        n == line_of(text, "legal_basis: consent")
        and "`legal_basis` in category `contact` repeats what `legal_bases` says" in m
        for n, m in found
    ), found


def test_neither_form_is_a_missing_ground() -> None:
    text = with_grounds("")
    found = problems_of(text)
    messages = [m for _, m in found]
    assert any("missing `legal_basis` in category `contact`" in m for m in messages), found
    assert any("missing `purposes` in category `contact`" in m for m in messages), found
    assert all(n == line_of(text, "  contact:") for n, _ in found)


def test_a_ground_without_purposes_or_with_an_unknown_basis_is_refused_at_its_line() -> None:
    text = with_grounds(SEVERAL.replace("basis: contract", "basis: contrat"))
    [(line, message)] = problems_of(text)
    assert line == line_of(text, "basis: contrat")
    assert "`contrat`" in message and "legitimate_interests" in message
    text = with_grounds(
        SEVERAL.replace(
            "        purposes: [{fr: Gérer l'adhésion, en: Manage the membership}]\n", ""
        )
    )
    [(line, message)] = problems_of(text)
    assert "missing `purposes` in category `contact`, under `legal_bases.0`" in message


def test_a_category_is_portable_when_one_of_its_grounds_is_consent_or_contract() -> None:
    from exports.portability import is_portable

    several = parse_data_map(with_grounds(SEVERAL)).categories["contact"]
    assert is_portable(several)
    neither = parse_data_map(
        with_grounds(
            SEVERAL.replace("basis: contract", "basis: legal_obligation").replace(
                '"6(1)(a)"', "legitimate_interests"
            )
        )
    ).categories["contact"]
    assert not is_portable(neither)
