"""The register of processing activities (GDPR Art. 30, R33), derived from the data map.

One entry per processing activity of the map (`activities`), plus the desk's own handling of the
requests, which every register includes. The register gives, for each, what Art. 30(1) asks, as
the CNIL's model register: controller and DPO, purposes, legal basis, the persons it concerns, the
categories of data it uses (by their titles), recipients, transfers outside the EU/EEA with their
mechanism, retention per category of data and security measures. It is produced as rows (for the
dashboard), as CSV and XLSX (for a spreadsheet) and as PDF (to hand over), with its version when
the caller gives one. Its words are the catalogue's that the caller hands in, context "register".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from gettext import NullTranslations

from reportlab.lib.units import mm
from reportlab.platypus import Spacer
from reportlab.platypus.flowables import Flowable

from exports.csv_safe import csv_bytes, csv_delimiter
from exports.dates import edition_date
from exports.pdf import (
    CellValue,
    DocumentInfo,
    bullet_list,
    content_width,
    data_table,
    document_styles,
    key_value_table,
    render_pdf,
    safe_paragraph,
)
from exports.workbook import Sheet, xlsx_bytes
from inventory.model import (
    DESK_ACTIVITY,
    Activity,
    Category,
    Contact,
    DataMap,
    Duration,
    LegalBasis,
    Organisation,
    Recipient,
    country_name,
)

COLUMNS: tuple[str, ...] = (
    "activity_id",
    "activity",
    "controller",
    "dpo",
    "purposes",
    "legal_basis",
    "data_subjects",
    "data_categories",
    "special_data",
    "systems",
    "recipients",
    "transfers",
    "retention",
    "security_measures",
)
"""The register's columns, in order: keys of `ropa_rows` and of `ropa_headings`."""

# Columns whose lines are separate items (bulleted in the PDF), not the lines of one statement.
_LIST_COLUMNS = frozenset(
    {
        "purposes",
        "legal_basis",
        "data_subjects",
        "data_categories",
        "systems",
        "recipients",
        "transfers",
        "retention",
        "security_measures",
    }
)
_KIND_ORDER = ("internal", "processor", "third_party", "authority")
"""Recipients in the order of the CNIL's model: internal services, processors, third parties."""


@dataclass(frozen=True)
class DeskRetention:
    """The desk's own retention settings (R32), for its activity in the register: days a closed
    request and its audit log are kept, and days a report stays after its delivery."""

    closed_request_days: int
    delivery_days: int


@dataclass(frozen=True)
class Edition:
    """A version of the register: its number, date, the map's digest and the changes since the
    previous version, each a sentence in the register's language."""

    number: int
    produced: date
    digest: str
    changes: Sequence[str] = field(default_factory=tuple)


def _language(lang: str) -> str:
    """Return the register's language: French for "fr", English for anything else (as `Text`)."""
    return "fr" if lang == "fr" else "en"


def ropa_headings(translations: NullTranslations) -> dict[str, str]:
    """Return the heading of each column of `COLUMNS`, in order, in the catalogue's language."""
    t = translations
    return {
        "activity_id": t.pgettext("register", "Identifier"),
        "activity": t.pgettext("register", "Processing activity"),
        "controller": t.pgettext("register", "Controller"),
        "dpo": t.pgettext("register", "Data protection officer (DPO)"),
        "purposes": t.pgettext("register", "Purposes"),
        "legal_basis": t.pgettext("register", "Legal basis"),
        "data_subjects": t.pgettext("register", "Categories of data subjects"),
        "data_categories": t.pgettext("register", "Categories of personal data"),
        "special_data": t.pgettext("register", "Special categories of data (GDPR Art. 9 and 10)"),
        "systems": t.pgettext("register", "Storage systems"),
        "recipients": t.pgettext("register", "Recipients"),
        "transfers": t.pgettext("register", "Transfers outside the EU/EEA"),
        "retention": t.pgettext("register", "Retention period"),
        "security_measures": t.pgettext("register", "Security measures"),
    }


