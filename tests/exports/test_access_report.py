"""The access report (Art. 15) of the demo platform's sample learner, and of harder subjects."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from dsr.demo.seed import SAMPLE_LEARNER_EMAIL
from exports import plain_paragraph, script_text
from exports.access_report import (
    ROWS_PER_CATEGORY,
    format_number,
    format_value,
    render_access_report,
)
from exports.dates import short_date, short_datetime
from inventory.collection import Collection
from inventory.loader import load_data_map
from tests.exports.conftest import translations_for
from tests.exports.demo_subject import (
    MAP_PATH,
    DemoPlatform,
    load_point3_map,
    qpdf_check,
    report_request,
)

LANGUAGES = ("fr", "en")
PARIS = ZoneInfo("Europe/Paris")
MARKUP = "<b>Zoé & Cie</b>"


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> DemoPlatform:
    return DemoPlatform.seed(
        tmp_path_factory.mktemp("demo") / "platform.sqlite3", load_point3_map()
    )


def render(
    collection: Collection,
    platform: DemoPlatform,
    email: str,
    lang: str,
    rows_per_category: int = ROWS_PER_CATEGORY,
) -> bytes:
    out = io.BytesIO()
    render_access_report(
        data_map=platform.data_map,
        collection=collection,
        request=report_request(email, lang),
        translations=translations_for(lang),
        out=out,
        rows_per_category=rows_per_category,
    )
    return out.getvalue()


@pytest.fixture
def report(platform: DemoPlatform, tmp_path: Path) -> Callable[..., bytes]:
    """Collect and render the report of `email` in `lang`, checking every PDF with qpdf."""

    def make(
        email: str,
        lang: str,
        on: DemoPlatform | None = None,
        rows_per_category: int = ROWS_PER_CATEGORY,
    ) -> bytes:
        source = on or platform
        collection = source.collect(email, tmp_path / f"collection-{lang}")
        pdf = render(collection, source, email, lang, rows_per_category)
        qpdf_check(pdf, tmp_path)
        return pdf

    return make


def flat(pdf_text: str) -> str:
    """The text with every run of white space made one space: lines wrap anywhere."""
    return re.sub(r"\s+", " ", pdf_text)


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


# --- the sample learner's report -------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_report_matches_golden_text(
    report: Callable[..., bytes],
    lang: str,
    pdf_text: Callable[[bytes], str],
    assert_golden: Callable[[str, str], None],
) -> None:
    assert_golden(f"access_report_{lang}.txt", pdf_text(report(SAMPLE_LEARNER_EMAIL, lang)))


def test_report_is_byte_stable(report: Callable[..., bytes]) -> None:
    assert report(SAMPLE_LEARNER_EMAIL, "fr") == report(SAMPLE_LEARNER_EMAIL, "fr")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_report_gives_every_article_15_item(
    report: Callable[..., bytes], platform: DemoPlatform, lang: str
) -> None:
    text = flat(text_of(report(SAMPLE_LEARNER_EMAIL, lang)))
    data_map = platform.data_map
    organisation = data_map.organisation
    expected = [
        organisation.name,
        organisation.dpo.email or "",
        "DSR-2026-0042",
        organisation.supervisory_authority.name,
        flat(organisation.automated_decisions.get(lang)),
        flat(organisation.transfers_outside_eu.get(lang)),
        "Chambre de commerce et d'industrie de Paris Île-de-France",
    ]
    for category in data_map.categories.values():
        if category.title.get(lang) not in text:
            continue  # a category without rows for her (prospects)
        expected += [flat(p.get(lang)) for p in category.all_purposes]
        expected += [basis.describe(translations_for(lang)) for basis in category.bases]
        expected += [flat(category.source.get(lang))]
        expected += [flat(category.retention.source.get(lang))]
        expected += [f.label.get(lang) for f in category.fields if f.disclose]
    words = {
        "fr": ["Rectification", "Effacement", "Limitation du traitement", "Opposition",
               "Portabilité", "Comment exercer vos droits", "réclamation", "Page 1 sur"],
        "en": ["Rectification", "Erasure", "Restriction of processing", "Objection",
               "Portability", "How to exercise your rights", "complaint", "Page 1 of"],
    }[lang]  # fmt: skip
    missing = [item for item in [*expected, *words] if flat(item) not in text]
    assert missing == []
    assert "Prospects" not in text and "prospects)" not in text


def test_report_metadata(report: Callable[..., bytes]) -> None:
    reader = PdfReader(io.BytesIO(report(SAMPLE_LEARNER_EMAIL, "en")))
    assert reader.metadata is not None
    assert reader.metadata.title == "Copy of your personal data — POINT3"
    assert reader.metadata.author == "POINT3"
    fonts = {
        str(font["/BaseFont"])
        for page in reader.pages
        for font in page["/Resources"]["/Font"].values()  # type: ignore[index]
    }
    assert all("DejaVuSans" in font for font in fonts), fonts


def test_report_has_no_row_of_another_person(report: Callable[..., bytes]) -> None:
    text = flat(text_of(report(SAMPLE_LEARNER_EMAIL, "fr")))
    others = [
        "zoe.lefevte@example.org",
        "Lefevte",
        "lefevre.zoe@gmail.example",
        "zlefevre",
        "Nice",
        "Pully",
        "+33698765432",
        "lukasz.wroblewski@example.com",
        "Wróblewski",
        "Je confirme, je suis le collègue de Zoé",
    ]
    assert [other for other in others if other in text] == []
    assert text.count("[masqué : données d'une autre personne]") == 1
    # Her own message naming her colleague is hers, and stays.
    assert "mon collègue Łukasz et moi" in text


def test_fields_not_disclosed_never_appear(
    report: Callable[..., bytes], platform: DemoPlatform
) -> None:
    text = flat(text_of(report(SAMPLE_LEARNER_EMAIL, "fr")))
    assert "pm_1Zoe4fKx9QvR2LmT7sYw3NbH" not in text
    assert "Jeton du prestataire de paiement" not in text
    assert "Empreinte du mot de passe" not in text
    assert "$2b$" not in text


def test_data_is_printed_as_text_never_as_markup(
    report: Callable[..., bytes], platform: DemoPlatform, tmp_path: Path
) -> None:
    changed = platform.copy(tmp_path / "markup.sqlite3")
    changed.execute("UPDATE learner SET first_name = :name WHERE id = 1", name=MARKUP)
    changed.execute("UPDATE survey_response SET comment = :text WHERE id = 2", text="a < b & c")
    text = text_of(report(SAMPLE_LEARNER_EMAIL, "en", on=changed))
    assert MARKUP in text
    assert "a < b & c" in text


@pytest.mark.parametrize(
    ("email", "names"),
    [
        ("aegir.thorsson@example.com", ["Ægir", "Þórsson", "Reykjavík"]),
        ("nguyen.thihoa@example.net", ["Nguyễn", "Thị Hoa"]),
        ("lukasz.wroblewski@example.com", ["Łukasz", "Wróblewski"]),
    ],
)
def test_names_beyond_latin_1_are_extracted_as_typed(
    report: Callable[..., bytes], email: str, names: list[str]
) -> None:
    text = text_of(report(email, "en"))
    assert [name for name in names if name not in text] == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_subject_with_no_data_gets_a_report_saying_so(
    report: Callable[..., bytes], lang: str
) -> None:
    text = flat(text_of(report("nobody@example.org", lang)))
    assert {
        "fr": "Nous n'avons trouvé aucune donnée personnelle vous concernant",
        "en": "We found no personal data about you",
    }[lang] in text
    assert {"fr": "Vos droits", "en": "Your rights"}[lang] in text


def test_a_long_category_is_laid_out_on_landscape_pages_with_repeated_headers(
    report: Callable[..., bytes], platform: DemoPlatform, tmp_path: Path
) -> None:
    changed = platform.copy(tmp_path / "heavy.sqlite3")
    changed.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1200) "
        "INSERT INTO tracking_event (learner_id, cookie_id, occurred_at, page_url, device) "
        "SELECT 1, 'c41d2e8b-9f07-4a3c-b6e5-d8a1f2037c96', '2026-10-01 08:00:00.000000', "
        "'https://www.example.org/fr/page/' || i, 'Firefox' FROM n"
    )
    pdf = report(SAMPLE_LEARNER_EMAIL, "en", on=changed, rows_per_category=2000)
    reader = PdfReader(io.BytesIO(pdf))
    landscape = [page for page in reader.pages if page.mediabox.width > page.mediabox.height]
    assert len(landscape) > 10
    # The first holds the category's description; every other one repeats the table's header.
    assert all("Page viewed" in page.extract_text() for page in landscape[1:])
    assert "1208 records" in flat(text_of(pdf))


# --- values in the reader's locale -----------------------------------------------------------


def test_values_are_written_in_the_readers_locale() -> None:
    moment = datetime(2026, 11, 25, 13, 5, tzinfo=UTC)
    assert short_datetime(moment, "fr", PARIS) == "25/11/2026 14:05"
    assert short_datetime(moment, "en", PARIS) == "25 Nov 2026 14:05"
    assert short_datetime(datetime(2026, 7, 1, 12, 0, tzinfo=UTC), "fr", PARIS) == (
        "01/07/2026 14:00"
    )
    assert short_date(date(1994, 5, 17), "en") == "17 May 1994"
    assert format_number(Decimal("1234.50"), "fr") == "1\u00a0234,50"
    assert format_number(Decimal("1234.50"), "en") == "1,234.50"
    assert format_number(-1234567.5, "en") == "-1,234,567.50"
    assert format_number(34900, "fr") == "34\u00a0900"
    assert format_number(2028, "en") == "2028"
    assert value(True, "fr") == "Oui"
    assert value(None, "en") == "—"


def value(raw: object, lang: str, stored_zone: ZoneInfo = PARIS, *, date_only: bool = False) -> str:
    return format_value(
        raw,
        lang,
        translations_for(lang),
        zone=PARIS,
        stored_zone=stored_zone,
        date_only=date_only,
    )


def test_a_time_stored_without_a_zone_is_read_in_its_systems_zone() -> None:
    midnight = datetime(2026, 7, 1, 0, 0)  # as a database without zones gives it back
    assert value(midnight, "fr") == "01/07/2026 00:00"
    assert value(midnight, "fr", ZoneInfo("UTC")) == "01/07/2026 02:00"
    assert value(midnight, "fr", ZoneInfo("America/New_York")) == "01/07/2026 06:00"
    # An aware moment is an instant whatever the system's zone.
    assert value(datetime(2026, 7, 1, tzinfo=UTC), "en", ZoneInfo("Asia/Tokyo")) == (
        "1 Jul 2026 02:00"
    )
    with pytest.raises(ValueError, match="without a zone"):
        short_datetime(midnight, "fr", PARIS)


def test_a_date_column_is_shown_as_a_date_even_when_the_driver_gives_a_datetime() -> None:
    assert value(datetime(1994, 5, 17, 0, 0), "fr", date_only=True) == "17/05/1994"
    assert value(date(1994, 5, 17), "en", ZoneInfo("UTC")) == "17 May 1994"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_equal_numbers_are_still_written_apart(lang: str) -> None:
    """Numbers are formatted once per process: equal ones that read otherwise stay apart."""
    comma = "," if lang == "fr" else "."
    for _ in range(2):  # the second time from the cache
        assert format_number(1, lang) == "1"
        assert format_number(1.0, lang) == f"1{comma}00"
        assert format_number(Decimal("1.0"), lang) == f"1{comma}0"
        assert format_number(Decimal("1.000"), lang) == f"1{comma}000"
        assert format_number(-0.0, lang) == f"-0{comma}00"
        assert format_number(0.0, lang) == f"0{comma}00"


def test_reports_drawn_on_several_threads_at_once_are_those_drawn_alone(
    platform: DemoPlatform, tmp_path: Path
) -> None:
    """A worker answers requests on several threads: reports drawn at the same time are each
    whole and the same as the report drawn alone (reportlab's state is not shared mid-draw)."""
    collections = {
        lang: platform.collect(SAMPLE_LEARNER_EMAIL, tmp_path / f"collection-{lang}")
        for lang in ("fr", "en")
    }
    alone = {
        lang: render(c, platform, SAMPLE_LEARNER_EMAIL, lang) for lang, c in collections.items()
    }
    jobs = [lang for lang in ("fr", "en") for _ in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        drawn = list(
            pool.map(
                lambda lang: (
                    lang,
                    render(collections[lang], platform, SAMPLE_LEARNER_EMAIL, lang),
                ),
                jobs,
            )
        )
    assert all(pdf == alone[lang] for lang, pdf in drawn)


def test_a_report_drawn_after_others_is_the_report_drawn_first(
    platform: DemoPlatform, tmp_path: Path
) -> None:
    """What a worker keeps between reports (each category's processing laid out and drawn once,
    the embedded font subsets made once) changes no byte of a report: drawn after reports of
    other people, in other languages and other scripts, it is the report drawn with nothing
    kept."""
    forget_what_is_kept()
    sample = platform.collect(SAMPLE_LEARNER_EMAIL, tmp_path / "sample")
    first = render(sample, platform, SAMPLE_LEARNER_EMAIL, "fr")
    kept = [grid._drawn for grid in plain_paragraph._SHARED_GRIDS.values()]
    assert kept and all(drawn and drawn.code is not None for drawn in kept)  # drawn once, kept
    assert script_text._SUBSETS
    for email, lang in (
        ("nguyen.thihoa@example.net", "en"),
        ("lukasz.wroblewski@example.com", "fr"),
        ("aegir.thorsson@example.com", "fr"),
    ):
        render(platform.collect(email, tmp_path / email), platform, email, lang)
    assert render(sample, platform, SAMPLE_LEARNER_EMAIL, "fr") == first
    forget_what_is_kept()
    assert render(sample, platform, SAMPLE_LEARNER_EMAIL, "fr") == first


def forget_what_is_kept() -> None:
    """Drop what the process keeps of the map's and the desk's words between documents."""
    plain_paragraph._SHARED_GRIDS.clear()
    plain_paragraph._SHARED_PARAGRAPHS.clear()
    plain_paragraph._SHARED_PIECES.clear()
    script_text._SUBSETS.clear()


def test_a_report_keeps_none_of_its_persons_data_between_documents(
    platform: DemoPlatform, tmp_path: Path
) -> None:
    """The words kept for the next report (headings, labels, the rights, each category's
    processing) are the map's and the desk's: not the person's values, their record counts or
    the request's reference."""
    forget_what_is_kept()
    sample = platform.collect(SAMPLE_LEARNER_EMAIL, tmp_path / "sample")
    for lang in LANGUAGES:
        render(sample, platform, SAMPLE_LEARNER_EMAIL, lang)
    kept = [key[0] for key in plain_paragraph._SHARED_PARAGRAPHS]
    kept += [line for _, line in plain_paragraph._SHARED_PIECES]
    assert {"Prénom", "First name", "Vos droits", "Your rights"} <= set(kept)
    counts = r"(Enregistrement|Record) \d+ (sur|of) \d+|\d+ (enregistrements?|records?)|\d+"
    assert not [text for text in kept if re.fullmatch(counts, text)]
    kept += [str(key) for key in plain_paragraph._SHARED_GRIDS]
    personal = ("Zoé", "Lefèvre", "zoe.lefevre", "Lyon", "DSR-2026-0042", "FA2024", "+336")
    assert not [text for text in kept if any(part in text for part in personal)]


def test_a_report_of_a_changed_map_says_what_the_map_says_now(
    platform: DemoPlatform, tmp_path: Path
) -> None:
    """The desk reads its map again when the file changes: a report drawn after that shows the
    new titles, descriptions and texts, whatever was kept of the map's words before."""
    sample = platform.collect(SAMPLE_LEARNER_EMAIL, tmp_path / "sample")
    before = flat(text_of(render(sample, platform, SAMPLE_LEARNER_EMAIL, "fr")))
    assert "1. Coordonnées" in before and "Vos nom et prénom" in before
    text = MAP_PATH.read_text(encoding="utf-8")
    changes = {
        "fr: Coordonnées": "fr: Vos coordonnées",
        "Vos nom et prénom, adresse": "Vos prénom et nom, adresse",
        "POINT3 ne prend à votre sujet aucune décision": "POINT3 ne prend aucune décision",
    }
    for old, new in changes.items():
        assert old in text
        text = text.replace(old, new)
    (tmp_path / "map.yaml").write_text(text, encoding="utf-8")
    changed = DemoPlatform(platform.path, load_data_map(tmp_path / "map.yaml"))
    after = flat(text_of(render(sample, changed, SAMPLE_LEARNER_EMAIL, "fr")))
    assert "1. Vos coordonnées" in after and "1. Coordonnées" not in after
    assert "Vos prénom et nom, adresse" in after and "Vos nom et prénom" not in after
    assert "POINT3 ne prend aucune décision" in after
    assert flat(text_of(render(sample, platform, SAMPLE_LEARNER_EMAIL, "fr"))) == before
