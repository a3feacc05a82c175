"""The access report (GDPR Art. 15): a copy of a subject's data with what the law says goes with it.

A cover (organisation, controller, DPO, the request), a summary of the categories found, then per
category what it is, its purposes, legal basis, recipients, retention and source, followed by the
data as tables with the map's labels and values in the reader's locale; it ends with the rights,
how to exercise them, the supervisory authority, automated decisions and transfers.

The story is produced lazily, a category at a time, and laid out as it comes. A category prints
at most `rows_per_category` rows (DSR_REPORT_ROWS_PER_CATEGORY): beyond that a report is no longer
read, and its size and time would grow with the rows; they are read from the collection until
each table has its share, and only they are held. Where rows are left out, the report says how
many the category holds and that all of them are in the machine-readable export delivered with
it (`export_file_name`), which `exports.data_export` writes.

The words are the desk's gettext catalogue's, context "report"; the caller hands in the catalogue
of the reader's language (exports/ imports nothing of dsr/): any `gettext.NullTranslations`, such
as Babel's `support.Translations`, or a bare `NullTranslations` for English, the sources' language.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, tzinfo
from decimal import Decimal
from functools import cache, lru_cache, partial
from gettext import NullTranslations
from typing import Any, BinaryIO

from babel.numbers import format_decimal
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Frame,
    NextPageTemplate,
    PageBreak,
    PageTemplate,
)
from reportlab.platypus.flowables import Flowable

from exports.dates import as_instant, short_date, short_datetime
from exports.display import shown_text
from exports.made_for import MadeFor, made_for_row
from exports.pdf import (
    FONT_BOLD,
    FONT_REGULAR,
    MARGIN,
    PDF_LOCK,
    ShallowFrame,
    content_width,
    document_styles,
    register_fonts,
)
from exports.plain_paragraph import (
    Gap,
    SeededCanvas,
    plain_bullet_list,
    plain_data_table,
    plain_key_value_table,
    plain_paragraph,
    shared_key_value_table,
)
from exports.script_text import display_lines, line_width, printable
from exports.text_grid import FONT_SIZE, PADDING, TextGrid
from inventory.collection import CollectedRow, Collection, redacted_value
from inventory.mentions import PossibleMention
from inventory.model import Category, Contact, DataMap, Field_
from inventory.reference_labels import raw_key

CHUNK_ROWS = 40
"""Rows per table flowable: a long table is laid out as a run of tables of about a page each
(a table split across pages is measured again from the split, so long ones cost quadratic time)."""
BATCH_TABLES = 12
"""Tables handed to the layout at a time: what is held in memory of a long category."""
PORTRAIT_COLUMNS = 5
"""Tables of up to this many columns fit a portrait page."""
LANDSCAPE_COLUMNS = 10
"""Wider tables go on landscape pages, up to this many columns; beyond, one block per row."""
FEW_ROWS = 10
"""A wide table with no more rows than this reads better as one block of labels per row."""
CELL_FONT_SIZE = FONT_SIZE
WRAP_CACHE_SIZE = 5000
"""Wrapped cells remembered within one long table (repeated dates, devices, pages)."""
CELL_PADDING = PADDING
CELL_TEXT_MAX = 5000
"""A value longer than this is cut in the PDF, with a note saying how much was left out: a 10 MB
comment would take reportlab many minutes and thousands of pages. The portable export keeps it
whole."""
ROWS_PER_CATEGORY = 100
"""Rows of a category printed when the caller does not say (the desk passes its setting)."""
SHORT_CELL = 18
"""Cells of up to this many characters (a date and time, an amount) are not wrapped."""
PORTRAIT = A4
LANDSCAPE = landscape(A4)


def export_file_name(reference: str) -> str:
    """Name the file of the complete machine-readable export delivered with the report."""
    return f"{reference}-export.zip"


@dataclass(frozen=True)
class ReportRequest:
    """What the report says about the request it answers."""

    reference: str
    received_at: datetime
    completed_at: datetime
    requester_email: str
    language: str
    made_for: MadeFor | None = None  # R45: asked by a representative or a parent


# -- values in the reader's locale ------------------------------------------------------------


EMPTY = "—"
"""What an empty value reads as, in every language."""


def _language(lang: str) -> str:
    return "fr" if lang == "fr" else "en"


def format_number(value: int | float | Decimal, lang: str) -> str:
    """Write a number as the reader does, with Babel: 1 234,50 in French, 1,234.50 in English.

    Integers below 10,000 are not grouped (years, codes and small counts read better as typed); a
    float shows two decimals, rounded as Python prints it; a Decimal keeps the places it has. The
    French group separator is a no-break space (U+00A0), which every embedded font draws.
    """
    # Cached by type and, for a float or a Decimal, by its text: 1, 1.0, -0.0 and
    # Decimal("1.00") are equal to others that are written apart.
    if isinstance(value, float | Decimal):  # the text each is made again from
        if isinstance(value, Decimal):
            return _formatted_number("decimal", str(value), _language(lang))
        return _formatted_number("float", repr(float(value)), _language(lang))
    return _formatted_number("int", int(value), _language(lang))


@lru_cache(maxsize=4096)
def _formatted_number(kind: str, key: int | str, lang: str) -> str:
    """Babel's formatting of one number, once per process (counts, years and amounts repeat)."""
    value: int | float | Decimal = (
        Decimal(key) if kind == "decimal" else float(key) if kind == "float" else int(key)
    )
    if isinstance(value, int):
        pattern = "#,##0" if abs(value) >= 10_000 else "0"
    else:
        if not isinstance(value, Decimal):
            value = Decimal(f"{value:.2f}")
        exponent = value.as_tuple().exponent
        places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        pattern = "#,##0" + ("." + "0" * places if places else "")
    text = format_decimal(value, format=pattern, locale=lang)
    return text.replace("\u202f", "\u00a0")


