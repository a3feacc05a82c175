"""The register of processing activities (GDPR Art. 30, R33), derived from the data map.

One processing activity is one category of the map. The register gives, for each, what Art. 30(1)
asks: controller and DPO, purposes, legal basis, categories of people and of data, recipients,
transfers outside the EU/EEA with their safeguards, retention and security measures. It is
produced as rows (for the dashboard), as CSV (for a spreadsheet) and as PDF (to hand over).
Its words are the catalogue's that the caller hands in, context "register".
"""

from __future__ import annotations

from datetime import date
from gettext import NullTranslations

from reportlab.lib.units import mm
from reportlab.platypus import Spacer
from reportlab.platypus.flowables import Flowable

from exports.csv_safe import csv_bytes
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
from inventory.model import Category, Contact, DataMap, Organisation

COLUMNS: tuple[str, ...] = (
    "activity_id",
    "activity",
    "description",
    "controller",
    "dpo",
    "purposes",
    "legal_basis",
    "data_subjects",
    "data_categories",
    "special_data",
    "source",
    "systems",
    "recipients",
    "transfers",
    "retention",
    "security_measures",
)
"""The register's columns, in order: keys of `ropa_rows` and of `ropa_headings`."""

EEA_COUNTRIES = frozenset(
    {
        # The 27 EU member states (Greece as both its ISO code GR and the EU's EL)...
        "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "EL", "ES", "FI", "FR", "GR", "HR",
        "HU", "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
        # ...and the three other EEA states.
        "IS", "LI", "NO",
    }
)  # fmt: skip
"""Countries to which data goes without a transfer under GDPR Chapter V."""

# Columns whose lines are separate items (bulleted in the PDF), not the lines of one statement.
_LIST_COLUMNS = frozenset(
    {"purposes", "data_subjects", "systems", "recipients", "transfers", "security_measures"}
)


def _language(lang: str) -> str:
    """Return the register's language: French for "fr", English for anything else (as `Text`)."""
    return "fr" if lang == "fr" else "en"


