"""The erasure certificate (GDPR Art. 17, R17): what was erased, anonymised and kept for one
request, per category of the map, with why and until when data was kept, and who was told.

Pure functions of the map and of the counts of the erasure: the certificate names no one and holds
no personal data, only the request's reference, so it can be kept as evidence and sent as it is.
Its words are the catalogue's that the caller hands in, context "certificate".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from gettext import NullTranslations

from reportlab.lib.units import mm
from reportlab.platypus import Spacer
from reportlab.platypus.flowables import Flowable

from exports.certificate_kept import CategoryOutcome as CategoryOutcome
from exports.certificate_kept import (
    desk_records,
    is_withdrawn,
    kept_days,
    last_day,
    remains,
    use_line,
)
from exports.dates import long_date, long_day
from exports.made_for import MadeFor, made_for_row
from exports.pdf import (
    DocumentInfo,
    DocumentStyles,
    content_width,
    document_styles,
    render_pdf,
)
from exports.plain_paragraph import (
    SeededCanvas,
    plain_bullet_list,
    plain_data_table,
    plain_key_value_table,
    plain_paragraph,
)
from inventory.model import DataMap, ErasureAction


@dataclass(frozen=True, slots=True)
class ErasedStep:
    """What the erasure did to one table of one category: the action and how many rows; of kept
    rows, how many were taken out of use and the last day each is kept (main table only)."""

    category: str
    table: str
    action: ErasureAction
    rows: int
    withdrawn: int = 0
    kept_until: tuple[date | None, ...] = ()
    kind: str = ""
    """`side`: the subject's side of rows shared with others, anonymised; `mention`: rows of
    others that named the subject (`columns`), anonymised there (see `inventory.erasure`)."""
    columns: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CertifiedRequest:
    """The request the certificate is for; `address_kept_until` is when the desk's minimisation
    removes the requester's address from its own records (R32)."""

    reference: str
    received_at: datetime
    completed_at: datetime
    language: str
    address_kept_until: datetime
    made_for: MadeFor | None = None  # R45: asked by a representative or a parent


def _lang(lang: str) -> str:
    return "fr" if lang == "fr" else "en"


def category_outcomes(data_map: DataMap, steps: Iterable[ErasedStep]) -> list[CategoryOutcome]:
    """Sum the steps per category, in the map's order of categories; empty steps are left out.

    The last days come from the steps of the table the records are dated in (the main table),
    one per record."""
    rows: dict[str, int] = {}
    actions: dict[str, ErasureAction] = {}
    tables: dict[str, list[str]] = {}
    withdrawn: dict[str, int] = {}
    days: dict[str, list[date | None]] = {}
    for step in steps:
        if step.rows <= 0 or step.kind:  # shared rows and mentions: see `_shared_section`
            continue
        rows[step.category] = rows.get(step.category, 0) + step.rows
        actions.setdefault(step.category, step.action)
        if step.table not in tables.setdefault(step.category, []):
            tables[step.category].append(step.table)
        withdrawn[step.category] = withdrawn.get(step.category, 0) + step.withdrawn
        days.setdefault(step.category, []).extend(step.kept_until)
    return [
        CategoryOutcome(
            category_id,
            actions[category_id],
            rows[category_id],
            tuple(tables[category_id]),
            withdrawn=withdrawn[category_id],
            kept_until=tuple(
                sorted(days.get(category_id, []), key=lambda d: (d is None, d or date.min))
            ),
        )
        for category_id in data_map.categories
        if category_id in rows
    ]


def _of(outcomes: Sequence[CategoryOutcome], action: ErasureAction) -> list[CategoryOutcome]:
    return [outcome for outcome in outcomes if outcome.action is action]