def format_value(
    value: Any,
    lang: str,
    translations: NullTranslations,
    *,
    zone: tzinfo,
    stored_zone: tzinfo,
    date_only: bool = False,
) -> str:
    """Write one collected value as plain text for the reader (`translations` in `lang`).

    A moment is shown in `zone` (the organisation's), one stored without a zone read first in
    `stored_zone` (its system's); a value of a date column (`date_only`) is a date, never with
    a time, even when the driver returns it as a datetime."""
    if value is None or value == "":
        return EMPTY
    if isinstance(value, bool):
        t = translations
        return t.pgettext("report", "Yes") if value else t.pgettext("report", "No")
    if isinstance(value, int | float | Decimal):
        return format_number(value, lang)
    if isinstance(value, datetime) and date_only:
        return short_date(value.date(), lang)
    if isinstance(value, datetime):
        return short_datetime(as_instant(value, stored_zone), lang, zone)
    if isinstance(value, date):
        return short_date(value, lang)
    if isinstance(value, time):
        return f"{value.hour:02d}:{value.minute:02d}"
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return str(value)


# -- the document -----------------------------------------------------------------------------


class _StoryStream(Flowable):  # type: ignore[misc]
    """A placeholder the document replaces, when it reaches it, by the next batch of the story."""

    def __init__(self, batches: Iterator[list[Flowable]]) -> None:
        super().__init__()
        self._batches = batches

    def next_batch(self) -> list[Flowable] | None:
        return next(self._batches, None)


class _ReportDocument(BaseDocTemplate):  # type: ignore[misc]
    """A document whose story is pulled from `_StoryStream`s as the layout reaches them."""

    def filterFlowables(self, flowables: list[Flowable | None]) -> None:  # noqa: N802
        while flowables and isinstance(flowables[0], _StoryStream):
            batch = flowables[0].next_batch()
            if batch is None:
                flowables[0] = None  # reportlab drops a None in first place
                return
            flowables[0:0] = batch


def render_access_report(
    *,
    data_map: DataMap,
    collection: Collection,
    request: ReportRequest,
    translations: NullTranslations,
    out: BinaryIO,
    rows_per_category: int = ROWS_PER_CATEGORY,
    mentions: Sequence[PossibleMention] = (),
) -> None:
    """Write the access report for `collection` to `out`, in the request's language, whose
    catalogue `translations` is, printing at most `rows_per_category` rows of each category,
    and the `mentions` of the person in other people's texts that staff confirmed."""
    if rows_per_category < 1:
        raise ValueError("an access report prints at least one row per category")
    register_fonts()
    lang = _language(request.language)
    t = translations
    organisation = data_map.organisation.name
    title = f"{t.pgettext('report', 'Copy of your personal data')} — {organisation}"
    doc = _ReportDocument(
        out,
        pagesize=PORTRAIT,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=title,
        author=organisation,
        subject=t.pgettext(
            "report", "Right of access: copy of personal data and information (GDPR Art. 15)"
        ),
        keywords=["GDPR", "RGPD", "Art. 15", request.reference],
        creator="privacy-desk",
        lang=lang,
        invariant=1,
        displayDocTitle=1,
        initialFontName=FONT_REGULAR,
    )
    doc.addPageTemplates(
        [
            PageTemplate(id="portrait", frames=[_frame("portrait", PORTRAIT)], pagesize=PORTRAIT),
            PageTemplate(
                id="landscape", frames=[_frame("landscape", LANDSCAPE)], pagesize=LANDSCAPE
            ),
        ]
    )
    story = _ReportStory(data_map, collection, request, lang, t, rows_per_category)
    story.mentions = list(mentions)
    canvasmaker: Callable[..., Canvas] = partial(
        SeededCanvas,
        footer=f"{title} — {request.reference}",
        page_label=t.pgettext("report", "Page %(page)s of %(total)s"),
    )
    with PDF_LOCK:  # the story is built while the document lays it out: both under the lock
        doc.build([_StoryStream(story.batches())], canvasmaker=canvasmaker)