def ropa_headings(translations: NullTranslations) -> dict[str, str]:
    """Return the heading of each column of `COLUMNS`, in order, in the catalogue's language."""
    t = translations
    return {
        "activity_id": t.pgettext("register", "Identifier"),
        "activity": t.pgettext("register", "Processing activity"),
        "description": t.pgettext("register", "Description"),
        "controller": t.pgettext("register", "Controller"),
        "dpo": t.pgettext("register", "Data protection officer (DPO)"),
        "purposes": t.pgettext("register", "Purposes"),
        "legal_basis": t.pgettext("register", "Legal basis"),
        "data_subjects": t.pgettext("register", "Categories of data subjects"),
        "data_categories": t.pgettext("register", "Categories of personal data"),
        "special_data": t.pgettext("register", "Special categories of data (GDPR Art. 9 and 10)"),
        "source": t.pgettext("register", "Source of the data"),
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
    field = next((f for f in candidates if f.column == column), None)
    return column if field is None else f"{field.label.get(lang)} ({column})"


def _activity_lines(
    data_map: DataMap,
    activity_id: str,
    category: Category,
    lang: str,
    translations: NullTranslations,
) -> dict[str, list[str]]:
    """Return the lines of text of each column for one processing activity."""
    t = translations
    organisation = data_map.organisation

    legal_basis = [category.legal_basis.describe(t)]
    if category.legal_basis_detail is not None:
        legal_basis.append(category.legal_basis_detail.get(lang))

    systems = _unique(
        [data_map.systems[f.system or category.system].title.get(lang) for f in category.fields]
    )

    recipients: list[str] = []
    transfers: list[str] = []
    for key in category.recipients:
        recipient = data_map.recipients.get(key)
        if recipient is None:
            raise ValueError(f"the activity '{activity_id}' names an unknown recipient '{key}'")
        country = recipient.country.upper()
        recipients.append(
            t.pgettext("register", "%(name)s (%(kind)s, %(country)s): %(description)s")
            % {
                "name": recipient.name.get(lang),
                "kind": _recipient_kind(recipient.kind, t),
                "country": country,
                "description": recipient.description.get(lang),
            }
        )
        if country not in EEA_COUNTRIES:
            safeguards = recipient.transfer_safeguards
            transfers.append(
                t.pgettext("register", "%(name)s (%(country)s): %(safeguards)s")
                % {
                    "name": recipient.name.get(lang),
                    "country": country,
                    "safeguards": safeguards.get(lang)
                    if safeguards
                    else t.pgettext("register", "no safeguards stated in the register"),
                }
            )
    if not transfers:
        transfers = [organisation.transfers_outside_eu.get(lang)]

    retention = category.retention
    retention_lines = [
        t.pgettext("register", "Period: %(period)s") % {"period": retention.period.describe(t)},
        t.pgettext("register", "Starting from: %(start)s")
        % {
            "start": retention.describe_start(
                _column_label(data_map, category, retention.from_, lang), t
            )
        },
    ]
    if retention.condition is not None:
        retention_lines.append(
            t.pgettext("register", "Condition: %(condition)s")
            % {"condition": retention.condition.get(lang)}
        )
    retention_lines.append(
        t.pgettext("register", "Legal source: %(source)s") % {"source": retention.source.get(lang)}
    )

    security = [measure.get(lang) for measure in organisation.security_measures]

    return {
        "activity_id": [activity_id],
        "activity": [category.title.get(lang)],
        "description": [category.description.get(lang)],
        "controller": _controller_lines(organisation),
        "dpo": [_contact(organisation.dpo)],
        "purposes": [purpose.get(lang) for purpose in category.purposes],
        "legal_basis": legal_basis,
        "data_subjects": [subject.get(lang) for subject in organisation.data_subjects],
        "data_categories": [", ".join(_unique([f.label.get(lang) for f in category.fields]))],
        "special_data": [_yes_no(category.special, t)],
        "source": [category.source.get(lang)],
        "systems": systems,
        "recipients": recipients or [t.pgettext("register", "None")],
        "transfers": transfers,
        "retention": retention_lines,
        "security_measures": security or [t.pgettext("register", "Not stated")],
    }


def _activities(
    data_map: DataMap, lang: str, translations: NullTranslations
) -> list[dict[str, list[str]]]:
    return [
        _activity_lines(data_map, activity_id, category, lang, translations)
        for activity_id, category in data_map.categories.items()
    ]


def ropa_rows(data_map: DataMap, lang: str, translations: NullTranslations) -> list[dict[str, str]]:
    """Return one row per processing activity, keyed by `COLUMNS`; multi-line cells use "\\n".

    `lang` picks the map's texts, `translations` (the catalogue of the same language) the words.
    """
    language = _language(lang)
    return [
        {column: "\n".join(lines[column]) for column in COLUMNS}
        for lines in _activities(data_map, language, translations)
    ]


def ropa_csv(data_map: DataMap, lang: str, translations: NullTranslations) -> bytes:
    """Return the register as CSV for a spreadsheet: headings, then one row per activity."""
    headings = ropa_headings(translations)
    rows = ropa_rows(data_map, lang, translations)
    return csv_bytes(
        [headings[column] for column in COLUMNS],
        [[row[column] for column in COLUMNS] for row in rows],
    )


def ropa_pdf(
    data_map: DataMap, lang: str, translations: NullTranslations, *, edition: date | None = None
) -> bytes:
    """Return the register as a PDF: the controller and DPO, a summary, then one sheet per activity.

    `edition` is the date printed as the register's edition; none is printed without it, so that
    the same map always gives the same bytes.
    """
    language = _language(lang)
    t = translations
    headings = ropa_headings(t)
    styles = document_styles()
    width = content_width()
    organisation = data_map.organisation
    activities = _activities(data_map, language, t)
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
        general.append((t.pgettext("register", "Edition of"), edition_date(edition, language)))

    summary_rows = [
        [
            str(number),
            category.title.get(language),
            category.legal_basis.cited(t),
            category.retention.period.describe(t),
            _yes_no(category.special, t),
        ]
        for number, category in enumerate(data_map.categories.values(), start=1)
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
                headings["legal_basis"],
                headings["retention"],
                headings["special_data"],
            ],
            summary_rows,
            col_widths=[12 * mm, width - 132 * mm, 40 * mm, 35 * mm, 45 * mm],
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
