"""Several legal bases per category (issue 20): the access report, the register and the notice
say which ground covers which purpose, on POINT3's map (saved cards) and on the webshop's
(reviews)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from pypdf import PdfReader

from dsr.demo.seed import SAMPLE_LEARNER_EMAIL
from exports.access_report import render_access_report
from exports.notice import notice_pdf, privacy_notice
from exports.ropa import DeskRetention, ropa_csv, ropa_rows
from inventory.loader import load_data_map
from inventory.model import DataMap
from tests.exports.conftest import translations_for
from tests.exports.demo_subject import DemoPlatform, load_point3_map, report_request

WEBSHOP_MAP = Path(__file__).parents[1] / "webshop" / "webshop_map.yaml"
DESK = DeskRetention(closed_request_days=1826, delivery_days=30)

CARD_LINES = {
    "en": [
        "Saved payment cards: Performance of a contract or pre-contractual steps (Art. 6(1)(b) "
        "GDPR), for: Pay for your course and exam purchases",
        "Saved payment cards: Consent of the data subject (Art. 6(1)(a) GDPR), for: Make later "
        "purchases easier, if you chose to save your card — You withdraw your consent by "
        "removing the card from your account.",
    ],
    "fr": [
        "Cartes de paiement enregistrées : Exécution d'un contrat ou de mesures "
        "précontractuelles (Art. 6(1)(b) RGPD), pour : Payer vos achats de cours et d'examens",
        "Cartes de paiement enregistrées : Consentement de la personne (Art. 6(1)(a) RGPD), "
        "pour : Faciliter vos achats ultérieurs, si vous avez choisi d'enregistrer votre carte "
        "— Vous retirez votre consentement en supprimant la carte de votre compte.",
    ],
}
REVIEW_LINES = {
    "en": [
        "Product reviews: Consent of the data subject (Art. 6(1)(a) GDPR), for: Publish "
        "customer reviews to inform other buyers",
        "Product reviews: Legitimate interests of the controller (Art. 6(1)(f) GDPR), for: "
        "Moderate the reviews and keep a record of what was published",
    ],
}


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def pdf_text(pdf: bytes) -> str:
    return flat(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages))


@pytest.fixture(scope="module")
def point3() -> DataMap:
    return load_point3_map()


@pytest.fixture(scope="module")
def webshop() -> DataMap:
    return load_data_map(WEBSHOP_MAP)


def register_lines(data_map: DataMap, lang: str) -> list[str]:
    rows = ropa_rows(data_map, lang, translations_for(lang), DESK)
    return [line for row in rows for line in row["legal_basis"].splitlines()]


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_register_gives_each_ground_of_the_saved_cards_with_its_purposes(
    point3: DataMap, lang: str
) -> None:
    lines = register_lines(point3, lang)
    for expected in CARD_LINES[lang]:
        assert expected in lines
    csv_text = flat(ropa_csv(point3, lang, translations_for(lang), DESK).decode("utf-8-sig"))
    assert all(flat(expected) in csv_text for expected in CARD_LINES[lang])


def test_the_webshop_register_and_notice_give_both_grounds_of_reviews(webshop: DataMap) -> None:
    lines = register_lines(webshop, "en")
    assert [line for line in lines if line.startswith("Product reviews:")] == REVIEW_LINES["en"]
    t = translations_for("en")
    notice = privacy_notice(webshop, "en", t, DESK, form_url="https://shop.example/dsr")
    bases = [
        line
        for part in notice.parts
        for entry in part.entries
        if entry.label == "Legal basis"
        for line in entry.lines
    ]
    assert all(expected in bases for expected in REVIEW_LINES["en"])
    text = pdf_text(notice_pdf(notice))
    assert all(flat(expected) in text for expected in REVIEW_LINES["en"])


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_notice_of_point3_says_which_ground_covers_which_card_purpose(
    point3: DataMap, lang: str
) -> None:
    notice = privacy_notice(point3, lang, translations_for(lang), DESK, form_url="https://x/")
    text = pdf_text(notice_pdf(notice))
    assert all(flat(expected) in text for expected in CARD_LINES[lang])


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory, point3: DataMap) -> DemoPlatform:
    return DemoPlatform.seed(tmp_path_factory.mktemp("demo") / "platform.sqlite3", point3)


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_access_report_says_which_ground_covers_which_card_purpose(
    platform: DemoPlatform, tmp_path: Path, lang: str
) -> None:
    collection = platform.collect(SAMPLE_LEARNER_EMAIL, tmp_path / "collection")
    out = io.BytesIO()
    render_access_report(
        data_map=platform.data_map,
        collection=collection,
        request=report_request(SAMPLE_LEARNER_EMAIL, lang),
        translations=translations_for(lang),
        out=out,
    )
    text = pdf_text(out.getvalue())
    section = text[text.index(CARD_LINES[lang][0].split(" : ")[0].split(": ")[0]) :]
    for expected in CARD_LINES[lang]:
        ground = expected.split(": ", 1)[1] if lang == "en" else expected.split(" : ", 1)[1]
        assert flat(ground) in section