def _frame(name: str, pagesize: tuple[float, float]) -> Frame:
    width, height = pagesize
    return ShallowFrame(MARGIN, MARGIN, width - 2 * MARGIN, height - 2 * MARGIN, id=name)


def _contact(contact: Contact, *, skip: Iterable[str] = ()) -> str:
    shown = set(skip)
    parts = [contact.name, contact.address, contact.email, contact.phone, contact.website]
    return ", ".join(part for part in parts if part and part not in shown)


@dataclass(frozen=True)
class _TableGroup:
    """The rows of one category from one table, with the fields shown for it."""

    system: str
    table: str
    fields: list[Field_]
    count: int
    dates: frozenset[str]  # the fields (`table.column`) of date columns
    shown: int = 0  # the rows printed, at most `count`


class _ReportStory:
    """The report's flowables, produced batch by batch; no batch ends with a keep-with-next."""

    def __init__(
        self,
        data_map: DataMap,
        collection: Collection,
        request: ReportRequest,
        lang: str,
        translations: NullTranslations,
        rows_per_category: int = ROWS_PER_CATEGORY,
    ) -> None:
        self.data_map = data_map
        self.rows_per_category = rows_per_category
        self.collection = collection
        self.request = request
        self.lang = lang
        self.t = translations
        self.styles = document_styles()
        self.caption = ParagraphStyle(
            "caption", parent=self.styles.body, fontSize=8.5, leading=11, keepWithNext=1
        )
        self.group_heading = ParagraphStyle(
            "group", parent=self.styles.body, fontName=FONT_BOLD, keepWithNext=1
        )
        self.orientation = "portrait"
        self.mentions: list[PossibleMention] = []
        self._zones: dict[str, tuple[tzinfo, tzinfo]] = {}
        """Per system, the organisation's zone and the one the system stores its times in."""

    # The sequence of the document.

    def batches(self) -> Iterator[list[Flowable]]:
        yield self._cover()
        yield self._summary()
        categories = [c for c in self.collection.categories if self.collection.count(c)]
        for number, category_id in enumerate(categories, start=1):
            yield from self._category(number, category_id)
        if self.mentions:
            yield self._mentions()
        yield self._turn("portrait") or [PageBreak()]
        yield self._rights(categories)

    def _turn(self, orientation: str) -> list[Flowable]:
        """Start a new page in `orientation` when the current pages are the other way."""
        if orientation == self.orientation:
            return []
        self.orientation = orientation
        return [NextPageTemplate(orientation), PageBreak()]

    @property
    def width(self) -> float:
        return content_width(PORTRAIT if self.orientation == "portrait" else LANDSCAPE)

    # The cover and the summary.

    def _cover(self) -> list[Flowable]:
        t, styles, request = self.t, self.styles, self.request
        organisation = self.data_map.organisation
        request_rows: list[tuple[str, str | Sequence[str]]] = [
            (t.pgettext("report", "Reference"), request.reference),
            (t.pgettext("report", "Verified email address"), request.requester_email),
            *([made_for_row(request.made_for, t, "report")] if request.made_for else []),
            (
                t.pgettext("report", "Request received on"),
                short_datetime(request.received_at, self.lang, organisation.zone),
            ),
            (
                t.pgettext("report", "Answer prepared on"),
                short_datetime(request.completed_at, self.lang, organisation.zone),
            ),
        ]
        controller_rows: list[tuple[str, str | Sequence[str]]] = [
            (t.pgettext("report", "Organisation"), f"{organisation.name}\n{organisation.address}"),
            (
                t.pgettext("report", "Controller contact"),
                _contact(organisation.controller, skip=(organisation.name, organisation.address))
                or organisation.controller.name,
            ),
            (t.pgettext("report", "Data protection officer (DPO)"), _contact(organisation.dpo)),
        ]
        intro = t.pgettext(
            "report",
            "You asked us for a copy of the personal data we hold about you. This document gives "
            "all of it, category by category, with for each the purposes of the processing, its "
            "legal basis, its recipients, how long it is kept and where the data comes from; it "
            "ends with your rights and how to exercise them.",
        )
        return [
            plain_paragraph(
                t.pgettext("report", "Copy of your personal data"), styles.title, shared=True
            ),
            plain_paragraph(
                t.pgettext(
                    "report", "Answer to your access request (GDPR Article 15) — %(organisation)s"
                )
                % {"organisation": organisation.name},
                styles.subtitle,
                shared=True,
            ),
            plain_paragraph(intro, styles.body, shared=True),
            *self._cut_notice(),
            Gap(1, 4 * mm),
            plain_key_value_table(
                t.pgettext("report", "Your request"),
                request_rows,
                width=self.width,
                shared_labels=True,
            ),
            Gap(1, 4 * mm),
            shared_key_value_table(
                t.pgettext("report", "Controller"), controller_rows, width=self.width
            ),
            Gap(1, 6 * mm),
        ]

    def _cut_notice(self) -> list[Flowable]:
        """Say on the cover, when a category holds more rows than are printed, where they are."""
        limit = self.rows_per_category
        if not any(self.collection.count(c) > limit for c in self.collection.categories):
            return []
        text = self.t.pgettext(
            "report",
            "Where a category holds more than %(limit)s records, this document prints the first "
            "%(limit)s and says so; all of them are in the machine-readable export delivered "
            "with it, the file %(file)s (JSON and CSV files, one pair per category).",
        ) % {
            "limit": format_number(limit, self.lang),
            "file": export_file_name(self.request.reference),
        }
        return [plain_paragraph(text, self.styles.body)]

    def _summary(self) -> list[Flowable]:
        t, styles = self.t, self.styles
        heading = plain_paragraph(
            t.pgettext("report", "Summary of the data found"), styles.heading, shared=True
        )
        if not self.collection.total_rows:
            return [
                heading,
                plain_paragraph(
                    t.pgettext(
                        "report",
                        "We found no personal data about you, linked to the email address of "
                        "your request, in any of our systems.",
                    ),
                    styles.body,
                    shared=True,
                ),
                plain_paragraph(
                    t.pgettext(
                        "report",
                        "The information on your rights still applies if you think we hold data "
                        "about you under another address or identifier: write to us.",
                    ),
                    styles.body,
                    shared=True,
                ),
            ]
        rows = []
        for category_id in self.collection.categories:
            count = self.collection.count(category_id)
            if not count:
                continue
            category = self.data_map.categories[category_id]
            systems = dict.fromkeys(
                self.data_map.systems[name.split(".", 1)[0]].title.get(self.lang)
                for name in self.collection.counts[category_id]
            )
            rows.append(
                [category.title.get(self.lang), format_number(count, self.lang), "\n".join(systems)]
            )
        width = self.width
        return [
            heading,
            plain_data_table(
                [
                    t.pgettext("report", "Category"),
                    t.pgettext("report", "Number of records"),
                    t.pgettext("report", "Systems"),
                ],
                rows,
                col_widths=[width - 100 * mm, 35 * mm, 65 * mm],
                shared_columns=(0, 2),
            ),
        ]

    # One category.

    def _groups(self, category_id: str) -> list[_TableGroup]:
        category = self.data_map.categories[category_id]
        counts = self.collection.counts[category_id]
        types = self.collection.field_types.get(category_id, {})
        dates = frozenset(column for column, kind in types.items() if kind == "date")
        groups: dict[tuple[str, str], list[Field_]] = {}
        for f in category.fields:
            if f.disclose:
                groups.setdefault((f.system or category.system, f.table), []).append(f)
        found = [
            (system, table, fields, counts[f"{system}.{table}"])
            for (system, table), fields in groups.items()
            if counts.get(f"{system}.{table}")
        ]
        shares = rows_shown([count for *_, count in found], self.rows_per_category)
        return [
            _TableGroup(system, table, fields, count, dates, shown)
            for (system, table, fields, count), shown in zip(found, shares, strict=True)
        ]

    def _layout(self, group: _TableGroup) -> str:
        columns = len(group.fields)
        if group.shown <= 1 or columns > LANDSCAPE_COLUMNS:
            return "blocks"
        if columns <= PORTRAIT_COLUMNS:
            return "portrait"
        return "blocks" if group.shown <= FEW_ROWS else "landscape"

    def _category(self, number: int, category_id: str) -> Iterator[list[Flowable]]:
        category = self.data_map.categories[category_id]
        groups = self._groups(category_id)
        layouts = [self._layout(group) for group in groups]
        orientation = "landscape" if "landscape" in layouts else "portrait"
        # Its number says where the category comes among the person's, nothing of their data.
        title = f"{number}. {category.title.get(self.lang)}"
        heading = plain_paragraph(title, self.styles.heading, shared=True)
        turn = self._turn(orientation)
        if number == 1:
            # The first category opens the details on a new page, under their title.
            details = self.t.pgettext("report", "Your data, category by category")
            details_title = plain_paragraph(details, self.styles.title, shared=True)
            turn = [*(turn or [PageBreak()]), details_title]
        yield [
            *turn,
            heading,
            self._about(category),
            Gap(1, 4 * mm),
            *self._left_out(category_id, groups),
        ]
        picked = self._printed_rows(category_id, groups)
        redacted = False
        for group, layout in zip(groups, layouts, strict=True):
            tracker = _RedactionTracker(picked.get((group.system, group.table), []))
            by = category.group_field(group.system, group.table)
            if by is None:
                yield from self._data(group, layout, tracker)
            else:
                yield from self._grouped(group, layout, tracker, by)
            redacted = redacted or tracker.redacted
        if redacted:
            note = self.t.pgettext(
                "report",
                "Some rows hold other people's data (for example the messages of another "
                "participant in a conversation): their content is redacted.",
            )
            yield [plain_paragraph(note, self.styles.small, shared=True)]
        yield [Gap(1, 6 * mm)]

    def _printed_rows(
        self, category_id: str, groups: Sequence[_TableGroup]
    ) -> dict[tuple[str, str], list[CollectedRow]]:
        """Read the category's rows until each table has its printed share, and no further:
        at most `rows_per_category` rows are held, whatever the order the tables were stored in;
        the rest is in the export."""
        left = {(group.system, group.table): group.shown for group in groups if group.shown}
        picked: dict[tuple[str, str], list[CollectedRow]] = {key: [] for key in left}
        rows = self.collection.rows(category_id)
        try:
            for row in rows:
                if not left:
                    break
                key = (row.system, row.table)
                if key in left:
                    picked[key].append(row)
                    left[key] -= 1
                    if not left[key]:
                        del left[key]
        finally:
            close = getattr(rows, "close", None)
            if close is not None:
                close()
        return picked

    def _left_out(self, category_id: str, groups: Sequence[_TableGroup]) -> list[Flowable]:
        """Say how many rows the category holds, how many are printed, and where all of them are,
        when some are left out."""
        count = self.collection.count(category_id)
        shown = sum(group.shown for group in groups)
        if shown >= count:
            return []
        text = self.t.pgettext(
            "report",
            "This category holds %(count)s records; %(shown)s of them are printed below. All of "
            "them are in the machine-readable export delivered with this report: the file "
            "%(file)s, in %(category)s.json and %(category)s.csv.",
        ) % {
            "count": format_number(count, self.lang),
            "shown": format_number(shown, self.lang),
            "file": export_file_name(self.request.reference),
            "category": category_id,
        }
        return [plain_paragraph(text, self.styles.body), Gap(1, 2 * mm)]

    def _about(self, category: Category) -> Flowable:
        t, lang = self.t, self.lang
        data_map = self.data_map
        if category.legal_bases:  # several grounds: say which one covers which purposes
            legal_basis = [ground.describe(lang, t) for ground in category.legal_bases]
        else:
            legal_basis = [ground.basis.describe(t) for ground in category.grounds]
            if category.legal_basis_detail is not None:
                legal_basis.append(category.legal_basis_detail.get(lang))
        recipients = [
            t.pgettext("report", "%(name)s: %(description)s")
            % {
                "name": data_map.recipients[key].name.get(lang),
                "description": data_map.recipients[key].description.get(lang),
            }
            for key in category.recipients
        ] or [
            t.pgettext("report", "No recipient outside %(organisation)s")
            % {"organisation": data_map.organisation.name}
        ]
        retention = category.retention
        retention_lines = [
            t.pgettext("report", "Period: %(period)s") % {"period": retention.period.describe(t)},
            t.pgettext("report", "Starting from: %(start)s")
            % {"start": retention.describe_start(self._label_of(retention.from_), t)},
        ]
        if retention.condition is not None:
            retention_lines.append(retention.condition.get(lang))
        retention_lines.append(
            t.pgettext("report", "Source: %(source)s") % {"source": retention.source.get(lang)}
        )
        purposes = [p.get(lang) for p in category.all_purposes]
        rows: list[tuple[str, str | Sequence[str]]] = [
            (t.pgettext("report", "What it is"), category.description.get(lang)),
            (t.pgettext("report", "Purposes"), purposes),
            (t.pgettext("report", "Legal basis"), "\n".join(legal_basis)),
            (t.pgettext("report", "Recipients"), recipients),
            (t.pgettext("report", "Retention period"), "\n".join(retention_lines)),
            (t.pgettext("report", "Source of the data"), category.source.get(lang)),
        ]
        return shared_key_value_table(
            t.pgettext("report", "About the processing"), rows, width=self.width
        )

    def _label_of(self, column: str) -> str:
        for category in self.data_map.categories.values():
            for f in category.fields:
                if f.column == column:
                    return f.label.get(self.lang)
        return column

    # The data.

    def _cells(self, group: _TableGroup, row: CollectedRow) -> list[str]:
        cells = []
        for f in group.fields:
            if (f.third_party and not row.owned) or redacted_value(row.values.get(f.name)):
                cells.append(self.t.pgettext("report", "[redacted: another person's data]"))
            else:
                cells.append(self._cut(self._value(group, f, row)))
        return cells

    def _value(self, group: _TableGroup, f: Field_, row: CollectedRow) -> str:
        """Write a value as its field's `display` says, else as its type reads."""
        value = row.values.get(f.name)
        zones = self._zones.get(group.system)
        if zones is None:
            zones = (self.data_map.organisation.zone, self.data_map.system_zone(group.system))
            self._zones[group.system] = zones
        zone, stored_zone = zones
        shown = shown_text(
            f,
            value,
            lang=self.lang,
            system=group.system,
            row=row.values,
            labels=self.collection.labels,
            zone=zone,
            stored_zone=stored_zone,
        )
        if shown is not None:
            return shown
        return format_value(
            value,
            self.lang,
            self.t,
            zone=zone,
            stored_zone=stored_zone,
            date_only=f.column in group.dates,
        )

    def _cut(self, text: str) -> str:
        """Cut an overlong value, with a note. Tables and paragraphs then show it printable: a
        tab as a space, hidden characters and those no font draws (emoji) as [U+XXXX]."""
        if len(text) > CELL_TEXT_MAX:
            left_out = format_number(len(text) - CELL_TEXT_MAX, self.lang)
            cut = self.t.pgettext(
                "report",
                "[… %(count)s more characters, not printed here: ask us for the complete value]",
            )
            text = f"{text[:CELL_TEXT_MAX]} {cut % {'count': left_out}}"
        return text

    def _count_caption(self, count: int) -> Flowable:
        text = (
            self.t.pgettext("report", "1 record")
            if count == 1
            else self.t.pgettext("report", "%(count)s records")
            % {"count": format_number(count, self.lang)}
        )
        return plain_paragraph(text, self.caption)

    def _grouped(
        self, group: _TableGroup, layout: str, rows: Iterable[CollectedRow], by: Field_
    ) -> Iterator[list[Flowable]]:
        """Show the rows under the label of the row each refers to through `by` (the map's
        `group_by`: messages under their thread's subject), in the order first met."""
        parts: dict[str, list[CollectedRow]] = {}
        for row in rows:
            parts.setdefault(raw_key(row.values.get(by.name)), []).append(row)
        if not parts:
            yield from self._data(group, layout, [])
            return
        fields = [f for f in group.fields if f is not by] or group.fields
        yield [self._count_caption(group.count)]
        for part in parts.values():
            heading = self.t.pgettext("report", "%(name)s: %(description)s") % {
                "name": by.label.get(self.lang),
                "description": self._value(group, by, part[0]),
            }
            sub = replace(group, fields=fields, count=len(part), shown=len(part))
            yield [plain_paragraph(heading, self.group_heading)]
            yield from self._data(sub, self._layout(sub), part, captioned=False)

    def _data(
        self,
        group: _TableGroup,
        layout: str,
        rows: Iterable[CollectedRow],
        *,
        captioned: bool = True,
    ) -> Iterator[list[Flowable]]:
        labels = [f.label.get(self.lang) for f in group.fields]
        caption = self._count_caption(group.count)
        if not group.shown:
            yield [caption, Gap(1, 3 * mm)]
            return
        if layout == "blocks":
            batch: list[Flowable] = [caption] if captioned else []
            for number, row in enumerate(rows, start=1):
                heading = self.t.pgettext("report", "Record %(number)s of %(total)s") % {
                    "number": format_number(number, self.lang),
                    "total": format_number(group.count, self.lang),
                }
                pairs: list[tuple[str, str | Sequence[str]]] = list(
                    zip(labels, self._cells(group, row), strict=True)
                )
                batch += [
                    plain_key_value_table(
                        heading, pairs, width=self.width, shared_labels=True, shared_heading=False
                    ),
                    Gap(1, 3 * mm),
                ]
                if len(batch) >= 2 * CHUNK_ROWS // 10:
                    yield batch
                    batch = []
            yield [*batch, Gap(1, 3 * mm)]
            return
        first = True
        widths: list[float] | None = None
        wrapped: dict[tuple[str, int], str] = {}
        batch = []
        for chunk in _chunked(rows, CHUNK_ROWS):
            cells = [self._cells(group, row) for row in chunk]
            if widths is None:
                widths = _column_widths(labels, cells, self.width)
            table = text_table(labels, cells, col_widths=widths, wrapped=wrapped)
            batch += [caption, table] if first and captioned else [table]
            first = False
            if len(batch) >= BATCH_TABLES:
                yield batch
                batch = []
        if batch:
            yield batch
        yield [Gap(1, 3 * mm)]

    # The rights.

    # Mentions of the person in other people's texts (issue 20).

    def _mentions(self) -> list[Flowable]:
        """The passages of other people's texts that name the person, as staff confirmed."""
        t, styles = self.t, self.styles
        search = self.data_map.mentions.search if self.data_map.mentions else []
        labels = {(s.system, s.column): s.label.get(self.lang) for s in search}
        rows: list[tuple[str, str | Sequence[str]]] = [
            (labels.get((m.system, f"{m.table}.{m.column}"), m.table), m.excerpt)
            for m in self.mentions
        ]
        heading = t.pgettext("report", "Mentions of you in other people's texts")
        return [
            plain_paragraph(heading, styles.heading, shared=True),
            plain_paragraph(
                t.pgettext(
                    "report",
                    "Texts written by other people that name you: the passage around your name.",
                ),
                styles.body,
                shared=True,
            ),
            plain_key_value_table(heading, rows, width=self.width),
            Gap(1, 4 * mm),
        ]

    def _rights(self, categories: Sequence[str]) -> list[Flowable]:
        t, lang, styles = self.t, self.lang, self.styles
        organisation = self.data_map.organisation
        rights = [
            t.pgettext(
                "report",
                "Rectification (Article 16): have inaccurate data corrected or incomplete data "
                "completed.",
            ),
            t.pgettext(
                "report",
                "Erasure (Article 17): have your data erased, except what the law obliges us to "
                "keep (invoices, for example).",
            ),
            t.pgettext(
                "report",
                "Restriction of processing (Article 18): have the use of your data frozen, for "
                "example while a dispute about it is checked.",
            ),
            t.pgettext(
                "report",
                "Objection (Article 21): object to processing based on our legitimate interests, "
                "and at any time to direct marketing.",
            ),
            t.pgettext(
                "report",
                "Portability (Article 20): receive the data you provided to us in a structured, "
                "machine-readable format, or have it sent to another organisation.",
            ),
            t.pgettext(
                "report",
                "Withdrawal of consent (Article 7): withdraw at any time a consent you gave, "
                "without affecting the processing done before.",
            ),
        ]
        transfers = [organisation.transfers_outside_eu.get(lang)]
        seen: set[str] = set()
        for category_id in categories:
            for key in self.data_map.categories[category_id].recipients:
                recipient = self.data_map.recipients[key]
                if key in seen or not recipient.outside_eea:
                    continue
                seen.add(key)
                safeguards = recipient.transfer_safeguards
                transfers.append(
                    t.pgettext("report", "%(name)s (%(country)s): %(safeguards)s")
                    % {
                        "name": recipient.name.get(lang),
                        "country": recipient.country or "",
                        "safeguards": safeguards.get(lang)
                        if safeguards
                        else t.pgettext("report", "no safeguards stated"),
                    }
                )
        exercise = t.pgettext(
            "report",
            "Write to our data protection officer: %(dpo)s. We answer within one month, which may "
            "be extended by two months for a complex request; we then tell you so within the first "
            "month. Exercising your rights is free of charge.",
        )
        complaint = t.pgettext(
            "report",
            "If you consider that the processing of your data does not comply with the law, you "
            "may lodge a complaint with: %(authority)s.",
        )
        return [
            _words(t.pgettext("report", "Your rights"), styles.title),
            _words(
                t.pgettext(
                    "report",
                    "The General Data Protection Regulation (GDPR) gives you the following rights "
                    "over the data in this document.",
                ),
                styles.body,
            ),
            *plain_bullet_list(rights, styles.body, shared=True),
            _words(t.pgettext("report", "How to exercise your rights"), styles.heading),
            _words(exercise % {"dpo": _contact(organisation.dpo)}, styles.body),
            _words(t.pgettext("report", "Complaint to the supervisory authority"), styles.heading),
            _words(
                complaint % {"authority": _contact(organisation.supervisory_authority)},
                styles.body,
            ),
            _words(t.pgettext("report", "Automated decisions and profiling"), styles.heading),
            _words(organisation.automated_decisions.get(lang), styles.body),
            _words(t.pgettext("report", "Transfers outside the European Union"), styles.heading),
            *plain_bullet_list(transfers, styles.body, shared=True),
        ]


