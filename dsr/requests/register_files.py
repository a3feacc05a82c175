"""The register of data-subject requests as files: CSV (the list separator of the reader's
locale), XLSX (the requests, then the summary) and PDF (the summary, then the requests), in French
or English. Words come from the catalogue handed in (context "request register"); dates are
shown on the organisation's calendar, the zone of the register's period.

No cell holds personal data of a requester: `RegisterRow` has none (the reference identifies the
request's file in the desk), and the documents say so.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from gettext import NullTranslations

from babel.numbers import format_decimal, format_percent
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.platypus import Spacer
from reportlab.platypus.flowables import Flowable

from dsr.languages import Language, translations
from dsr.requests.extension_grounds import ExtensionGround
from dsr.requests.labels import type_name
from dsr.requests.models import Channel
from dsr.requests.register import OnTime, Outcome, RegisterRow, RequestRegister
from dsr.requests.workflow import RequestType
from exports.csv_safe import csv_bytes, csv_delimiter
from exports.dates import short_date, short_datetime
from exports.pdf import (
    CellValue,
    DocumentInfo,
    content_width,
    data_table,
    document_styles,
    key_value_table,
    render_pdf,
    safe_paragraph,
)
from exports.workbook import Sheet, xlsx_bytes

FORMATS = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}
"""The register's formats and their media types."""
PAGE = landscape(A4)
_COLUMN_WIDTHS_MM = (34, 21, 19, 22, 22, 22, 26, 22, 22, 21, 16, 14)


def _language(lang: str) -> str:
    return "fr" if lang == "fr" else "en"


def headings(t: NullTranslations) -> list[str]:
    """The register's columns, in order."""
    return [
        t.pgettext("request register", "Reference"),
        t.pgettext("request register", "Type of request"),
        t.pgettext("request register", "Received via"),
        t.pgettext("request register", "Received"),
        t.pgettext("request register", "Verified"),
        t.pgettext("request register", "Due by"),
        t.pgettext("request register", "Extension"),
        t.pgettext("request register", "Answered (answer sent)"),
        t.pgettext("request register", "Outcome"),
        t.pgettext("request register", "Ground of the refusal"),
        t.pgettext("request register", "On time"),
        t.pgettext("request register", "Days taken"),
    ]


def outcome_name(outcome: Outcome, t: NullTranslations) -> str:
    return {
        Outcome.ANSWERED: t.pgettext("request register", "Answered"),
        Outcome.REFUSED: t.pgettext("request register", "Refused"),
        Outcome.WITHDRAWN: t.pgettext("request register", "Withdrawn"),
        Outcome.EXPIRED: t.pgettext("request register", "Expired, never verified"),
        Outcome.OPEN: t.pgettext("request register", "Still open"),
    }[outcome]


def _on_time_name(on_time: OnTime, t: NullTranslations) -> str:
    return {
        OnTime.YES: t.pgettext("request register", "Yes"),
        OnTime.NO: t.pgettext("request register", "No"),
        OnTime.NOT_YET_DUE: t.pgettext("request register", "Not yet due"),
        OnTime.OVERDUE: t.pgettext("request register", "Overdue"),
        OnTime.NOT_APPLICABLE: "—",
    }[on_time]


def _channel_name(channel: str, t: NullTranslations) -> str:
    names = {
        Channel.WEB.value: t.pgettext("request register", "Web form"),
        Channel.API.value: t.pgettext("request register", "API"),
        Channel.EMAIL.value: t.pgettext("request register", "Email"),
        Channel.LETTER.value: t.pgettext("request register", "Letter"),
        Channel.PHONE.value: t.pgettext("request register", "Phone"),
        Channel.IN_PERSON.value: t.pgettext("request register", "In person"),
    }
    return names.get(channel, channel)


def _extension(row: RegisterRow, t: NullTranslations) -> str:
    if not row.extension_months:
        return ""
    ground = {
        ExtensionGround.COMPLEXITY: t.pgettext("request register", "complexity"),
        ExtensionGround.NUMBER_OF_REQUESTS: t.pgettext("request register", "number of requests"),
        None: t.pgettext("request register", "ground not recorded"),
    }[row.extension_ground]
    if row.extension_months == 1:
        return t.pgettext("request register", "1 month (%(ground)s)") % {"ground": ground}
    return t.pgettext("request register", "2 months (%(ground)s)") % {"ground": ground}


