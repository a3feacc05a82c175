"""Every script legible in the PDFs (issue 14, item 6): the access report, the erasure
certificate and the register show a value in any script as typed, in embedded fonts.

How the text is compared: pypdf extracts what the PDF draws, glyph by glyph, through each
font's ToUnicode map. Two documented differences from the value remain, and the comparison
undoes exactly these:

- Arabic is drawn shaped, as presentation forms (U+FE70-U+FEFF: initial, medial, final and
  isolated letters), so that it is joined; NFKC turns them back into the letters typed.
- Right-to-left runs are drawn in visual order (right to left); pypdf reverses each run of
  right-to-left characters as it extracts it (`pypdf._text_extraction.get_display_str`), which
  gives the logical order back. Our values are chosen so that this simple reversal is exact
  (a run of right-to-left letters at the end of a left-to-right line, or a whole line of them):
  pypdf moves the spaces around a run that sits between two left-to-right words. The visual
  order of such lines is checked on `visual_lines` itself, and by eye (see the report).

A value drawn in logical order (the defect) comes out reversed, and a value without a glyph
comes out as nothing or as another character, so each comparison fails without the fix.
"""

from __future__ import annotations

import io
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pypdf import PdfReader
from reportlab.pdfbase import pdfmetrics

from dsr.demo.seed import SAMPLE_LEARNER_EMAIL
from exports.access_report import render_access_report, text_table
from exports.certificate import CategoryOutcome, CertifiedRequest, render_erasure_certificate
from exports.pdf import FONT_BOLD, FONT_REGULAR, DocumentInfo, render_pdf
from exports.ropa import DeskRetention, ropa_pdf
from exports.script_text import (
    display_lines,
    font_runs,
    line_width,
    printable,
    visual_lines,
)
from inventory.model import DataMap, ErasureAction, LocalText
from tests.exports.conftest import translations_for
from tests.exports.demo_subject import DemoPlatform, load_point3_map, qpdf_check, report_request

EMOJI = "\U0001f469\u200d\U0001f393"  # woman student: woman, zero-width joiner, graduation cap
VALUES: dict[str, str] = {
    "latin": "Zoé Lefèvre-Ñúñez",
    "greek": "Αλέξανδρος Παπαδόπουλος",
    "cyrillic": "Дмитрий Иванов",
    "arabic": "محمد بن سلمان",
    "hebrew": "דוד בן גוריון",
    "chinese": "李小龙",
    "japanese": "さくら 東京 カタカナ",
    "korean": "김민준",
    "devanagari": "देवनागरी नाम",
    "thai": "สมชาย ใจดี",
    "mixed": "Zoé Lefèvre محمد بن سلمان",
    "emoji": f"{EMOJI} Zoé",
}
"""One value per script, each drawn by one of the embedded fonts."""

SHOWN: dict[str, str] = {**VALUES, "emoji": "[U+1F469][U+200D][U+1F393] Zoé"}
"""What each value reads as in the PDF: an emoji has no embedded glyph, so its code points show."""

FONTS: dict[str, str] = {
    "latin": "DejaVuSans",
    "greek": "DejaVuSans",
    "cyrillic": "DejaVuSans",
    "arabic": "NotoSansArabic",
    "hebrew": "NotoSansHebrew",
    "chinese": "DroidSansFallback",
    "japanese": "DroidSansFallback",
    "korean": "DroidSansFallback",
    "devanagari": "NotoSansDevanagari",
    "thai": "NotoSansThai",
}
"""The embedded font each script is drawn in."""


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def extracted_lines(pdf: bytes) -> list[str]:
    """Every line pypdf extracts from the PDF, after NFKC, stripped."""
    reader = PdfReader(io.BytesIO(pdf))
    return [
        _nfkc(line).strip() for page in reader.pages for line in page.extract_text().split("\n")
    ]


def _unspaced(text: str) -> str:
    return "".join(_nfkc(text).split())


def missing_values(pdf: bytes) -> list[str]:
    """The scripts whose value is not in the extracted text, white space left out of both: a
    value may wrap in a narrow column, and pypdf may move a space next to a right-to-left run."""
    text = _unspaced("".join(extracted_lines(pdf)))
    return [name for name in SHOWN if _unspaced(SHOWN[name]) not in text]


