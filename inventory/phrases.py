"""Words of the desk that inventory/ writes for people without knowing their language: a `Phrase`
is its English text (a `str`, for logs, files and anything that reads it as text) that remembers
its message id and parts, so that what shows it says it in the reader's language (`said`).
"""

from __future__ import annotations

from collections.abc import Callable


def N_(message: str) -> str:  # noqa: N802 (the name gettext's tools look for)
    """Mark `message` for the catalogue; it is translated where it is shown."""
    return message


class Phrase(str):
    """English text that can be said again in another language: its message id, with
    `%(name)s` parts; a part that is a `Phrase` is translated too, any other is data and stays."""

    template: str
    parts: dict[str, str]

    def __new__(cls, template: str, **parts: str) -> Phrase:
        made = super().__new__(cls, template % parts if parts else template)
        made.template = template
        made.parts = parts
        return made

    def said(self, gettext: Callable[[str], str]) -> str:
        """Return the phrase translated by `gettext`."""
        if not self.parts:
            return gettext(self.template)
        return gettext(self.template) % {
            name: said(part, gettext) for name, part in self.parts.items()
        }


def said(text: str, gettext: Callable[[str], str]) -> str:
    """Return `text` in the language of `gettext` when it is a `Phrase`, else as it is (data)."""
    return text.said(gettext) if isinstance(text, Phrase) else text
