"""The register of processing activities (GDPR Art. 30, R33), derived from the data map.

One processing activity is one category of the map. The register gives, for each, what Art. 30(1)
asks: controller and DPO, purposes, legal basis, categories of people and of data, recipients,
transfers outside the EU/EEA with their safeguards, retention and security measures. It is
produced as rows (for the dashboard), as CSV (for a spreadsheet) and as PDF (to hand over).
"""

from __future__ import annotations

from datetime import date

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
from inventory.model import Category, Contact, DataMap, LegalBasis, Organisation

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

_HEADINGS: dict[str, dict[str, str]] = {
    "fr": {
        "activity_id": "Identifiant",
        "activity": "Activité de traitement",
        "description": "Description",
        "controller": "Responsable du traitement",
        "dpo": "Délégué à la protection des données (DPO)",
        "purposes": "Finalités",
        "legal_basis": "Base légale",
        "data_subjects": "Catégories de personnes concernées",
        "data_categories": "Catégories de données",
        "special_data": "Données sensibles (art. 9 et 10 du RGPD)",
        "source": "Source des données",
        "systems": "Systèmes de stockage",
        "recipients": "Destinataires",
        "transfers": "Transferts hors UE/EEE",
        "retention": "Durée de conservation",
        "security_measures": "Mesures de sécurité",
    },
    "en": {
        "activity_id": "Identifier",
        "activity": "Processing activity",
        "description": "Description",
        "controller": "Controller",
        "dpo": "Data protection officer (DPO)",
        "purposes": "Purposes",
        "legal_basis": "Legal basis",
        "data_subjects": "Categories of data subjects",
        "data_categories": "Categories of personal data",
        "special_data": "Special categories of data (GDPR Art. 9 and 10)",
        "source": "Source of the data",
        "systems": "Storage systems",
        "recipients": "Recipients",
        "transfers": "Transfers outside the EU/EEA",
        "retention": "Retention period",
        "security_measures": "Security measures",
    },
}

_WORDS: dict[str, dict[str, str]] = {
    "fr": {
        "title": "Registre des activités de traitement",
        "subtitle": "Article 30 du RGPD — {organisation}",
        "subject": "Registre des activités de traitement (article 30 du RGPD)",
        "general": "Informations générales",
        "authority": "Autorité de contrôle",
        "transfer_policy": "Transferts hors UE/EEE (politique générale)",
        "edition": "Édition du",
        "count": "Activités de traitement recensées",
        "summary": "Synthèse des activités",
        "number": "N°",
        "details": "Fiches des activités de traitement",
        "yes": "Oui",
        "no": "Non",
        "none": "Aucun",
        "no_security": "Non renseignées",
        "no_safeguards": "garanties non précisées dans le registre",
        "period": "Durée : {}",
        "from": "Point de départ : {}",
        "condition": "Condition : {}",
        "legal_source": "Source légale : {}",
        "recipient": "{name} ({kind}, {country}) : {description}",
        "transfer": "{name} ({country}) : {safeguards}",
        "kind_third_party": "tiers",
        "kind_processor": "sous-traitant",
        "kind_internal": "destinataire interne",
        "kind_authority": "autorité publique",
    },
    "en": {
        "title": "Record of processing activities",
        "subtitle": "GDPR Article 30 — {organisation}",
        "subject": "Record of processing activities (GDPR Article 30)",
        "general": "General information",
        "authority": "Supervisory authority",
        "transfer_policy": "Transfers outside the EU/EEA (general policy)",
        "edition": "Edition of",
        "count": "Processing activities recorded",
        "summary": "Summary of the activities",
        "number": "No.",
        "details": "Processing activities in detail",
        "yes": "Yes",
        "no": "No",
        "none": "None",
        "no_security": "Not stated",
        "no_safeguards": "no safeguards stated in the register",
        "period": "Period: {}",
        "from": "Starting from: {}",
        "condition": "Condition: {}",
        "legal_source": "Legal source: {}",
        "recipient": "{name} ({kind}, {country}): {description}",
        "transfer": "{name} ({country}): {safeguards}",
        "kind_third_party": "third party",
        "kind_processor": "processor",
        "kind_internal": "internal recipient",
        "kind_authority": "public authority",
    },
}

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


def ropa_headings(lang: str) -> dict[str, str]:
    """Return the heading of each column of `COLUMNS` in `lang`, in order."""
    headings = _HEADINGS[_language(lang)]
    return {column: headings[column] for column in COLUMNS}


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


def _legal_basis_article(basis: LegalBasis, lang: str) -> str:
    return basis.article.replace("GDPR", "RGPD") if lang == "fr" else basis.article


def _column_label(data_map: DataMap, category: Category, column: str, lang: str) -> str:
    """Name a `table.column` by its label in the map (this category's first), else by itself."""
    candidates = [*category.fields, *(f for c in data_map.categories.values() for f in c.fields)]
    field = next((f for f in candidates if f.column == column), None)
    return column if field is None else f"{field.label.get(lang)} ({column})"


