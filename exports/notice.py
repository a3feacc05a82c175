"""The privacy notice (GDPR Art. 13 and 14, R52), derived from the data map.

What the organisation must tell people, assembled once as parts of labelled lines and paragraphs
that the public page (`/privacy`) and the PDF both render: who the controller, its DPO and the
supervisory authority are; per processing activity (the register's own lines, exports.ropa) its
purposes, legal basis, data, recipients, transfers and retention; where the data not obtained
from the person comes from (Art. 14); automated decisions; the rights and how to exercise them;
and, with an edition, the version with its date and what changed since the previous one. Its
words are the catalogue's that the caller hands in, context "notice" (and "register" for the
headings it shares with the register).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from gettext import NullTranslations

from reportlab.lib.units import mm
from reportlab.platypus import Spacer
from reportlab.platypus.flowables import Flowable

from exports.pdf import (
    CellValue,
    DocumentInfo,
    bullet_list,
    content_width,
    document_styles,
    key_value_table,
    render_pdf,
    safe_paragraph,
)
from exports.ropa import (
    DeskRetention,
    Edition,
    _contact,
    _controller_lines,
    _language,
    edition_lines,
    register_entries,
    ropa_headings,
)
from exports.ropa_versions import RegisterChange, describe_change
from inventory.model import DataMap, LocalText, Provenance

NOTICE_COLUMNS = (
    "purposes",
    "legal_basis",
    "data_subjects",
    "data_categories",
    "recipients",
    "transfers",
    "retention",
)
"""The register's columns that the notice gives for each activity, in order."""


@dataclass(frozen=True)
class Entry:
    """A label and its lines (each an item of a list)."""

    label: str
    lines: Sequence[str]


@dataclass(frozen=True)
class Part:
    """A section of the notice: a heading, labelled entries, paragraphs and maybe a link, shown
    in that order."""

    heading: str
    paragraphs: Sequence[str] = field(default_factory=tuple)
    entries: Sequence[Entry] = field(default_factory=tuple)
    link: tuple[str, str] | None = None
    """(words, address) of a link shown after the part."""


@dataclass(frozen=True)
class Notice:
    """The whole notice in one language."""

    lang: str
    title: str
    organisation: str
    parts: Sequence[Part]


def _rights(data_map: DataMap, form_url: str, lang: str, translations: NullTranslations) -> Part:
    t = translations
    authority = data_map.organisation.supervisory_authority
    rights = [
        t.pgettext("notice", "Access: obtain a copy of your data (GDPR Art. 15)."),
        t.pgettext("notice", "Rectification: have inaccurate data corrected (GDPR Art. 16)."),
        t.pgettext("notice", "Erasure: have your data deleted (GDPR Art. 17)."),
        t.pgettext("notice", "Restriction: have the use of your data limited (GDPR Art. 18)."),
        t.pgettext(
            "notice",
            "Portability: receive the data you provided in a reusable format (GDPR Art. 20).",
        ),
        t.pgettext(
            "notice",
            "Objection: object to a processing based on legitimate interests, and at any time "
            "to direct marketing (GDPR Art. 21).",
        ),
        t.pgettext(
            "notice",
            "Withdrawal of consent: withdraw your consent at any time, without affecting what "
            "was done before (GDPR Art. 7(3)).",
        ),
        t.pgettext(
            "notice",
            "Post-mortem directives: in France, give directives on what becomes of your data "
            "after your death (Art. 85 of the French Data Protection Act).",
        ),
        t.pgettext(
            "notice",
            "Complaint: lodge a complaint with the supervisory authority, %(authority)s "
            "(GDPR Art. 77).",
        )
        % {"authority": _contact(authority)},
    ]
    return Part(
        heading=t.pgettext("notice", "Your rights"),
        paragraphs=[
            t.pgettext("notice", "Exercising your rights is free; we answer within one month.")
        ],
        entries=[Entry(t.pgettext("notice", "Rights"), rights)],
        link=(t.pgettext("notice", "Exercise your rights with the request form"), form_url),
    )