def _words(text: str, style: ParagraphStyle) -> Flowable:
    """A paragraph of the desk's and the map's words only (`plain_paragraph(shared=True)`)."""
    return plain_paragraph(text, style, shared=True)


class _RedactionTracker:
    """Pass rows through, noting whether any of them is someone else's (redacted fields)."""

    def __init__(self, rows: Iterable[CollectedRow]) -> None:
        self._rows = rows
        self.redacted = False

    def __iter__(self) -> Iterator[CollectedRow]:
        for row in self._rows:
            if not row.owned or any(map(redacted_value, row.values.values())):
                self.redacted = True
            yield row


def rows_shown(counts: Sequence[int], limit: int) -> list[int]:
    """Share `limit` printed rows between tables holding `counts` rows: each table gets an equal
    share, what a small table does not use goes to the others, and the remainder of the division
    to the first tables; a category under the limit is printed whole."""
    shown = [0] * len(counts)
    pending = sorted(range(len(counts)), key=lambda index: counts[index])
    left = limit
    while pending:
        fair = left // len(pending)
        smallest = pending[0]
        if counts[smallest] <= fair:
            shown[smallest] = counts[smallest]
            left -= counts[smallest]
            pending.pop(0)
            continue
        extra = left - fair * len(pending)
        for order, index in enumerate(sorted(pending)):
            shown[index] = min(counts[index], fair + (1 if order < extra else 0))
        break
    return shown


