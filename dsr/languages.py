"""The languages the desk speaks to requesters and staff in.

Below every package of the desk: the store's models, the outbox, the accounts and the pages all
name a language with `Language`, whatever else they know of requests.
"""

from __future__ import annotations

from enum import StrEnum


class Language(StrEnum):
    """The languages the tool speaks to requesters in."""

    FR = "fr"
    EN = "en"


LANGUAGE_NAMES = {Language.FR: "Français", Language.EN: "English"}
"""Each language in its own words, so that anyone can find theirs."""


def N_(message: str) -> str:  # noqa: N802 (the name gettext's tools look for)
    """Mark `message` for the catalogue; it is translated in the reader's language where shown."""
    return message