def _yes_no(value: bool, translations: NullTranslations) -> str:
    t = translations
    return t.pgettext("register", "Yes") if value else t.pgettext("register", "No")


def _recipient_kind(kind: str, translations: NullTranslations) -> str:
    """Name a kind of recipient of the map (`Recipient.kind`) in the register's words."""
    t = translations
    return {
        "third_party": t.pgettext("register", "third party"),
        "processor": t.pgettext("register", "processor"),
        "internal": t.pgettext("register", "internal recipient"),
        "authority": t.pgettext("register", "public authority"),
    }[kind]


def _contact(contact: Contact) -> str:
    parts = [contact.name, contact.address, contact.email, contact.phone, contact.website]
    return ", ".join(part for part in parts if part)


def _controller_lines(organisation: Organisation) -> list[str]:
    """Name the controller: the organisation, then how to reach it, without saying things twice."""
    shown = {organisation.name, organisation.address}
    contact = organisation.controller
    parts = [contact.name, contact.address, contact.email, contact.phone, contact.website]
    return [
        f"{organisation.name}, {organisation.address}",
        ", ".join(part for part in parts if part and part not in shown),
    ]


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _column_label(data_map: DataMap, category: Category, column: str, lang: str) -> str:
    """Name a `table.column` by its label in the map (this category's first), else by itself."""
    candidates = [*category.fields, *(f for c in data_map.categories.values() for f in c.fields)]
    field_ = next((f for f in candidates if f.column == column), None)
    return column if field_ is None else f"{field_.label.get(lang)} ({column})"


def _recipient_line(recipient: Recipient, lang: str, translations: NullTranslations) -> str:
    t = translations
    kind = _recipient_kind(recipient.kind, t)
    where = (
        kind if recipient.country is None else f"{kind}, {country_name(recipient.country, lang)}"
    )
    return t.pgettext("register", "%(name)s (%(kind)s): %(description)s") % {
        "name": recipient.name.get(lang),
        "kind": where,
        "description": recipient.description.get(lang),
    }


def _transfer_line(recipient: Recipient, lang: str, translations: NullTranslations) -> str:
    t = translations
    mechanism = recipient.transfer_mechanism
    safeguards = recipient.transfer_safeguards
    ground = [
        mechanism.describe(t) if mechanism else t.pgettext("register", "no mechanism stated"),
        *([safeguards.get(lang)] if safeguards else []),
    ]
    return t.pgettext("register", "%(name)s (%(country)s): %(mechanism)s") % {
        "name": recipient.name.get(lang),
        "country": country_name(recipient.country or "", lang),
        "mechanism": " — ".join(ground),
    }


def _retention_line(
    data_map: DataMap, category: Category, lang: str, translations: NullTranslations
) -> str:
    """Say one category's period, from when, on what condition and on what ground, in a line."""
    t = translations
    retention = category.retention
    line = t.pgettext("register", "%(category)s: %(period)s from %(start)s (%(source)s)") % {
        "category": category.title.get(lang),
        "period": retention.period.describe(t),
        "start": retention.describe_start(
            _column_label(data_map, category, retention.from_, lang), t
        ),
        "source": retention.source.get(lang),
    }
    if retention.condition is not None:
        line += ", " + retention.condition.get(lang)
    return line


def _legal_basis_lines(
    activity: Activity, categories: list[Category], lang: str, translations: NullTranslations
) -> list[str]:
    """The activity's own ground when the map gives one, else the grounds of its categories."""
    t = translations
    if activity.legal_basis is not None:
        detail = activity.legal_basis_detail
        return [activity.legal_basis.describe(t), *([detail.get(lang)] if detail else [])]
    lines = []
    for category in categories:
        if category.legal_bases:  # several grounds: one line each, with the purposes it covers
            lines += [
                _of_category(category, g.describe(lang, t), lang, t) for g in category.grounds
            ]
            continue
        basis = category.grounds[0].basis.describe(t)
        if category.legal_basis_detail is not None:
            basis += f" — {category.legal_basis_detail.get(lang)}"
        lines.append(_of_category(category, basis, lang, t))
    return lines


