"""The erasure certificate's PDF: what a worker keeps between certificates (the font subsets of
the seeded letters, made, formatted and compressed once) changes no byte of a certificate, and
its tables are drawn as the tables they stand for."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from reportlab.platypus import Table

import exports.certificate
from exports import plain_paragraph, script_text
from exports.certificate import (
    CategoryOutcome,
    CertifiedRequest,
    ErasedStep,
    render_erasure_certificate,
)
from exports.made_for import MadeFor
from exports.pdf import data_table
from exports.plain_paragraph import plain_paragraph as plain_paragraph_of
from inventory.model import ErasureAction
from tests.exports.conftest import translations_for
from tests.exports.demo_subject import load_point3_map, qpdf_check
from tests.exports.pdf_marks import page_marks

DELETE, ANONYMIZE, RETAIN = ErasureAction.DELETE, ErasureAction.ANONYMIZE, ErasureAction.RETAIN
TYPICAL = [
    CategoryOutcome("contact", ANONYMIZE, 1, ("learner",)),
    CategoryOutcome("account", ANONYMIZE, 1, ("learner",)),
    CategoryOutcome("billing_cards", DELETE, 2, ("payment_card",)),
    CategoryOutcome(
        "invoices",
        RETAIN,
        5,
        ("invoice_line", "invoice"),
        withdrawn=5,
        kept_until=(date(2034, 12, 31), date(2036, 12, 31)),
    ),
    CategoryOutcome("optional_profile", DELETE, 1, ("learner_profile",)),
    CategoryOutcome("support", DELETE, 7, ("support_message", "support_thread")),
    CategoryOutcome("purchases", DELETE, 4, ("course_purchase",)),
    CategoryOutcome("tracking", DELETE, 8, ("tracking_event",)),
    CategoryOutcome("marketing", DELETE, 2, ("marketing_subscription",)),
]
RECIPIENTS = ["cci_paris_idf", "payment_provider", "email_provider", "hosting"]


def certificate(
    lang: str = "fr",
    reference: str = "DSR-2026-000001",
    day: int = 7,
    outcomes: list[CategoryOutcome] = TYPICAL,
    **more: object,
) -> bytes:
    return render_erasure_certificate(
        load_point3_map(),
        CertifiedRequest(
            reference=reference,
            received_at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
            completed_at=datetime(2026, 3, day, 9, 0, tzinfo=UTC),
            language=lang,
            address_kept_until=datetime(2031, 3, day, 9, 0, tzinfo=UTC),
            made_for=more.pop("made_for", None),  # type: ignore[arg-type]
        ),
        outcomes,
        RECIPIENTS,
        translations_for(lang),
        **more,  # type: ignore[arg-type]
    )


def forget_what_is_kept() -> None:
    plain_paragraph._SHARED_GRIDS.clear()
    plain_paragraph._SHARED_PARAGRAPHS.clear()
    plain_paragraph._SHARED_PIECES.clear()
    script_text._SUBSETS.clear()
    script_text._SUBSET_OBJECTS.clear()
    script_text._FORMATTED.clear()


def test_a_certificate_drawn_after_others_is_the_certificate_drawn_first(tmp_path: Path) -> None:
    forget_what_is_kept()
    first = certificate()
    qpdf_check(first, tmp_path)
    subsets = dict(script_text._SUBSETS)
    assert subsets and script_text._SUBSET_OBJECTS and script_text._FORMATTED  # made once
    assert plain_paragraph._SHARED_PIECES  # the map's and the desk's lines encoded once
    english = certificate("en", "DSR-2026-000002", 9)
    assert subsets == script_text._SUBSETS  # the same letters' codes: the same subsets
    certificate(
        "en",
        "DSR-2026-000003",
        12,
        TYPICAL[2:5],
        made_for=MadeFor("Łukasz Wróblewski", "lukasz@example.com", "representative"),
        told_on={"hosting": "3 mars 2026"},
        shared=[ErasedStep("support", "support_participant", ANONYMIZE, 2, kind="side")],
        mentions_erased=(2, 1),
    )
    assert certificate() == first
    assert certificate("en", "DSR-2026-000002", 9) == english
    forget_what_is_kept()
    assert certificate() == first


def test_a_certificate_draws_its_tables_as_tables_would(monkeypatch: pytest.MonkeyPatch) -> None:
    """The certificate's tables of categories are drawn by `DataGrid`s: the same marks as
    reportlab's tables of the same cells."""
    grids = page_marks(io.BytesIO(certificate("en")))

    def table(
        header: list[str], rows: list[list[str]], *, col_widths: list[float], **_: object
    ) -> Table:
        return data_table(header, rows, col_widths=col_widths, paragraph=plain_paragraph_of)

    monkeypatch.setattr(exports.certificate, "plain_data_table", table)
    assert page_marks(io.BytesIO(certificate("en"))) == grids


def test_a_certificate_keeps_none_of_its_persons_data_between_documents() -> None:
    """Only the map's and the desk's words are kept for the next certificate: not the
    reference, the dates or the counts of the person's."""
    forget_what_is_kept()
    certificate("en", "DSR-2026-004217", 9)
    kept = [key[0] for key in plain_paragraph._SHARED_PARAGRAPHS]
    kept += [line for _, line in plain_paragraph._SHARED_PIECES]
    assert {"Erasure certificate", "Invoices", "Received on"} <= set(kept)
    personal = ("DSR-2026-004217", "9 March 2026", "2036", "2034")
    assert not [text for text in kept if any(part in text for part in personal)]
    assert not [text for text in kept if text.isdigit()]
