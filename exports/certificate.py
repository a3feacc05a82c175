"""The erasure certificate (GDPR Art. 17, R17): what was erased, anonymised and kept for one
request, per category of the map, with why and until when data was kept, and who was told.

Pure functions of the map and of the counts of the erasure: the certificate names no one and holds
no personal data, only the request's reference, so it can be kept as evidence and sent as it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from reportlab.lib.units import mm
from reportlab.platypus import Spacer
from reportlab.platypus.flowables import Flowable

from exports.dates import long_date
from exports.pdf import (
    DocumentInfo,
    bullet_list,
    content_width,
    data_table,
    document_styles,
    key_value_table,
    render_pdf,
    safe_paragraph,
)
from inventory.model import DataMap, ErasureAction


@dataclass(frozen=True, slots=True)
class ErasedStep:
    """What the erasure did to one table of one category: the action and how many rows."""

    category: str
    table: str
    action: ErasureAction
    rows: int


@dataclass(frozen=True, slots=True)
class CategoryOutcome:
    """One category's part of the erasure: its action and rows over all its tables."""

    category: str
    action: ErasureAction
    rows: int
    tables: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CertifiedRequest:
    """The request the certificate is for."""

    reference: str
    received_at: datetime
    completed_at: datetime
    language: str


_WORDS: dict[str, dict[str, str]] = {
    "fr": {
        "title": "Certificat d'effacement",
        "subject": "Effacement de données personnelles (article 17 du RGPD)",
        "request": "Demande",
        "reference": "Référence",
        "received": "Reçue le",
        "completed": "Exécutée le",
        "controller": "Responsable du traitement",
        "dpo": "Délégué à la protection des données",
        "intro": (
            "{organisation} certifie avoir exécuté la demande d'effacement {reference} "
            "(article 17 du RGPD) dans tous les systèmes décrits par son inventaire des données "
            "personnelles. Une nouvelle recherche, faite après l'effacement, ne trouve plus "
            "aucune des données effacées."
        ),
        "deleted": "Données effacées",
        "deleted_none": "Aucune donnée n'a été effacée.",
        "anonymized": "Données anonymisées",
        "anonymized_intro": (
            "Ces enregistrements restent, mais ce qui permettait de vous identifier a été "
            "supprimé ou remplacé : ils ne se rapportent plus à vous."
        ),
        "anonymized_none": "Aucune donnée n'a été anonymisée.",
        "retained": "Données conservées",
        "retained_intro": (
            "La loi nous oblige à conserver ces données. Elles sont retirées de l'usage courant "
            "et seront supprimées à l'échéance indiquée."
        ),
        "retained_none": "Aucune donnée n'est conservée.",
        "category": "Catégorie",
        "records": "Enregistrements",
        "why": "Pourquoi",
        "until": "Jusqu'à quand",
        "recipients": "Destinataires informés (article 19 du RGPD)",
        "recipients_intro": (
            "Les destinataires suivants de vos données sont informés de l'effacement :"
        ),
        "recipients_none": "Aucun destinataire n'avait reçu les données effacées.",
        "suppression": (
            "Votre adresse électronique n'est plus conservée que sous la forme d'une empreinte "
            "irréversible, dans une liste d'opposition, pour qu'elle ne soit plus jamais "
            "utilisée pour de la prospection."
        ),
        "complaint": (
            "Pour toute question, écrivez à notre délégué à la protection des données en "
            "rappelant la référence {reference}. Vous pouvez aussi introduire une réclamation "
            "auprès de la CNIL (www.cnil.fr)."
        ),
        "footer": "Certificat d'effacement {reference}",
    },
    "en": {
        "title": "Erasure certificate",
        "subject": "Erasure of personal data (GDPR Article 17)",
        "request": "Request",
        "reference": "Reference",
        "received": "Received on",
        "completed": "Carried out on",
        "controller": "Controller",
        "dpo": "Data protection officer",
        "intro": (
            "{organisation} certifies that it carried out the erasure request {reference} "
            "(GDPR Article 17) in every system its inventory of personal data describes. A new "
            "search, made after the erasure, finds none of the erased data any more."
        ),
        "deleted": "Data erased",
        "deleted_none": "No data was erased.",
        "anonymized": "Data anonymised",
        "anonymized_intro": (
            "These records remain, but what identified you was removed or replaced: they no "
            "longer relate to you."
        ),
        "anonymized_none": "No data was anonymised.",
        "retained": "Data kept",
        "retained_intro": (
            "The law requires us to keep this data. It is taken out of everyday use and will be "
            "deleted when the period shown ends."
        ),
        "retained_none": "No data is kept.",
        "category": "Category",
        "records": "Records",
        "why": "Why",
        "until": "Until when",
        "recipients": "Recipients told (GDPR Article 19)",
        "recipients_intro": "The following recipients of your data are told of the erasure:",
        "recipients_none": "No recipient had received the erased data.",
        "suppression": (
            "Your email address is now kept only as an irreversible keyed hash, on a suppression "
            "list, so that it is never used for marketing again."
        ),
        "complaint": (
            "For any question, write to our data protection officer quoting the reference "
            "{reference}. You may also lodge a complaint with the CNIL, the French data "
            "protection authority (www.cnil.fr)."
        ),
        "footer": "Erasure certificate {reference}",
    },
}


