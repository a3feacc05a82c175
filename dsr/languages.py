"""The languages the desk speaks to requesters and staff in, and the catalogue of their words.

Below every package of the desk: the store's models, the outbox, the accounts and the pages all
name a language with `Language`, whatever else they know of requests; emails and documents take
their words from `translations(language)`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

from babel.support import NullTranslations, Translations


class Language(StrEnum):
    """The languages the tool speaks to requesters in."""

    FR = "fr"
    EN = "en"


LANGUAGE_NAMES = {Language.FR: "Français", Language.EN: "English"}
"""Each language in its own words, so that anyone can find theirs."""

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
"""The desk's gettext catalogues, the same that Flask-Babel serves to the pages."""


@functools.cache
def translations(language: Language) -> NullTranslations:
    """Return the catalogue of `language` (English, the language of the sources, has none).

    Loaded with Babel rather than through Flask-Babel, so that workers and the scheduler write
    emails and documents in the requester's language outside any web request.
    """
    return Translations.load(str(TRANSLATIONS), [Language(language).value])


def N_(message: str) -> str:  # noqa: N802 (the name gettext's tools look for)
    """Mark `message` for the catalogue; it is translated in the reader's language where shown."""
    return message


def staff_language(settings: Mapping[str, Any]) -> Language:
    """Return the language staff read, from the desk's settings (STAFF_LANGUAGE, French by
    default): what workers write for staff (tasks, failures) is written in it."""
    return Language(str(settings.get("STAFF_LANGUAGE") or "").strip() or Language.FR.value)