def _sources(data_map: DataMap, lang: str, translations: NullTranslations) -> Part:
    """The categories whose data is not provided by the person, with where it comes from."""
    t = translations
    lines = [
        t.pgettext("register", "%(category)s: %(details)s")
        % {"category": category.title.get(lang), "details": category.source.get(lang)}
        for category in data_map.categories.values()
        if category.provenance is not Provenance.PROVIDED
    ]
    heading = t.pgettext("notice", "Data not obtained from you")
    if not lines:
        return Part(heading, paragraphs=[t.pgettext("notice", "All the data comes from you.")])
    return Part(heading, entries=[Entry(t.pgettext("notice", "Sources"), lines)])


def _version(edition: Edition, lang: str, translations: NullTranslations) -> Part:
    t = translations
    return Part(
        heading=t.pgettext("notice", "Version of this notice"),
        entries=[
            Entry(label, lines)
            for label, lines in edition_lines(edition, lang, translations, digest=False)
        ],
    )


def described_changes(
    changes: Sequence[RegisterChange], data_map: DataMap, lang: str, translations: NullTranslations
) -> list[str]:
    """Say each change of a version for the public: an activity, category or recipient still in
    the map by its title in `lang`, one removed by its identifier (all that is left of it)."""
    titles: dict[str, Mapping[str, LocalText]] = {
        "activities": {key: item.name for key, item in data_map.activities.items()},
        "categories": {key: item.title for key, item in data_map.categories.items()},
        "recipients": {key: item.name for key, item in data_map.recipients.items()},
    }
    said = []
    for change in changes:
        title = titles[change.section].get(change.key)
        key = change.key if title is None else title.get(_language(lang))
        said.append(
            describe_change(RegisterChange(change.section, key, change.change), translations)
        )
    return said


def privacy_notice(
    data_map: DataMap,
    lang: str,
    translations: NullTranslations,
    desk: DeskRetention,
    *,
    form_url: str,
    edition: Edition | None = None,
) -> Notice:
    """Return the notice of `data_map` in `lang` ("fr", else English), with `translations` of the
    same language, `desk` the retention of the requests' handling, `form_url` the address of the
    request form and `edition` the version shown (none without it)."""
    language = _language(lang)
    t = translations
    organisation = data_map.organisation
    headings = ropa_headings(t)
    parts = [
        Part(
            heading=t.pgettext("notice", "Who processes your data"),
            entries=[
                Entry(headings["controller"], _controller_lines(organisation)),
                Entry(headings["dpo"], [_contact(organisation.dpo)]),
                Entry(
                    t.pgettext("register", "Supervisory authority"),
                    [_contact(organisation.supervisory_authority)],
                ),
            ],
        ),
        *(
            Part(
                heading=lines["activity"][0],
                entries=[Entry(headings[column], lines[column]) for column in NOTICE_COLUMNS],
            )
            for lines in register_entries(data_map, language, t, desk)
        ),
        _sources(data_map, language, t),
        Part(
            heading=t.pgettext("notice", "Automated decisions"),
            paragraphs=[organisation.automated_decisions.get(language)],
        ),
        _rights(data_map, form_url, language, t),
    ]
    if edition is not None:
        parts.append(_version(edition, language, t))
    return Notice(
        lang=language,
        title=t.pgettext("notice", "Privacy notice"),
        organisation=organisation.name,
        parts=parts,
    )


def notice_pdf(notice: Notice) -> bytes:
    """Return the notice as a PDF: its title, then each part as a table of its entries."""
    styles = document_styles()
    width = content_width()
    story: list[Flowable] = [
        safe_paragraph(notice.title, styles.title),
        safe_paragraph(notice.organisation, styles.subtitle),
    ]
    for part in notice.parts:
        if part.entries:  # the table is headed by the part's heading
            rows: list[tuple[str, CellValue]] = [
                (entry.label, bullet_list(entry.lines, styles.cell)) for entry in part.entries
            ]
            story.append(key_value_table(part.heading, rows, width=width))
        else:
            story.append(safe_paragraph(part.heading, styles.heading))
        story += [safe_paragraph(text, styles.body) for text in part.paragraphs]
        if part.link is not None:
            words, address = part.link
            story += [safe_paragraph(words, styles.body), safe_paragraph(address, styles.body)]
        story.append(Spacer(1, 4 * mm))
    info = DocumentInfo(
        title=f"{notice.title} — {notice.organisation}",
        author=notice.organisation,
        subject=notice.title,
        lang=notice.lang,
        footer=f"{notice.title} — {notice.organisation}",
    )
    return render_pdf(story, info)
