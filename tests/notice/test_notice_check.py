"""`dsr notice check FILE`: what the map holds that an existing notice does not say (exit 1), the
desk's own notice saying it all (exit 0), and bad input refused (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from dsr.cli import main
from dsr.languages import Language, translations
from exports.notice import Notice, privacy_notice
from exports.notice_check import Mention, missing_mentions
from exports.ropa import DeskRetention
from inventory.loader import load_data_map

ROOT = Path(__file__).resolve().parents[2]
POINT3_MAP = ROOT / "data_map.yaml"
WEBSHOP_MAP = ROOT / "tests" / "webshop" / "webshop_map.yaml"
POINT3_POLICY = Path(__file__).with_name("point3-privacy-policy-fr.txt")
"""POINT3's policy as published (a copy of ../shared/seed/privacy-policy-fr.txt)."""
ENGLISH = {"DSR_STAFF_LANGUAGE": "en"}


def check(file: Path, data_map: Path = POINT3_MAP) -> tuple[int, str]:
    result = CliRunner().invoke(
        main, ["--map", str(data_map), "notice", "check", str(file)], env=ENGLISH
    )
    return result.exit_code, result.output


def notice_text(notice: Notice) -> str:
    lines = [notice.title]
    for part in notice.parts:
        lines += [part.heading, *part.paragraphs]
        for entry in part.entries:
            lines += [entry.label, *entry.lines]
    return "\n".join(lines)


def test_point3s_policy_lacks_bases_retention_dpo_and_authority() -> None:
    code, output = check(POINT3_POLICY)

    assert code == 1
    said = output.splitlines()
    assert said[0].endswith("things the map holds are not in the notice:")
    for expected in (
        "- the DPO's contact: dpo@point3.example",
        "- the supervisory authority: Commission nationale de l'informatique et des libertés "
        "(CNIL)",
        "- the legal basis: Legitimate interests of the controller (Art. 6(1)(f) GDPR)",
        "- the legal basis: Compliance with a legal obligation (Art. 6(1)(c) GDPR)",
        "- the retention period: 3 years",
        "- the retention period: 13 months",
        "- the right to rectification",
        "- the right to lodge a complaint",
        "- post-mortem directives",
        "- automated decisions",
    ):
        assert expected in said
    # what the policy does say is not reported
    assert not any(line.startswith("- the controller:") for line in said)


@pytest.mark.parametrize("map_path", [POINT3_MAP, WEBSHOP_MAP], ids=["point3", "webshop"])
@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_desks_own_notice_says_everything(map_path: Path, lang: str, tmp_path: Path) -> None:
    notice = privacy_notice(
        load_data_map(map_path),
        lang,
        translations(Language(lang)),
        DeskRetention(closed_request_days=365, delivery_days=30),
        form_url="https://desk.example/",
    )
    file = tmp_path / "notice.txt"
    file.write_text(notice_text(notice), encoding="utf-8")

    assert check(file, map_path) == (0, "The notice mentions everything checked.\n")


def test_a_period_is_a_whole_word() -> None:
    three_years = Mention("3 years", (r"(?<!\w)3 ans(?!\w)",))
    assert missing_mentions("Conservées 13 ans.", [three_years]) == [three_years]
    assert missing_mentions("Conservées 3 ANS.", [three_years]) == []


def test_bad_input_is_refused_with_exit_2(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n", encoding="utf-8")
    binary = tmp_path / "notice.pdf"
    binary.write_bytes(b"%PDF-1.7\n\xff\xfe\x00")

    for file in (tmp_path / "absent.txt", empty, binary, tmp_path):
        code, output = check(file)
        assert code == 2, output
        assert "Error" in output and "No such command" not in output
