"""The languages of the pages people read: which one a request is answered in, who acted in words,
and dates shown as people write them (the names of request types and statuses are requests'
vocabulary: dsr/requests/labels.py).

The locale is the requester's explicit choice (kept in the session by the FR/EN switch), else
the best match of the browser's Accept-Language, else `BABEL_DEFAULT_LOCALE`. Catalogues live in
dsr/translations/ (see babel.cfg at the root of the project for how to extract them).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, cast

import flask_babel  # type: ignore[import-untyped]
from flask import Flask, current_app, request, session

from dsr.dates import pages_zone, shown_date
from dsr.languages import Language
from inventory.phrases import said

LANGUAGES: tuple[str, ...] = tuple(language.value for language in Language)
"""The locales the pages are written in, as Accept-Language tags."""

LANGUAGE_SESSION_KEY = "lang"

babel = flask_babel.Babel()


def gettext(message: str, **variables: Any) -> str:
    """Return `message` translated into the current locale, with `%(name)s` variables filled."""
    translated: str = flask_babel.gettext(message, **variables)
    return translated


def lazy_gettext(message: str, **variables: Any) -> str:
    """Return `message` to be translated when it is shown, for labels defined at import time.

    The result is a lazy string (it becomes text in the locale of the request that renders it),
    typed as `str` because it is used wherever text is: form labels, messages, templates.
    """
    return cast(str, flask_babel.lazy_gettext(message, **variables))


def select_locale() -> str:
    """Return the locale of the current request: the session's choice, else Accept-Language."""
    chosen = session.get(LANGUAGE_SESSION_KEY)
    if chosen in LANGUAGES:
        return str(chosen)
    default = str(current_app.config["BABEL_DEFAULT_LOCALE"])
    return request.accept_languages.best_match(LANGUAGES, default=default)


def select_timezone() -> str:
    """Return the zone the pages show moments in: the organisation's, from the map."""
    return pages_zone().key


def current_language() -> Language:
    """Return the language of the current request, as the store names it."""
    return Language(str(flask_babel.get_locale() or select_locale()).split("_")[0])


def choose_language(code: str) -> bool:
    """Keep `code` as the visitor's language for the next pages; False when it is not offered."""
    if code not in LANGUAGES:
        return False
    session[LANGUAGE_SESSION_KEY] = code
    flask_babel.refresh()
    return True


ACTOR_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "requester": lazy_gettext("the requester"),
        "system": lazy_gettext("the system"),
    }
)
"""Who acted, for the audit labels that are not a staff member's login."""


def actor_shown(label: str) -> str:
    """Return an audit event's actor label as people read it (a staff login stays as it is)."""
    return str(ACTOR_LABELS.get(label, label))


def said_here(text: str) -> str:
    """Return `text` in the current locale when it is a `Phrase` of inventory/ (else as it is)."""
    return said(text, gettext)


def init_app(app: Flask) -> None:
    """Bind Flask-Babel to `app` and give templates the language, actor labels and date format."""
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    app.jinja_env.globals.update(
        current_language=current_language,
        languages=LANGUAGES,
        actor_shown=actor_shown,
        said=said_here,
    )
    app.jinja_env.filters["shown_date"] = shown_date
