"""`/privacy` and `/privacy.pdf`: the privacy notice, open to anyone, in the page's language (the
PDF also with `?lang=fr|en`).

Its version is the register's (dsr.register.service): both are derived from the map, so a new
version is recorded when the map's content changed since the last one, and the notice shows its
number, date and what changed, for the organisation to tell people of the changes.
"""

from __future__ import annotations

from dataclasses import replace

from flask import Blueprint, Response, abort, current_app, render_template, request

from dsr.accounts.access import public_blueprint
from dsr.datamap import desk_map
from dsr.db import get_session
from dsr.i18n import LANGUAGES, current_language, gettext
from dsr.languages import Language, translations
from dsr.links import public_url
from dsr.register.service import desk_retention, register_version
from exports.notice import Notice, described_changes, notice_pdf, privacy_notice
from inventory.loader import MapError

blueprint = public_blueprint(Blueprint("notice", __name__))


def _notice(language: str) -> Notice:
    """The notice of the desk's map in `language`, recording its version if the map changed."""
    try:
        loaded = desk_map(current_app.config)
    except MapError:
        abort(503, description=gettext("The privacy notice is unavailable for the moment."))
    catalogue = translations(Language(language))
    version = register_version(get_session(), loaded)
    changes = described_changes(version.changes, loaded, language, catalogue)
    edition = replace(version.edition(loaded, catalogue), changes=changes)
    return privacy_notice(
        loaded,
        language,
        catalogue,
        desk_retention(current_app.config),
        form_url=public_url("public.new_request"),
        edition=edition,
    )


@blueprint.get("/privacy")
def privacy() -> str:
    """The notice as a page, in the visitor's language."""
    return render_template("public/privacy.html", notice=_notice(current_language().value))


@blueprint.get("/privacy.pdf")
def privacy_pdf() -> Response:
    """The notice as a PDF, in `?lang` when given, else the visitor's language."""
    language = request.args.get("lang") or current_language().value
    if language not in LANGUAGES:
        abort(400, description=gettext("Choose the notice's language: fr or en."))
    response = Response(notice_pdf(_notice(language)), mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="privacy-{language}.pdf"'
    return response