def _lang(lang: str) -> str:
    return "fr" if lang == "fr" else "en"


def category_outcomes(data_map: DataMap, steps: Iterable[ErasedStep]) -> list[CategoryOutcome]:
    """Sum the steps per category, in the map's order of categories; empty steps are left out."""
    rows: dict[str, int] = {}
    actions: dict[str, ErasureAction] = {}
    tables: dict[str, list[str]] = {}
    for step in steps:
        if step.rows <= 0:
            continue
        rows[step.category] = rows.get(step.category, 0) + step.rows
        actions.setdefault(step.category, step.action)
        if step.table not in tables.setdefault(step.category, []):
            tables[step.category].append(step.table)
    return [
        CategoryOutcome(
            category_id, actions[category_id], rows[category_id], tuple(tables[category_id])
        )
        for category_id in data_map.categories
        if category_id in rows
    ]


def _of(outcomes: Sequence[CategoryOutcome], action: ErasureAction) -> list[CategoryOutcome]:
    return [outcome for outcome in outcomes if outcome.action is action]


def certificate_summary(
    data_map: DataMap, outcomes: Sequence[CategoryOutcome], lang: str
) -> list[str]:
    """Return one line per category for the email that goes with the certificate."""
    lang = _lang(lang)
    verbs = {
        "fr": {
            ErasureAction.DELETE: "effacé",
            ErasureAction.ANONYMIZE: "anonymisé",
            ErasureAction.RETAIN: "conservé",
        },
        "en": {
            ErasureAction.DELETE: "erased",
            ErasureAction.ANONYMIZE: "anonymised",
            ErasureAction.RETAIN: "kept",
        },
    }[lang]
    lines = []
    for outcome in outcomes:
        category = data_map.categories[outcome.category]
        line = (
            f"{category.title.get(lang)} : {verbs[outcome.action]}"
            if lang == "fr"
            else (f"{category.title.get(lang)}: {verbs[outcome.action]}")
        )
        if outcome.action is ErasureAction.RETAIN and category.erasure.until is not None:
            line += f" ({category.erasure.until.get(lang)})"
        lines.append(line)
    return lines