def certificate_summary(
    data_map: DataMap,
    outcomes: Sequence[CategoryOutcome],
    lang: str,
    translations: NullTranslations,
) -> list[str]:
    """Return one line per category for the email that goes with the certificate.

    `lang` picks the map's texts, `translations` (the catalogue of the same language) the words.
    """
    lang = _lang(lang)
    t = translations
    verbs = {
        ErasureAction.DELETE: t.pgettext("certificate", "erased"),
        ErasureAction.ANONYMIZE: t.pgettext("certificate", "anonymised"),
        ErasureAction.RETAIN: t.pgettext("certificate", "kept"),
    }
    lines = []
    for outcome in outcomes:
        category = data_map.categories[outcome.category]
        action = verbs[outcome.action]
        if outcome.action is ErasureAction.ANONYMIZE and remains(
            data_map, outcome, outcomes, lang, t
        ):
            action = t.pgettext("certificate", "pseudonymised (see the certificate)")
        line = t.pgettext("certificate", "%(category)s: %(action)s") % {
            "category": category.title.get(lang),
            "action": action,
        }
        if outcome.action is ErasureAction.RETAIN:
            end = last_day(outcome)
            kept = (
                t.pgettext("certificate", "until %(date)s at the latest")
                % {"date": long_day(end, lang)}
                if end is not None
                else category.erasure.until.get(lang)
                if category.erasure.until is not None
                else ""
            )
            use = (
                t.pgettext("certificate", "withdrawn from everyday use")
                if is_withdrawn(outcome)
                else t.pgettext("certificate", "kept as they are")
            )
            line += f" ({kept}; {use})" if kept else f" ({use})"
        lines.append(line)
    return lines


def _table(
    header: Sequence[str], rows: Sequence[Sequence[str]], *, col_widths: Sequence[float]
) -> Flowable:
    """A `data_table` of plain text, drawn as a `DataGrid`, its first column the map's
    categories."""
    return plain_data_table(header, rows, col_widths=col_widths, shared_columns=(0,))