def _activity_lines(
    data_map: DataMap, activity_id: str, category: Category, lang: str
) -> dict[str, list[str]]:
    """Return the lines of text of each column for one processing activity."""
    words = _WORDS[lang]
    organisation = data_map.organisation

    legal_basis = [category.legal_basis.describe(lang)]
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
        kind = words[f"kind_{recipient.kind}"]
        recipients.append(
            words["recipient"].format(
                name=recipient.name.get(lang),
                kind=kind,
                country=country,
                description=recipient.description.get(lang),
            )
        )
        if country not in EEA_COUNTRIES:
            safeguards = recipient.transfer_safeguards
            transfers.append(
                words["transfer"].format(
                    name=recipient.name.get(lang),
                    country=country,
                    safeguards=safeguards.get(lang) if safeguards else words["no_safeguards"],
                )
            )
    if not transfers:
        transfers = [organisation.transfers_outside_eu.get(lang)]

    retention = category.retention
    retention_lines = [
        words["period"].format(retention.period.describe(lang)),
        words["from"].format(_column_label(data_map, category, retention.from_, lang)),
    ]
    if retention.condition is not None:
        retention_lines.append(words["condition"].format(retention.condition.get(lang)))
    retention_lines.append(words["legal_source"].format(retention.source.get(lang)))

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
        "special_data": [words["yes"] if category.special else words["no"]],
        "source": [category.source.get(lang)],
        "systems": systems,
        "recipients": recipients or [words["none"]],
        "transfers": transfers,
        "retention": retention_lines,
        "security_measures": security or [words["no_security"]],
    }


def _activities(data_map: DataMap, lang: str) -> list[dict[str, list[str]]]:
    return [
        _activity_lines(data_map, activity_id, category, lang)
        for activity_id, category in data_map.categories.items()
    ]


def ropa_rows(data_map: DataMap, lang: str) -> list[dict[str, str]]:
    """Return one row per processing activity, keyed by `COLUMNS`; multi-line cells use "\\n"."""
    language = _language(lang)
    return [
        {column: "\n".join(lines[column]) for column in COLUMNS}
        for lines in _activities(data_map, language)
    ]


def ropa_csv(data_map: DataMap, lang: str) -> bytes:
    """Return the register as CSV for a spreadsheet: headings, then one row per activity."""
    headings = ropa_headings(lang)
    rows = ropa_rows(data_map, lang)
    return csv_bytes(
        [headings[column] for column in COLUMNS],
        [[row[column] for column in COLUMNS] for row in rows],
    )


def ropa_pdf(data_map: DataMap, lang: str, *, edition: date | None = None) -> bytes:
    """Return the register as a PDF: the controller and DPO, a summary, then one sheet per activity.

    `edition` is the date printed as the register's edition; none is printed without it, so that
    the same map always gives the same bytes.
    """
    language = _language(lang)
    words = _WORDS[language]
    headings = ropa_headings(language)
    styles = document_styles()
    width = content_width()
    organisation = data_map.organisation
    activities = _activities(data_map, language)

    general: list[tuple[str, CellValue]] = [
        (headings["controller"], "\n".join(_controller_lines(organisation))),
        (headings["dpo"], _contact(organisation.dpo)),
        (words["authority"], _contact(organisation.supervisory_authority)),
        (words["transfer_policy"], organisation.transfers_outside_eu.get(language)),
        (words["count"], str(len(activities))),
    ]
    if edition is not None:
        general.append((words["edition"], edition_date(edition, language)))

    summary_rows = [
        [
            str(number),
            category.title.get(language),
            _legal_basis_article(category.legal_basis, language),
            category.retention.period.describe(language),
            words["yes"] if category.special else words["no"],
        ]
        for number, category in enumerate(data_map.categories.values(), start=1)
    ]

    story: list[Flowable] = [
        safe_paragraph(words["title"], styles.title),
        safe_paragraph(words["subtitle"].format(organisation=organisation.name), styles.subtitle),
        key_value_table(words["general"], general, width=width),
        Spacer(1, 6 * mm),
        safe_paragraph(words["summary"], styles.heading),
        data_table(
            [
                words["number"],
                headings["activity"],
                headings["legal_basis"],
                headings["retention"],
                headings["special_data"],
            ],
            summary_rows,
            col_widths=[12 * mm, width - 132 * mm, 40 * mm, 35 * mm, 45 * mm],
        ),
        Spacer(1, 6 * mm),
        safe_paragraph(words["details"], styles.heading),
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
        title=f"{words['title']} — {organisation.name}",
        author=organisation.name,
        subject=words["subject"],
        lang=language,
        footer=f"{words['title']} — {organisation.name}",
    )
    return render_pdf(story, info)