def render_erasure_certificate(
    data_map: DataMap,
    request: CertifiedRequest,
    outcomes: Sequence[CategoryOutcome],
    recipients_told: Sequence[str],
) -> bytes:
    """Return the certificate as a PDF in the request's language (French or English).

    `recipients_told` are recipient ids of the map that were sent an Art. 19 notice.
    """
    lang = _lang(request.language)
    words = _WORDS[lang]
    styles = document_styles()
    width = content_width()
    organisation = data_map.organisation
    address = organisation.controller.address or organisation.address
    story: list[Flowable] = [
        safe_paragraph(words["title"], styles.title),
        safe_paragraph(organisation.name, styles.subtitle),
        key_value_table(
            words["request"],
            [
                (words["reference"], request.reference),
                (words["received"], long_date(request.received_at, lang)),
                (words["completed"], long_date(request.completed_at, lang)),
                (words["controller"], _contact_line(organisation.controller.name, address)),
                (
                    words["dpo"],
                    ", ".join(
                        part for part in (organisation.dpo.name, organisation.dpo.email) if part
                    ),
                ),
            ],
            width=width,
        ),
        Spacer(1, 4 * mm),
        safe_paragraph(
            words["intro"].format(organisation=organisation.name, reference=request.reference),
            styles.body,
        ),
    ]
    count_width = 36 * mm

    story.append(safe_paragraph(words["deleted"], styles.heading))
    deleted = _of(outcomes, ErasureAction.DELETE)
    if deleted:
        story.append(
            data_table(
                [words["category"], words["records"]],
                [[data_map.categories[o.category].title.get(lang), str(o.rows)] for o in deleted],
                col_widths=[width - count_width, count_width],
            )
        )
    else:
        story.append(safe_paragraph(words["deleted_none"], styles.body))

    story.append(safe_paragraph(words["anonymized"], styles.heading))
    anonymized = _of(outcomes, ErasureAction.ANONYMIZE)
    if anonymized:
        story.append(safe_paragraph(words["anonymized_intro"], styles.body))
        story.append(
            data_table(
                [words["category"], words["records"]],
                [
                    [data_map.categories[o.category].title.get(lang), str(o.rows)]
                    for o in anonymized
                ],
                col_widths=[width - count_width, count_width],
            )
        )
    else:
        story.append(safe_paragraph(words["anonymized_none"], styles.body))

    story.append(safe_paragraph(words["retained"], styles.heading))
    retained = _of(outcomes, ErasureAction.RETAIN)
    if retained:
        story.append(safe_paragraph(words["retained_intro"], styles.body))
        rest = width - count_width
        story.append(
            data_table(
                [words["category"], words["records"], words["why"], words["until"]],
                [
                    [
                        data_map.categories[o.category].title.get(lang),
                        str(o.rows),
                        _text(data_map, o.category, "legal_reason", lang),
                        _text(data_map, o.category, "until", lang),
                    ]
                    for o in retained
                ],
                col_widths=[rest * 0.25, count_width, rest * 0.45, rest * 0.30],
            )
        )
    else:
        story.append(safe_paragraph(words["retained_none"], styles.body))

    story.append(safe_paragraph(words["recipients"], styles.heading))
    if recipients_told:
        story.append(safe_paragraph(words["recipients_intro"], styles.body))
        names = [
            data_map.recipients[r].name.get(lang) if r in data_map.recipients else r
            for r in recipients_told
        ]
        story.extend(bullet_list(names, styles.body))
    else:
        story.append(safe_paragraph(words["recipients_none"], styles.body))

    story.append(Spacer(1, 4 * mm))
    story.append(safe_paragraph(words["suppression"], styles.body))
    story.append(
        safe_paragraph(words["complaint"].format(reference=request.reference), styles.body)
    )
    info = DocumentInfo(
        title=f"{words['title']} {request.reference}",
        author=organisation.name,
        subject=words["subject"],
        lang=lang,
        footer=words["footer"].format(reference=request.reference),
    )
    return render_pdf(story, info)


def _text(data_map: DataMap, category_id: str, which: str, lang: str) -> str:
    erasure = data_map.categories[category_id].erasure
    value = erasure.legal_reason if which == "legal_reason" else erasure.until
    return value.get(lang) if value is not None else ""


def _contact_line(name: str, address: str) -> str:
    """Return the name and the address, without the name twice when the address starts with it."""
    return address if address.startswith(name) else f"{name}, {address}"
