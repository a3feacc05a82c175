"""The answer letter of a request answered by post (R44, R47): the organisation's sender block,
the recipient's postal address, the place and date, the subject and the answer the desk would
have emailed (its text, kept with the request when it was decided), in the request's language.

Every text is data, never markup (`safe_paragraph`): a name like "<b>Zoé & Cie</b>" is printed
as typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from gettext import NullTranslations

from reportlab.lib.units import mm
from reportlab.platypus import Spacer, Table, TableStyle
from reportlab.platypus.flowables import Flowable

from exports.dates import long_day
from exports.pdf import DocumentInfo, content_width, document_styles, render_pdf, safe_paragraph


@dataclass(frozen=True, slots=True)
class LetterSender:
    """Who writes: the organisation and its data protection officer's contact."""

    organisation: str
    dpo: str
    dpo_email: str | None
    dpo_address: str | None
    website: str | None


@dataclass(frozen=True, slots=True)
class AnswerLetter:
    """What the letter says: `text` is the answer as kept (its subject, a blank line, its
    body); `recipient` the postal address given (None: the letter says none was given)."""

    reference: str
    language: str
    dated: date
    recipient: str | None
    text: str


def _split(text: str) -> tuple[str, list[str]]:
    """Return the subject (the first line) and the paragraphs of the answer's text."""
    subject, _, body = text.strip().partition("\n")
    paragraphs = [part.strip("\n") for part in body.strip().split("\n\n")]
    return subject.strip(), [part for part in paragraphs if part.strip()]


def render_answer_letter(
    letter: AnswerLetter, sender: LetterSender, translations: NullTranslations
) -> bytes:
    """Return the letter as a PDF (A4, one or more numbered pages) in `translations`' words."""
    t = translations
    styles = document_styles()
    subject, paragraphs = _split(letter.text)
    sender_lines = [
        sender.organisation,
        t.pgettext("answer letter", "Data protection officer: %(name)s") % {"name": sender.dpo},
        *(line for line in (sender.dpo_address, sender.dpo_email, sender.website) if line),
    ]
    recipient = letter.recipient or t.pgettext("answer letter", "(no postal address given)")
    half = content_width() / 2
    heading = Table(
        [
            [safe_paragraph("\n".join(sender_lines), styles.body), ""],
            ["", safe_paragraph(recipient, styles.body)],
        ],
        colWidths=[half, half],
        style=TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 6 * mm),
            ]
        ),
    )
    story: list[Flowable] = [
        heading,
        safe_paragraph(long_day(letter.dated, letter.language), styles.body),
        Spacer(1, 4 * mm),
        safe_paragraph(
            t.pgettext("answer letter", "Subject: %(subject)s") % {"subject": subject},
            styles.cell_header,
        ),
        Spacer(1, 4 * mm),
        *(safe_paragraph(paragraph, styles.body) for paragraph in paragraphs),
    ]
    title = t.pgettext("answer letter", "Answer to the request %(reference)s") % {
        "reference": letter.reference
    }
    info = DocumentInfo(
        title=title,
        author=sender.organisation,
        subject=subject,
        lang=letter.language,
        footer=f"{sender.organisation} · {letter.reference}",
    )
    return render_pdf(story, info)