def render_erasure_certificate(
    data_map: DataMap,
    request: CertifiedRequest,
    outcomes: Sequence[CategoryOutcome],
    recipients: Sequence[str],
    translations: NullTranslations,
    told_on: Mapping[str, str] | None = None,
    *,
    shared: Sequence[ErasedStep] = (),
    mentions_erased: tuple[int, int] = (0, 0),
) -> bytes:
    """Return the certificate as a PDF in the request's language (French or English).

    `mentions_erased` counts the other people's texts naming the person (confirmed by staff)
    in which the name was replaced, and those deleted.

    `recipients` are the recipient ids of the map to tell of the erasure (Art. 19); `told_on`
    gives, for those already told, the date written in the request's language: the others are
    said to be told now, never to be informed. `translations` is the catalogue of the request's
    language.
    """
    lang = _lang(request.language)
    t = translations
    title = t.pgettext("certificate", "Erasure certificate")
    category_heading = t.pgettext("certificate", "Category")
    records_heading = t.pgettext("certificate", "Records")
    styles = document_styles()
    width = content_width()
    organisation = data_map.organisation
    address = organisation.controller.address or organisation.address
    story: list[Flowable] = [
        plain_paragraph(title, styles.title, shared=True),
        plain_paragraph(organisation.name, styles.subtitle, shared=True),
        plain_key_value_table(
            t.pgettext("certificate", "Request"),
            [
                (t.pgettext("certificate", "Reference"), request.reference),
                *([made_for_row(request.made_for, t, "certificate")] if request.made_for else []),
                (
                    t.pgettext("certificate", "Received on"),
                    long_date(request.received_at, lang, organisation.zone),
                ),
                (
                    t.pgettext("certificate", "Carried out on"),
                    long_date(request.completed_at, lang, organisation.zone),
                ),
                (
                    t.pgettext("certificate", "Controller"),
                    _contact_line(organisation.controller.name, address),
                ),
                (
                    t.pgettext("certificate", "Data protection officer"),
                    ", ".join(
                        part for part in (organisation.dpo.name, organisation.dpo.email) if part
                    ),
                ),
            ],
            width=width,
            shared_labels=True,
        ),
        Spacer(1, 4 * mm),
        plain_paragraph(
            t.pgettext(
                "certificate",
                "%(organisation)s certifies that it carried out the erasure request %(reference)s "
                "(GDPR Article 17) in every system its inventory of personal data describes. A new "
                "search, made after the erasure, finds none of the erased data any more.",
            )
            % {"organisation": organisation.name, "reference": request.reference},
            styles.body,
        ),
    ]
    count_width = 36 * mm

    story.append(
        plain_paragraph(t.pgettext("certificate", "Data erased"), styles.heading, shared=True)
    )
    deleted = _of(outcomes, ErasureAction.DELETE)
    if deleted:
        story.append(
            _table(
                [category_heading, records_heading],
                [[data_map.categories[o.category].title.get(lang), str(o.rows)] for o in deleted],
                col_widths=[width - count_width, count_width],
            )
        )
    else:
        story.append(
            plain_paragraph(
                t.pgettext("certificate", "No data was erased."), styles.body, shared=True
            )
        )

    redacted, deleted_texts = mentions_erased
    if redacted or deleted_texts:  # issue 20: mentions in other people's texts
        story.append(
            plain_paragraph(
                t.pgettext(
                    "certificate",
                    "Other people's texts that named you, as our staff confirmed: your name "
                    "replaced in %(redacted)s, %(deleted)s deleted.",
                )
                % {"redacted": redacted, "deleted": deleted_texts},
                styles.body,
            )
        )

    story.append(
        plain_paragraph(t.pgettext("certificate", "Data anonymised"), styles.heading, shared=True)
    )
    anonymized = _of(outcomes, ErasureAction.ANONYMIZE)
    if anonymized:
        story.append(
            plain_paragraph(
                t.pgettext(
                    "certificate",
                    "These records remain, with what identified you removed or replaced. They "
                    "no longer relate to you only where nothing we keep still identifies you:",
                ),
                styles.body,
                shared=True,
            )
        )
        rest = width - count_width
        story.append(
            _table(
                [category_heading, records_heading, t.pgettext("certificate", "What remains")],
                [
                    [
                        data_map.categories[o.category].title.get(lang),
                        str(o.rows),
                        remains(data_map, o, outcomes, lang, t)
                        or t.pgettext("certificate", "Anonymised: they no longer relate to you."),
                    ]
                    for o in anonymized
                ],
                col_widths=[rest * 0.35, count_width, rest * 0.65],
            )
        )
    else:
        story.append(
            plain_paragraph(
                t.pgettext("certificate", "No data was anonymised."), styles.body, shared=True
            )
        )

    story.extend(_shared_section(data_map, shared, lang, t, styles, width, count_width))

    story.append(
        plain_paragraph(t.pgettext("certificate", "Data kept"), styles.heading, shared=True)
    )
    retained = _of(outcomes, ErasureAction.RETAIN)
    if retained:
        story.append(
            plain_paragraph(
                t.pgettext(
                    "certificate",
                    "The law requires us to keep this data: each record is kept until the day "
                    "shown, counted from the start the law gives.",
                ),
                styles.body,
                shared=True,
            )
        )
        rest = width - count_width
        story.append(
            _table(
                [
                    category_heading,
                    records_heading,
                    t.pgettext("certificate", "Why"),
                    t.pgettext("certificate", "Until when"),
                ],
                [
                    [
                        data_map.categories[o.category].title.get(lang),
                        str(len(o.kept_until) or o.rows),
                        _text(data_map, o.category, "legal_reason", lang),
                        kept_days(o, lang, t) or _text(data_map, o.category, "until", lang),
                    ]
                    for o in retained
                ],
                col_widths=[rest * 0.25, count_width, rest * 0.40, rest * 0.35],
            )
        )
        story.extend(
            plain_bullet_list([use_line(data_map, o, lang, t) for o in retained], styles.body)
        )
    else:
        story.append(
            plain_paragraph(t.pgettext("certificate", "No data is kept."), styles.body, shared=True)
        )

    story.extend(_recipients_section(data_map, recipients, told_on or {}, lang, t, styles))

    story.append(
        plain_paragraph(
            t.pgettext("certificate", "What we keep about your request"),
            styles.heading,
            shared=True,
        )
    )
    story.extend(
        plain_bullet_list(
            desk_records(request.reference, request.address_kept_until, lang, t, organisation.zone),
            styles.body,
        )
    )
    story.append(Spacer(1, 4 * mm))
    story.append(
        plain_paragraph(
            t.pgettext(
                "certificate",
                "For any question, write to our data protection officer quoting the reference "
                "%(reference)s. You may also lodge a complaint with the CNIL, the French data "
                "protection authority (www.cnil.fr).",
            )
            % {"reference": request.reference},
            styles.body,
        )
    )
    info = DocumentInfo(
        title=f"{title} {request.reference}",
        author=organisation.name,
        subject=t.pgettext("certificate", "Erasure of personal data (GDPR Article 17)"),
        lang=lang,
        footer=t.pgettext("certificate", "Erasure certificate %(reference)s")
        % {"reference": request.reference},
    )
    return render_pdf(story, info, canvas=SeededCanvas)