def _chunked(rows: Iterable[CollectedRow], size: int) -> Iterator[list[CollectedRow]]:
    iterator = iter(rows)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


@cache
def _glyph_widths(font_name: str) -> tuple[dict[int, float], float]:
    """Return the advance of each character of an embedded font, in thousandths of an em."""
    face = pdfmetrics.getFont(font_name).face
    return dict(face.charWidths), float(face.defaultWidth)


@cache
def _widest_latin(font_name: str) -> float:
    widths, default = _glyph_widths(font_name)
    return max(widths.get(code, default) for code in range(32, 256))


def _latin_1(text: str) -> bool:
    return (not text or max(text) < "\u0100") and "\n" not in text and "\r" not in text


def text_width(text: str, font_name: str, size: float) -> float:
    """Return the width of one line of `text` in points, in the fonts that draw it (one
    C-accelerated measure for Latin text)."""
    if _latin_1(text):
        return float(pdfmetrics.getFont(font_name).stringWidth(text, size))  # as `stringWidth`
    return line_width(text, font_name, size)


def wrap_text(text: str, width: float, font_name: str, size: float) -> str:
    """Break printable `text` into lines no wider than `width`, at spaces, else inside a word,
    each line in the order it is drawn (right-to-left runs reordered)."""
    if len(text) * _widest_latin(font_name) * size / 1000 <= width and _latin_1(text):
        return text
    return "\n".join(display_lines(text, width, font_name, size))


