"""The fideslang data categories (Fides' taxonomy), shipped as data: each key and its English name.

A field of the map can carry its fideslang category (`fides_category`); `dsr map import-fides`
groups a Fides dataset's fields by them and `dsr map export-fides` writes them back.
"""

from __future__ import annotations

import difflib
import functools
from gettext import NullTranslations
from pathlib import Path

import yaml

TAXONOMY = Path(__file__).resolve().parent / "fideslang_categories.yaml"
NOT_PERSONAL = "system"
"""The top of the categories of data about the system, not about a person (system.operations)."""
UNCLASSIFIED = "user"
"""The category of a personal field the map gives no finer fideslang category."""


@functools.cache
def data_categories() -> dict[str, str]:
    """Return every fideslang data category key with its English name, in taxonomy order."""
    loaded = yaml.safe_load(TAXONOMY.read_text(encoding="utf-8"))
    return {str(key): str(name) for key, name in loaded.items()}


def unknown_category(key: str, translations: NullTranslations | None = None) -> str | None:
    """Say why `key` is no fideslang data category (with the closest one), or None if it is."""
    if key in data_categories():
        return None
    t = translations or NullTranslations()
    message = t.gettext(
        "`%(key)s` is not a fideslang data category (see inventory/fideslang_categories.yaml)."
    ) % {"key": key}
    close = difflib.get_close_matches(key, data_categories(), n=1)
    if close:
        message += " " + t.gettext("Did you mean `%(key)s`?") % {"key": close[0]}
    return message


def is_personal(key: str) -> bool:
    """Whether data of category `key` is about a person (user.*), not about the system."""
    return key != NOT_PERSONAL and not key.startswith(NOT_PERSONAL + ".")