def _text(data_map: DataMap, category_id: str, which: str, lang: str) -> str:
    erasure = data_map.categories[category_id].erasure
    value = erasure.legal_reason if which == "legal_reason" else erasure.until
    return value.get(lang) if value is not None else ""


def _shared_section(
    data_map: DataMap,
    steps: Sequence[ErasedStep],
    lang: str,
    t: NullTranslations,
    styles: DocumentStyles,
    width: float,
    count_width: float,
) -> list[Flowable]:
    """Say which records shared with another person kept only that person's side, and in which
    records of other people the mentions of the requester were blanked or anonymised."""
    story: list[Flowable] = []
    sides: dict[str, int] = {}
    for step in steps:
        if step.kind == "side":
            sides[step.category] = sides.get(step.category, 0) + step.rows
    if sides:
        story.append(
            plain_paragraph(
                t.pgettext("certificate", "Records shared with another person"), styles.heading
            )
        )
        story.append(
            _table(
                [
                    t.pgettext("certificate", "Category"),
                    t.pgettext("certificate", "Records"),
                    t.pgettext("certificate", "What was done"),
                ],
                [
                    [
                        data_map.categories[category].title.get(lang),
                        str(rows),
                        t.pgettext(
                            "certificate", "Your side anonymised, record kept for the other person"
                        ),
                    ]
                    for category, rows in sides.items()
                    if category in data_map.categories
                ],
                col_widths=[(width - count_width) * 0.4, count_width, (width - count_width) * 0.6],
            )
        )
    mentions = [s for s in steps if s.kind == "mention" and s.category in data_map.categories]
    if mentions:
        story.append(
            plain_paragraph(
                t.pgettext("certificate", "Mentions of you in other people's records"),
                styles.heading,
            )
        )
        lines = []
        for step in mentions:
            category = data_map.categories[step.category]
            labels = [
                f.label.get(lang)
                for f in category.fields
                if f.table == step.table and f.name in step.columns
            ]
            lines.append(
                t.npgettext(
                    "certificate",
                    "%(fields)s: blanked or anonymised in %(count)s record of “%(category)s” "
                    "belonging to another person",
                    "%(fields)s: blanked or anonymised in %(count)s records of “%(category)s” "
                    "belonging to other people",
                    step.rows,
                )
                % {
                    "fields": ", ".join(labels) or step.table,
                    "count": step.rows,
                    "category": category.title.get(lang),
                }
            )
        story.extend(plain_bullet_list(lines, styles.body))
    return story


def _contact_line(name: str, address: str) -> str:
    """Return the name and the address, without the name twice when the address starts with it."""
    return address if address.startswith(name) else f"{name}, {address}"


def _recipients_section(
    data_map: DataMap,
    recipients: Sequence[str],
    told_on: Mapping[str, str],
    lang: str,
    t: NullTranslations,
    styles: DocumentStyles,
) -> list[Flowable]:
    """Say which recipients were told (with the date) and which are being told: only what is
    done is said to be done (R49)."""
    story: list[Flowable] = [
        plain_paragraph(
            t.pgettext("certificate", "Recipients of your data (GDPR Article 19)"),
            styles.heading,
            shared=True,
        )
    ]
    if not recipients:
        story.append(
            plain_paragraph(
                t.pgettext("certificate", "No recipient had received the erased data."),
                styles.body,
                shared=True,
            )
        )
        return story

    def name(recipient: str) -> str:
        known = data_map.recipients.get(recipient)
        return known.name.get(lang) if known is not None else recipient

    told = [r for r in recipients if r in told_on]
    pending = [r for r in recipients if r not in told_on]
    if told:
        story.append(
            plain_paragraph(
                t.pgettext("certificate", "These recipients were told of the erasure:"),
                styles.body,
                shared=True,
            )
        )
        story.extend(
            plain_bullet_list(
                [
                    t.pgettext("certificate", "%(recipient)s, on %(date)s")
                    % {"recipient": name(r), "date": told_on[r]}
                    for r in told
                ],
                styles.body,
            )
        )
    if pending:
        story.append(
            plain_paragraph(
                t.pgettext(
                    "certificate",
                    "We are telling these recipients of the erasure; we will write to you "
                    "once each of them has been told:",
                ),
                styles.body,
                shared=True,
            )
        )
        story.extend(plain_bullet_list([name(r) for r in pending], styles.body, shared=True))
    return story