def text_table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    col_widths: Sequence[float],
    wrapped: dict[tuple[str, int], str] | None = None,
) -> TextGrid:
    """Build a grid of plain-text cells, wrapped to their column, its header repeated per page.

    Cells are strings drawn as they are (never read as markup, hidden characters and those no
    font draws shown as [U+XXXX]) and wrapped here once, which
    is many times faster than a paragraph per cell for tables of thousands of rows. `wrapped`
    caches wrapped cells across the grids of one long table (values repeat: dates, devices).
    """
    register_fonts()
    inner = [width - 2 * CELL_PADDING for width in col_widths]
    cache = {} if wrapped is None else wrapped

    def wrap(cell: str, column: int) -> str:
        key = (cell, column)
        if key not in cache:
            if len(cache) >= WRAP_CACHE_SIZE:
                cache.clear()
            cache[key] = wrap_text(printable(cell), inner[column], FONT_REGULAR, CELL_FONT_SIZE)
        return cache[key]

    labels = [
        wrap_text(printable(cell), w, FONT_BOLD, CELL_FONT_SIZE)
        for cell, w in zip(header, inner, strict=True)
    ]
    cells = [[wrap(cell, column) for column, cell in enumerate(row)] for row in rows]
    return TextGrid(labels, cells, col_widths=col_widths)