def _of_category(
    category: Category, details: str, lang: str, translations: NullTranslations
) -> str:
    """Say something of one category of data, after its title."""
    return translations.pgettext("register", "%(category)s: %(details)s") % {
        "category": category.title.get(lang),
        "details": details,
    }


def _activity_lines(
    data_map: DataMap,
    activity_id: str,
    activity: Activity,
    lang: str,
    translations: NullTranslations,
) -> dict[str, list[str]]:
    """Return the lines of text of each column for one processing activity of the map."""
    t = translations
    organisation = data_map.organisation
    categories = [data_map.categories[key] for key in activity.categories]

    systems = _unique(
        [
            data_map.systems[f.system or category.system].title.get(lang)
            for category in categories
            for f in category.fields
        ]
    )
    keys = _unique([key for category in categories for key in category.recipients])
    recipients = sorted(
        (data_map.recipients[key] for key in keys), key=lambda r: _KIND_ORDER.index(r.kind)
    )
    transfers = [_transfer_line(r, lang, t) for r in recipients if r.outside_eea]

    return {
        "activity_id": [activity_id],
        "activity": [activity.name.get(lang)],
        "controller": _controller_lines(organisation),
        "dpo": [_contact(organisation.dpo)],
        "purposes": [purpose.get(lang) for purpose in activity.purposes],
        "legal_basis": _legal_basis_lines(activity, categories, lang, t),
        "data_subjects": [subject.get(lang) for subject in activity.data_subjects],
        "data_categories": [
            _of_category(c, ", ".join(_unique([f.label.get(lang) for f in c.fields])), lang, t)
            for c in categories
        ],
        "special_data": [_yes_no(any(c.special for c in categories), t)],
        "systems": systems,
        "recipients": [_recipient_line(r, lang, t) for r in recipients]
        or [t.pgettext("register", "None")],
        "transfers": transfers or [organisation.transfers_outside_eu.get(lang)],
        "retention": [_retention_line(data_map, c, lang, t) for c in categories],
        "security_measures": [
            measure.get(lang)
            for measure in [*organisation.security_measures, *activity.security_measures]
        ]
        or [t.pgettext("register", "Not stated")],
    }


def _days(days: int, translations: NullTranslations) -> str:
    return Duration(days=days, iso=f"P{days}D").describe(translations)


def _desk_lines(
    data_map: DataMap, desk: DeskRetention, lang: str, translations: NullTranslations
) -> dict[str, list[str]]:
    """Return the lines of the desk's own activity: the handling of data-subject requests."""
    t = translations
    organisation = data_map.organisation
    return {
        "activity_id": [DESK_ACTIVITY],
        "activity": [t.pgettext("register", "Handling of data-subject requests")],
        "controller": _controller_lines(organisation),
        "dpo": [_contact(organisation.dpo)],
        "purposes": [
            t.pgettext(
                "register",
                "Receive, verify and answer the requests of people exercising their rights "
                "(GDPR Art. 15 to 22)",
            ),
            t.pgettext(
                "register",
                "Prove that each request was answered as the law requires (GDPR Art. 5(2))",
            ),
        ],
        "legal_basis": [
            LegalBasis.LEGAL_OBLIGATION.describe(t),
            t.pgettext("register", "GDPR Art. 12 to 22"),
        ],
        "data_subjects": [
            t.pgettext("register", "People exercising their rights, and their representatives")
        ],
        "data_categories": [
            t.pgettext(
                "register",
                "Requests: the requester's identity and address, the request, its verification "
                "and its answer",
            ),
            t.pgettext("register", "Audit log of the handling of each request"),
            t.pgettext("register", "Reports and exports of the data, delivered to the requester"),
        ],
        "special_data": [_yes_no(False, t)],
        "systems": [t.pgettext("register", "The privacy desk's own store")],
        "recipients": [t.pgettext("register", "None")],
        "transfers": [organisation.transfers_outside_eu.get(lang)],
        "retention": [
            t.pgettext("register", "Requests and their audit log: %(period)s after closing")
            % {"period": _days(desk.closed_request_days, t)},
            t.pgettext("register", "Reports and exports: until delivered, then %(period)s")
            % {"period": _days(desk.delivery_days, t)},
        ],
        "security_measures": [m.get(lang) for m in organisation.security_measures]
        or [t.pgettext("register", "Not stated")],
    }