def embedded_fonts(pdf: bytes) -> set[str]:
    """The base names of the fonts the pages use whose TrueType program is embedded."""
    names = set()
    for page in PdfReader(io.BytesIO(pdf)).pages:
        fonts = page["/Resources"].get_object().get("/Font", {})
        for reference in fonts.values():
            font = reference.get_object()
            descriptor = font.get("/FontDescriptor")
            if descriptor is not None and "/FontFile2" in descriptor.get_object():
                # A subset is named "ABCDEF+PostScriptName" (NotoSansArabic-Regular...).
                base = str(font["/BaseFont"]).lstrip("/").split("+", 1)[-1]
                names.add(base.removesuffix("-Regular"))
    return names


def assert_legible(pdf: bytes, tmp_path: Path) -> None:
    assert missing_values(pdf) == []
    assert set(FONTS.values()) <= embedded_fonts(pdf)
    # Arabic is drawn joined: its letters are presentation forms (initial meem of محمد).
    raw = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "\ufee3" in raw
    qpdf_check(pdf, tmp_path)


# --- the preparation ---------------------------------------------------------------------------


def test_hidden_characters_and_those_without_a_glyph_show_their_code_points() -> None:
    assert printable(f"{EMOJI} a\ufeffb\u200dc\u202ed\te") == (
        "[U+1F469][U+200D][U+1F393] a[U+FEFF]b[U+200D]c[U+202E]d e"
    )
    assert printable("Zoé 李小龙 محمد") == "Zoé 李小龙 محمد"


def test_latin_text_is_one_run_in_dejavu_and_other_scripts_take_their_font() -> None:
    assert font_runs("Zoé Lefèvre, Ægir Þórsson") == [(FONT_REGULAR, "Zoé Lefèvre, Ægir Þórsson")]
    assert font_runs("Dmitri Дмитрий", bold=True) == [(FONT_BOLD, "Dmitri Дмитрий")]
    for name, font in FONTS.items():
        shown = visual_lines([VALUES[name]])[0]
        fonts = {run_font for run_font, _ in font_runs(shown)}
        assert fonts == {font}, name
    assert font_runs("Zoé 李小龙") == [(FONT_REGULAR, "Zoé "), ("DroidSansFallback", "李小龙")]


def test_right_to_left_runs_are_joined_and_drawn_right_to_left() -> None:
    # محمد joined: isolated forms would be U+FEE1 U+FEA1 U+FEE1 U+FEA9; drawn right to left,
    # the final dal comes first (leftmost) and the initial meem last.
    joined = "\ufeaa\ufee4\ufea4\ufee3"
    assert visual_lines(["محمد"]) == [joined]
    # Inside left-to-right text, the number after the Arabic name goes with it (bidi rule W7).
    assert visual_lines(["Zoé محمد 42 Lefèvre"]) == [f"Zoé 42 {joined} Lefèvre"]
    # Hebrew vowel points come before their letter once the run is reversed: drawn with no
    # advance of their own, they land over the letter that follows (checked by eye).
    shalom = "\u05e9\u05c1\u05b8\u05dc\u05d5\u05b9\u05dd"  # shin, shin dot, qamats, lamed...
    shown = visual_lines([shalom])[0]
    assert [char for char in shown if not unicodedata.combining(char)] == list("םולש")
    assert sorted(shown) == sorted(shalom)
    assert shown.endswith(("\u05c1\u05b8\u05e9", "\u05b8\u05c1\u05e9"))
    assert visual_lines(["Zoé Lefèvre"]) == ["Zoé Lefèvre"]


def test_a_long_right_to_left_text_is_broken_in_logical_order_then_each_line_reversed() -> None:
    words = [f"كلمة{number}" for number in range(1, 30)]
    lines = display_lines(" ".join(words), 200, FONT_REGULAR, 9)
    assert len(lines) > 2
    assert all(line_width(line, FONT_REGULAR, 9) <= 200 for line in lines)
    # The first line holds the first words, drawn right to left: the first word at its right.
    first = _nfkc(lines[0]).split(" ")
    assert first[-1] == _nfkc(visual_lines([words[0]])[0])


def test_a_long_word_without_spaces_is_broken_to_the_width() -> None:
    lines = display_lines("李小龙" * 40, 120, FONT_REGULAR, 9)
    assert len(lines) > 1 and "".join(lines) == "李小龙" * 40
    assert all(line_width(line, FONT_REGULAR, 9) <= 120 for line in lines)


def test_the_text_grid_draws_every_script(tmp_path: Path) -> None:
    grid = text_table(
        ["Script", "Value"], [[name, VALUES[name]] for name in VALUES], col_widths=[60, 300]
    )
    pdf = render_pdf([grid], DocumentInfo(title="t", author="a", subject="s", lang="en"))
    assert_legible(pdf, tmp_path)


# --- the three documents -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> DemoPlatform:
    return DemoPlatform.seed(
        tmp_path_factory.mktemp("scripts") / "platform.sqlite3", load_point3_map()
    )


