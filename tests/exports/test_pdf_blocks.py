"""The shared PDF building blocks: text is never markup, pages are numbered, fonts embedded."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pypdf import PdfReader
from reportlab.platypus import PageBreak
from reportlab.platypus.flowables import Flowable

from exports.pdf import (
    DocumentInfo,
    bullet_list,
    content_width,
    data_table,
    document_styles,
    key_value_table,
    render_pdf,
    safe_markup,
    safe_paragraph,
)
from tests.exports.pdf_marks import page_marks

INFO = DocumentInfo(
    title="Attestation — Zoé", author="Atelier Éloïse", subject="Essai", lang="fr", footer="Pied"
)


def test_safe_markup_escapes_data_and_keeps_line_breaks() -> None:
    assert safe_markup("<b>Zoé & Cie</b>\r\nligne 2\rligne 3") == (
        "&lt;b&gt;Zoé &amp; Cie&lt;/b&gt;<br/>ligne 2<br/>ligne 3"
    )


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=200))
def test_any_text_makes_a_paragraph_that_lays_out(text: str) -> None:
    paragraph = safe_paragraph(text, document_styles().body)

    paragraph.wrap(content_width(), 10_000)


def make_story() -> list[Flowable]:
    """Build a fresh three-page story (reportlab consumes flowables as it lays them out)."""
    styles = document_styles()
    return [
        safe_paragraph("<b>Zoé & Cie</b>", styles.title),
        key_value_table(
            "Fiche <i>1</i>",
            [("Nom", "Łukasz Żółć"), ("Notes", bullet_list(["<a>", "b & c"], styles.cell))],
            width=content_width(),
        ),
        PageBreak(),
        data_table(["Col <1>", "Col 2"], [["x < y", "ő ű ğ"]], col_widths=[80, 80]),
        PageBreak(),
        safe_paragraph("fin", styles.body),
    ]


def test_blocks_render_text_literally_on_numbered_pages(
    pdf_pages_text: Callable[[bytes], list[str]],
) -> None:
    pdf = render_pdf(make_story(), INFO)
    pages = pdf_pages_text(pdf)

    assert len(pages) == 3
    assert "<b>Zoé & Cie</b>" in pages[0]
    assert "Fiche <i>1</i>" in pages[0]
    assert "Łukasz Żółć" in pages[0]
    assert "• <a>" in pages[0] and "• b & c" in pages[0]
    assert "Col <1>" in pages[1] and "x < y" in pages[1] and "ő ű ğ" in pages[1]
    for number, text in enumerate(pages, start=1):
        assert f"{number} / 3" in text.splitlines()
        assert "Pied" in text
    reader = PdfReader(io.BytesIO(pdf))
    assert reader.metadata is not None and reader.metadata.title == "Attestation — Zoé"
    assert str(reader.root_object["/Lang"]) == "fr"
    assert render_pdf(make_story(), INFO) == pdf


def test_data_table_needs_one_width_per_column() -> None:
    with pytest.raises(ValueError, match="one width per column"):
        data_table(["a", "b"], [], col_widths=[10])


def test_the_footer_is_drawn_alike_on_every_page() -> None:
    """The footer's operators, drawn once per document, are the same on every page, also for a
    footer in several fonts (Latin and Arabic); only the page number differs."""
    info = DocumentInfo(
        title="T", author="A", subject="S", lang="fr", footer="Pied — محمد علي — fin"
    )
    pdf = render_pdf(make_story(), info)
    footers = [
        [mark for mark in marks if mark[0] == "text" and mark[2][1] < 40]
        for marks in page_marks(io.BytesIO(pdf))
    ]
    assert len(footers) == 3
    numbers = [f"{number} / 3" for number in range(1, 4)]
    for footer, number in zip(footers, numbers, strict=True):
        assert [mark for mark in footer if mark[1] != number] == [
            mark for mark in footers[0] if mark[1] != numbers[0]
        ]
        assert len(footer) > 2 and any(mark[1] == number for mark in footer)