def _outcome(row: RegisterRow, lang: str, register: RequestRegister, t: NullTranslations) -> str:
    name = outcome_name(row.outcome, t)
    if row.closed_at is not None:
        on = short_date(row.closed_at.astimezone(register.period.zone).date(), lang)
        return t.pgettext("request register", "%(outcome)s on %(date)s") % {
            "outcome": name,
            "date": on,
        }
    if row.outcome is Outcome.REFUSED and row.answered_at is None:
        return t.pgettext("request register", "Refused (the refusal is not yet sent)")
    return name


def _moment(moment: datetime | None, lang: str, register: RequestRegister) -> str:
    return "" if moment is None else short_datetime(moment, lang, register.period.zone)


def row_cells(
    row: RegisterRow, lang: str, register: RequestRegister, t: NullTranslations
) -> list[str]:
    """The cells of one request, as `headings` orders them."""
    zone = register.period.zone
    return [
        row.reference,
        type_name(row.type, t),
        _channel_name(row.channel, t),
        _moment(row.received_at, lang, register),
        _moment(row.verified_at, lang, register),
        short_date(row.due_at.astimezone(zone).date(), lang),
        _extension(row, t),
        _moment(row.answered_at, lang, register),
        _outcome(row, lang, register, t),
        row.refusal_ground or "",
        _on_time_name(row.on_time, t),
        "" if row.days_taken is None else str(row.days_taken),
    ]


def _rows(register: RequestRegister, lang: str, t: NullTranslations) -> list[list[str]]:
    return [row_cells(row, lang, register, t) for row in register.rows]


def title(t: NullTranslations) -> str:
    return t.pgettext("request register", "Register of data-subject requests")


def _facts(
    register: RequestRegister, lang: str, organisation: str, t: NullTranslations
) -> list[tuple[str, str]]:
    """The register's general information and summary figures, as labelled lines."""
    summary = register.summary
    zone = register.period.zone
    percent = summary.on_time_percent
    return [
        (t.pgettext("request register", "Organisation"), organisation),
        (
            t.pgettext("request register", "Requests received from"),
            t.pgettext("request register", "%(first)s to %(last)s, both included")
            % {
                "first": short_date(register.period.first, lang),
                "last": short_date(register.period.last, lang),
            },
        ),
        (t.pgettext("request register", "Dates and times"), str(getattr(zone, "key", zone))),
        (t.pgettext("request register", "Made on"), short_datetime(register.made_at, lang, zone)),
        (
            t.pgettext("request register", "Personal data"),
            t.pgettext(
                "request register",
                "None: the register names no requester (no name, no address, no message). Each "
                "request is identified by its reference, which leads to its file in the desk.",
            ),
        ),
        (t.pgettext("request register", "Requests received"), str(len(register.rows))),
        (t.pgettext("request register", "Requests answered (answer sent)"), str(summary.answered)),
        (
            t.pgettext("request register", "Answered on time"),
            "—"
            if percent is None
            else f"{format_percent(percent / 100, '#,##0 %', locale=lang)} "
            f"({summary.answered_on_time}/{summary.answered})",
        ),
        (t.pgettext("request register", "Overdue, not yet answered"), str(summary.overdue)),
        (
            t.pgettext("request register", "Median days taken to answer"),
            "—"
            if summary.median_days is None
            else str(format_decimal(summary.median_days, "#,##0.#", locale=lang)),
        ),
        (
            t.pgettext("request register", "Answered"),
            t.pgettext(
                "request register",
                "When the answer was sent to the requester (for a refusal, when the refusal was "
                "sent), not when it was decided; on time when sent by the deadline, counting the "
                "time waiting for the requester and any extension.",
            ),
        ),
    ]


def summary_header(t: NullTranslations) -> list[str]:
    return [
        t.pgettext("request register", "Type of request"),
        *(outcome_name(outcome, t) for outcome in Outcome),
        t.pgettext("request register", "Total"),
    ]