def test_the_access_report_shows_every_script_as_typed(
    platform: DemoPlatform, tmp_path: Path
) -> None:
    changed = platform.copy(tmp_path / "scripts.sqlite3")
    # Table rows (the text grid) hold one value each; the account (key-value blocks, drawn as
    # paragraphs) holds the Arabic and the mixed ones.
    for name, value in VALUES.items():
        changed.execute(
            "INSERT INTO tracking_event (learner_id, cookie_id, occurred_at, page_url, device) "
            "VALUES (1, 'c41d2e8b', '2026-10-01 08:00:00.000000', :name, :value)",
            name=f"https://www.example.org/{name}",
            value=value,
        )
    changed.execute(
        "UPDATE learner SET first_name = :first, last_name = :last WHERE id = 1",
        first=VALUES["arabic"],
        last=VALUES["mixed"],
    )
    collection = changed.collect(SAMPLE_LEARNER_EMAIL, tmp_path / "collected")
    out = io.BytesIO()
    render_access_report(
        data_map=changed.data_map,
        collection=collection,
        request=report_request(SAMPLE_LEARNER_EMAIL, "en"),
        translations=translations_for("en"),
        out=out,
    )
    pdf = out.getvalue()
    assert_legible(pdf, tmp_path)
    assert extracted_lines(pdf).count(_nfkc(VALUES["arabic"])) >= 2  # in the grid and the block


def _scripted_map(data_map: DataMap) -> tuple[DataMap, list[str]]:
    """The map with one category titled in each script, and those categories' ids."""
    ids = list(data_map.categories)[: len(VALUES)]
    assert len(ids) == len(VALUES)
    categories = dict(data_map.categories)
    for category_id, value in zip(ids, VALUES.values(), strict=True):
        title = LocalText(fr=value, en=value)
        categories[category_id] = categories[category_id].model_copy(update={"title": title})
    return data_map.model_copy(update={"categories": categories}), ids


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_certificate_shows_every_script_as_typed(lang: str, tmp_path: Path) -> None:
    data_map, ids = _scripted_map(load_point3_map())
    actions = [ErasureAction.DELETE, ErasureAction.ANONYMIZE, ErasureAction.RETAIN]
    outcomes = [
        CategoryOutcome(category_id, actions[index % 3], index + 1, ("t",))
        for index, category_id in enumerate(ids)
    ]
    pdf = render_erasure_certificate(
        data_map,
        CertifiedRequest(
            reference="DSR-2026-0042",
            received_at=datetime(2026, 11, 2, 9, 30, tzinfo=UTC),
            completed_at=datetime(2026, 11, 25, 13, 5, tzinfo=UTC),
            language=lang,
            address_kept_until=datetime(2031, 11, 26, 13, 5, tzinfo=UTC),
        ),
        outcomes,
        [],
        translations_for(lang),
    )
    assert_legible(pdf, tmp_path)


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_register_shows_every_script_as_typed(lang: str, tmp_path: Path) -> None:
    data_map, _ = _scripted_map(load_point3_map())
    organisation = data_map.organisation.model_copy(update={"name": VALUES["mixed"]})
    data_map = data_map.model_copy(update={"organisation": organisation})
    pdf = ropa_pdf(data_map, lang, translations_for(lang), DeskRetention(1826, 7))
    assert_legible(pdf, tmp_path)
    # The footer, drawn on the canvas rather than in a paragraph, names the organisation.
    last_page = PdfReader(io.BytesIO(pdf)).pages[-1].extract_text()
    assert _unspaced(VALUES["mixed"]) in _unspaced(last_page)


@settings(max_examples=500, deadline=None)
@given(
    text=st.text(max_size=60)
    | st.text(
        alphabet="مُحَمَّد لا بن (42) שָׁלוֹם 李小龙 किरण ภาษา Zoé\u200d\ufeff\U0001f469", max_size=60
    )
)
def test_any_text_is_drawn_with_glyphs_only_within_its_width(text: str) -> None:
    """Whatever a value holds, every character drawn has a glyph in the font of its run (no
    empty box) and every line fits the width it was broken to."""
    shown = printable(text)
    for bold, font_name in ((False, FONT_REGULAR), (True, FONT_BOLD)):
        for line in display_lines(shown, 80, font_name, 9):
            assert line_width(line, font_name, 9) <= 80 or len(line) == 1
            for font, run in font_runs(line, bold=bold):
                glyphs = pdfmetrics.getFont(font).face.charToGlyph
                assert [char for char in run if ord(char) not in glyphs] == [], (font, run)