def _activities(
    data_map: DataMap, desk: DeskRetention, lang: str, translations: NullTranslations
) -> list[dict[str, list[str]]]:
    return [
        *(
            _activity_lines(data_map, activity_id, activity, lang, translations)
            for activity_id, activity in data_map.activities.items()
        ),
        _desk_lines(data_map, desk, lang, translations),
    ]


def register_entries(
    data_map: DataMap, lang: str, translations: NullTranslations, desk: DeskRetention
) -> list[dict[str, list[str]]]:
    """Return the lines of each column (keys of `COLUMNS`) of every activity of the register, the
    desk's own last: what the register and the privacy notice (exports.notice) both say."""
    return _activities(data_map, desk, _language(lang), translations)


def ropa_rows(
    data_map: DataMap, lang: str, translations: NullTranslations, desk: DeskRetention
) -> list[dict[str, str]]:
    """Return one row per processing activity, keyed by `COLUMNS`; multi-line cells use "\\n".

    `lang` picks the map's texts, `translations` (the catalogue of the same language) the words,
    `desk` the retention of the desk's own activity, the last row.
    """
    language = _language(lang)
    return [
        {column: "\n".join(lines[column]) for column in COLUMNS}
        for lines in _activities(data_map, desk, language, translations)
    ]


def _table(
    data_map: DataMap, lang: str, translations: NullTranslations, desk: DeskRetention
) -> tuple[list[str], list[list[str]]]:
    headings = ropa_headings(translations)
    rows = ropa_rows(data_map, lang, translations, desk)
    return [headings[c] for c in COLUMNS], [[row[c] for c in COLUMNS] for row in rows]


def ropa_csv(
    data_map: DataMap, lang: str, translations: NullTranslations, desk: DeskRetention
) -> bytes:
    """Return the register as CSV for a spreadsheet in `lang` (`;` in French): headings, then one
    row per activity."""
    header, rows = _table(data_map, lang, translations, desk)
    return csv_bytes(header, rows, delimiter=csv_delimiter(_language(lang)))


def ropa_xlsx(
    data_map: DataMap,
    lang: str,
    translations: NullTranslations,
    desk: DeskRetention,
    *,
    edition: Edition | None = None,
) -> bytes:
    """Return the register as an XLSX workbook: one row per activity, and with `edition` a second
    sheet giving its version (number, date, the map's digest, changes since the previous one)."""
    t = translations
    header, rows = _table(data_map, lang, translations, desk)
    title = t.pgettext("register", "Record of processing activities")
    sheets = [Sheet(name=title, header=header, rows=rows)]
    if edition is not None:
        (label, number), *more = edition_lines(edition, lang, t)
        sheets.append(
            Sheet(
                name=label,
                header=[label, number[0]],
                rows=[[label, "\n".join(lines)] for label, lines in more],
            )
        )
    return xlsx_bytes(sheets, title=f"{title} — {data_map.organisation.name}")


def edition_lines(
    edition: Edition, lang: str, translations: NullTranslations, *, digest: bool = True
) -> list[tuple[str, list[str]]]:
    """Say a version of the register (or of the notice made from it) as (label, lines): its
    number, date, the map's digest (unless `digest` is false) and the changes since the previous
    version ("No change" for none), in the words of `translations`."""
    t = translations
    lines = [
        (t.pgettext("register", "Version"), [str(edition.number)]),
        (t.pgettext("register", "Edition of"), [edition_date(edition.produced, lang)]),
        (t.pgettext("register", "Digest of the data map"), [edition.digest]),
        (
            t.pgettext("register", "Changes since the previous version"),
            list(edition.changes) or [t.pgettext("register", "No change")],
        ),
    ]
    return lines if digest else [lines[0], lines[1], lines[3]]