def _column_widths(
    labels: Sequence[str], rows: Sequence[Sequence[str]], width: float
) -> list[float]:
    """Share `width` between the columns: each at least its longest word, the rest by content."""
    padding = 2 * CELL_PADDING + 2.0
    least: list[float] = []
    wanted: list[float] = []
    measured: dict[str, float] = {}  # values and words repeat down a column (dates, devices)

    def regular_width(text: str) -> float:
        found = measured.get(text)
        if found is None:
            found = measured[text] = text_width(text, FONT_REGULAR, CELL_FONT_SIZE)
        return found

    for index, label in enumerate(labels):
        sample = [row[index] for row in rows[:100]]
        # A short cell (a date and time, an amount) is kept on one line; longer ones wrap.
        words_ = [
            piece
            for cell in sample
            for piece in ([cell] if len(cell) <= SHORT_CELL else [w[:30] for w in cell.split()])
        ]
        least.append(
            max(
                [text_width(word, FONT_BOLD, CELL_FONT_SIZE) for word in label.split()]
                + [regular_width(piece) for piece in words_]
            )
            + padding
        )
        lengths = sorted(regular_width(cell) for cell in sample)
        typical = lengths[len(lengths) * 9 // 10] if lengths else 0.0
        heading = text_width(label, FONT_BOLD, CELL_FONT_SIZE)
        wanted.append(min(max(least[-1], typical + padding, heading + padding), 0.45 * width))
    if sum(wanted) <= width:
        return [width * want / sum(wanted) for want in wanted]
    if sum(least) >= width:
        return [width * need / sum(least) for need in least]
    spare = width - sum(least)
    extra = [want - need for want, need in zip(wanted, least, strict=True)]
    return [need + spare * more / sum(extra) for need, more in zip(least, extra, strict=True)]


__all__ = [
    "ROWS_PER_CATEGORY",
    "ReportRequest",
    "export_file_name",
    "format_number",
    "format_value",
    "render_access_report",
    "rows_shown",
]