def summary_rows(register: RequestRegister, t: NullTranslations) -> list[list[str]]:
    """The count of requests per type and outcome, and the totals."""
    counts = register.summary.counts
    rows = [
        [
            type_name(kind, t),
            *(str(counts.get((kind, outcome), 0)) for outcome in Outcome),
            str(sum(counts.get((kind, outcome), 0) for outcome in Outcome)),
        ]
        for kind in RequestType
    ]
    rows.append(
        [
            t.pgettext("request register", "Total"),
            *(
                str(sum(counts.get((kind, outcome), 0) for kind in RequestType))
                for outcome in Outcome
            ),
            str(len(register.rows)),
        ]
    )
    return rows


def register_csv(register: RequestRegister, lang: str, t: NullTranslations) -> bytes:
    """The requests, one per line, for a spreadsheet in `lang` (';' and a BOM in French)."""
    lang = _language(lang)
    return csv_bytes(headings(t), _rows(register, lang, t), delimiter=csv_delimiter(lang))


def register_xlsx(
    register: RequestRegister, lang: str, t: NullTranslations, *, organisation: str
) -> bytes:
    """A workbook: the requests, then the summary figures and the counts per type and outcome."""
    lang = _language(lang)
    facts = _facts(register, lang, organisation, t)
    counts_header = summary_header(t)
    padding = [""] * (len(counts_header) - 2)
    summary: list[Sequence[str]] = [[label, value, *padding] for label, value in facts]
    summary += [[""] * len(counts_header), counts_header, *summary_rows(register, t)]
    return xlsx_bytes(
        [
            Sheet(
                t.pgettext("request register", "Requests"), headings(t), _rows(register, lang, t)
            ),
            Sheet(
                t.pgettext("request register", "Summary"),
                [t.pgettext("request register", "Summary"), *[""] * (len(counts_header) - 1)],
                summary,
            ),
        ],
        title=f"{title(t)} — {organisation}",
        created=register.made_at,
    )


def register_pdf(
    register: RequestRegister, lang: str, t: NullTranslations, *, organisation: str
) -> bytes:
    """A document to hand over: the summary figures, the counts, then every request."""
    lang = _language(lang)
    styles = document_styles()
    width = content_width(PAGE)
    general: list[tuple[str, CellValue]] = list(_facts(register, lang, organisation, t))
    counts_header = summary_header(t)
    first_width = 45 * mm
    other = (width - first_width) / (len(counts_header) - 1)
    story: list[Flowable] = [
        safe_paragraph(title(t), styles.title),
        safe_paragraph(
            t.pgettext("request register", "Accountability (GDPR Article 5(2)) — %(organisation)s")
            % {"organisation": organisation},
            styles.subtitle,
        ),
        key_value_table(
            t.pgettext("request register", "Summary"), general, width=width, label_width=60 * mm
        ),
        Spacer(1, 6 * mm),
        safe_paragraph(
            t.pgettext("request register", "Requests per type and outcome"), styles.heading
        ),
        data_table(
            counts_header,
            summary_rows(register, t),
            col_widths=[first_width, *([other] * (len(counts_header) - 1))],
        ),
        Spacer(1, 6 * mm),
        safe_paragraph(t.pgettext("request register", "The requests"), styles.heading),
    ]
    rows = _rows(register, lang, t)
    if rows:
        scale = width / (sum(_COLUMN_WIDTHS_MM) * mm)
        story.append(
            data_table(
                headings(t),
                rows,
                col_widths=[part * mm * scale for part in _COLUMN_WIDTHS_MM],
            )
        )
    else:
        story.append(
            safe_paragraph(
                t.pgettext("request register", "No request was received in this period."),
                styles.body,
            )
        )
    name = f"{title(t)} — {organisation}"
    info = DocumentInfo(
        title=name,
        author=organisation,
        subject=title(t),
        lang=lang,
        footer=name,
    )
    return render_pdf(story, info, pagesize=PAGE)


def register_file(register: RequestRegister, fmt: str, lang: str, *, organisation: str) -> bytes:
    """The register in format `fmt` (a key of `FORMATS`) and language `lang` (fr or en)."""
    t = translations(Language(_language(lang)))
    if fmt == "csv":
        return register_csv(register, lang, t)
    if fmt == "xlsx":
        return register_xlsx(register, lang, t, organisation=organisation)
    if fmt == "pdf":
        return register_pdf(register, lang, t, organisation=organisation)
    raise ValueError(f"no register format {fmt!r}: choose among {', '.join(FORMATS)}")
