"""The data map as people read it: each category with its purposes, legal basis, recipients,
retention, systems and tables, and what an erasure does to it, in the reader's language; and
the register of processing activities (RoPA) to download, in French or English.

A map that cannot be loaded gives a page listing its problems, each at its line in the file.

The register is versioned: the page and each download record a new version when the map's content
changed since the last one (dsr.register.service), and show its number, date and changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Response, abort, current_app, render_template

from dsr.dashboard.blueprint import blueprint
from dsr.datamap import desk_map
from dsr.db import get_session
from dsr.i18n import current_language, gettext
from dsr.languages import Language, translations
from dsr.register.service import desk_retention, register_version
from exports.ropa import ropa_csv, ropa_pdf, ropa_xlsx
from inventory.loader import MapError
from inventory.model import LANGUAGES, Category, DataMap, ErasureAction

ROPA_FORMATS = {
    "pdf": "application/pdf",
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@dataclass(frozen=True, slots=True)
class TableShown:
    """One table of a system, and the columns of the category it holds."""

    system: str
    table: str
    columns: list[str]


@dataclass(frozen=True, slots=True)
class RecipientShown:
    name: str
    kind: str
    country: str


@dataclass(frozen=True, slots=True)
class CategoryShown:
    """A category of the map, in one language, as the map page shows it."""

    key: str
    title: str
    description: str
    purposes: list[str]
    legal_basis: str
    legal_basis_detail: str | None
    legal_bases: list[str]
    """Each ground with the purposes it covers, when the category has several (else empty)."""
    recipients: list[RecipientShown]
    retention_period: str
    retention_from: str
    retention_condition: str | None
    retention_source: str
    source: str
    tables: list[TableShown]
    erasure: str
    erasure_reason: str | None
    erasure_until: str | None
    special: bool


def _column_label(data_map: DataMap, category: Category, column: str, language: str) -> str:
    """Name a `table.column` by its label in the map (this category's first), else by itself."""
    candidates = [*category.fields, *(f for c in data_map.categories.values() for f in c.fields)]
    found = next((f for f in candidates if f.column == column), None)
    return column if found is None else f"{found.label.get(language)} ({column})"


def _erasure_words(action: ErasureAction) -> str:
    return {
        ErasureAction.DELETE: gettext("Deleted"),
        ErasureAction.ANONYMIZE: gettext(
            "Anonymised: the rows stay, nothing identifies the person"
        ),
        ErasureAction.RETAIN: gettext("Kept until the legal period ends"),
    }[action]


def _recipient_kind(kind: str) -> str:
    return {
        "third_party": gettext("Third party"),
        "processor": gettext("Processor"),
        "internal": gettext("Internal"),
        "authority": gettext("Authority"),
    }.get(kind, kind)


def categories_shown(data_map: DataMap, language: str) -> list[CategoryShown]:
    """Return every category of `data_map` in `language`, in the map's order."""
    shown: list[CategoryShown] = []
    catalogue = translations(Language(language))
    for key, category in data_map.categories.items():
        tables: dict[tuple[str, str], list[str]] = {}
        for one in category.fields:
            system = data_map.systems[one.system or category.system].title.get(language)
            tables.setdefault((system, one.table), []).append(
                f"{one.label.get(language)} ({one.name})"
            )
        recipients = [
            RecipientShown(
                name=recipient.name.get(language) if recipient else name,
                kind=_recipient_kind(recipient.kind) if recipient else "",
                country=(recipient.country or "") if recipient else "",
            )
            for name in category.recipients
            for recipient in [data_map.recipients.get(name)]
        ]
        retention = category.retention
        erasure = category.erasure
        shown.append(
            CategoryShown(
                key=key,
                title=category.title.get(language),
                description=category.description.get(language),
                purposes=[purpose.get(language) for purpose in category.all_purposes],
                legal_basis=", ".join(basis.describe(catalogue) for basis in category.bases),
                legal_bases=[
                    ground.describe(language, catalogue) for ground in category.legal_bases
                ],
                legal_basis_detail=(
                    category.legal_basis_detail.get(language)
                    if category.legal_basis_detail
                    else None
                ),
                recipients=recipients,
                retention_period=retention.period.describe(catalogue),
                retention_from=_column_label(data_map, category, retention.from_, language),
                retention_condition=(
                    retention.condition.get(language) if retention.condition else None
                ),
                retention_source=retention.source.get(language),
                source=category.source.get(language),
                tables=[
                    TableShown(system=system, table=table, columns=columns)
                    for (system, table), columns in tables.items()
                ],
                erasure=_erasure_words(erasure.action),
                erasure_reason=erasure.legal_reason.get(language) if erasure.legal_reason else None,
                erasure_until=erasure.until.get(language) if erasure.until else None,
                special=category.special,
            )
        )
    return shown


@blueprint.get("/map")
def data_map() -> tuple[str, int]:
    """Show the data map in the reader's language, or the problems that keep it from loading."""
    try:
        loaded = desk_map(current_app.config)
    except MapError as error:
        return render_template("dashboard/map.html", problems=error.problems, categories=[]), 503
    language = current_language().value
    version = register_version(get_session(), loaded)
    return render_template(
        "dashboard/map.html",
        problems=[],
        organisation=loaded.organisation,
        categories=categories_shown(loaded, language),
        register_languages=LANGUAGES,
        register_formats=ROPA_FORMATS,
        version=version,
        version_changes=version.described(translations(Language(language))),
    ), 200


@blueprint.get("/map/register-<language>.<fmt>")
def register(language: str, fmt: str) -> Response:
    """Download the register of processing activities (Art. 30) as PDF, CSV or XLSX, in fr or en,
    recording its version when the map changed since the last one."""
    if language not in LANGUAGES or fmt not in ROPA_FORMATS:
        abort(404)
    try:
        loaded = desk_map(current_app.config)
    except MapError:
        abort(503, description=gettext("The data map cannot be loaded: see the data map page."))
    catalogue = translations(Language(language))
    desk = desk_retention(current_app.config)
    version = register_version(get_session(), loaded)
    edition = version.edition(loaded, catalogue)
    if fmt == "pdf":
        body = ropa_pdf(loaded, language, catalogue, desk, edition=edition)
    elif fmt == "xlsx":
        body = ropa_xlsx(loaded, language, catalogue, desk, edition=edition)
    else:
        body = ropa_csv(loaded, language, catalogue, desk)
    response = Response(body, mimetype=ROPA_FORMATS[fmt])
    filename = f"register-{language}.{fmt}"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