def _edition_rows(
    edition: Edition, lang: str, translations: NullTranslations
) -> list[tuple[str, CellValue]]:
    *facts, (changed, changes) = edition_lines(edition, lang, translations)
    rows: list[tuple[str, CellValue]] = [(label, lines[0]) for label, lines in facts]
    return [*rows, (changed, bullet_list(changes, document_styles().cell))]


def ropa_pdf(
    data_map: DataMap,
    lang: str,
    translations: NullTranslations,
    desk: DeskRetention,
    *,
    edition: Edition | None = None,
) -> bytes:
    """Return the register as a PDF: the controller and DPO, a summary, then one sheet per activity.

    `edition` is the version printed (number, date, digest of the map, changes); none is printed
    without it, so that the same map always gives the same bytes.
    """
    language = _language(lang)
    t = translations
    headings = ropa_headings(t)
    styles = document_styles()
    width = content_width()
    organisation = data_map.organisation
    activities = _activities(data_map, desk, language, t)
    title = t.pgettext("register", "Record of processing activities")

    general: list[tuple[str, CellValue]] = [
        (headings["controller"], "\n".join(_controller_lines(organisation))),
        (headings["dpo"], _contact(organisation.dpo)),
        (
            t.pgettext("register", "Supervisory authority"),
            _contact(organisation.supervisory_authority),
        ),
        (
            t.pgettext("register", "Transfers outside the EU/EEA (general policy)"),
            organisation.transfers_outside_eu.get(language),
        ),
        (t.pgettext("register", "Processing activities recorded"), str(len(activities))),
    ]
    if edition is not None:
        general += _edition_rows(edition, language, t)

    summary_rows = [
        [
            str(number),
            lines["activity"][0],
            "\n".join(lines["data_subjects"]),
            lines["special_data"][0],
        ]
        for number, lines in enumerate(activities, start=1)
    ]

    story: list[Flowable] = [
        safe_paragraph(title, styles.title),
        safe_paragraph(
            t.pgettext("register", "GDPR Article 30 — %(organisation)s")
            % {"organisation": organisation.name},
            styles.subtitle,
        ),
        key_value_table(t.pgettext("register", "General information"), general, width=width),
        Spacer(1, 6 * mm),
        safe_paragraph(t.pgettext("register", "Summary of the activities"), styles.heading),
        data_table(
            [
                t.pgettext("register", "No."),
                headings["activity"],
                headings["data_subjects"],
                headings["special_data"],
            ],
            summary_rows,
            col_widths=[12 * mm, 60 * mm, width - 107 * mm, 35 * mm],
        ),
        Spacer(1, 6 * mm),
        safe_paragraph(t.pgettext("register", "Processing activities in detail"), styles.heading),
    ]
    detail_columns = [c for c in COLUMNS if c not in ("activity", "controller", "dpo")]
    for number, lines in enumerate(activities, start=1):
        rows: list[tuple[str, CellValue]] = [
            (
                headings[column],
                bullet_list(lines[column], styles.cell)
                if column in _LIST_COLUMNS
                else "\n".join(lines[column]),
            )
            for column in detail_columns
        ]
        heading = f"{number}. {lines['activity'][0]}"
        story += [key_value_table(heading, rows, width=width), Spacer(1, 6 * mm)]

    info = DocumentInfo(
        title=f"{title} — {organisation.name}",
        author=organisation.name,
        subject=t.pgettext("register", "Record of processing activities (GDPR Article 30)"),
        lang=language,
        footer=f"{title} — {organisation.name}",
    )
    return render_pdf(story, info)
