"""The certificate's recipients (Art. 19, R49): it says who was told, with the date, and who is
being told; never that a recipient "is informed" while its task is open."""

from __future__ import annotations

from datetime import UTC, datetime

from exports.certificate import CategoryOutcome, CertifiedRequest, render_erasure_certificate
from inventory.model import ErasureAction
from tests.exports.conftest import pdf_text, translations_for
from tests.exports.demo_subject import load_point3_map


def certificate(lang: str, recipients: list[str], told_on: dict[str, str]) -> str:
    pdf = render_erasure_certificate(
        load_point3_map(),
        CertifiedRequest(
            reference="DSR-2026-0042",
            received_at=datetime(2026, 11, 2, 9, 30, tzinfo=UTC),
            completed_at=datetime(2026, 11, 25, 13, 5, tzinfo=UTC),
            language=lang,
            address_kept_until=datetime(2031, 11, 26, 13, 5, tzinfo=UTC),
        ),
        [CategoryOutcome("exam_registration", ErasureAction.DELETE, 1, ("exam_registration",))],
        recipients,
        translations_for(lang),
        told_on=told_on,
    )
    return " ".join(pdf_text(pdf).split())


def test_it_tells_apart_the_recipients_told_and_those_being_told() -> None:
    text = certificate("en", ["cci_paris_idf", "hosting"], {"cci_paris_idf": "3 December 2026"})
    assert (
        "These recipients were told of the erasure: Chambre de commerce et d'industrie de Paris "
        "Île-de-France, on 3 December 2026"
    ) in text
    assert "We are telling these recipients of the erasure" in text
    assert "Platform hosting provider" in text
    assert "are told" not in text and "informed" not in text


def test_in_french_nothing_is_said_informed_while_being_told() -> None:
    text = certificate("fr", ["hosting"], {})
    assert "Nous informons ces destinataires de l'effacement" in text
    assert "sont informés" not in text and "ont été informés" not in text
