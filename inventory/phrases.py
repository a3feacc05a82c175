"""Words of the desk that inventory/ writes for people without knowing their language: a `Phrase`
is its English text (a `str`, for logs, files and anything that reads it as text) that remembers
its message id and parts, so that what shows it says it in the reader's language (`said`).
"""

from __future__ import annotations

import gettext
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from inventory.model import LocalText

CATALOGUES = Path(__file__).resolve().parents[1] / "dsr" / "translations"
"""The desk's one gettext catalogue (compiled), which inventory/ reads for its own words."""


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


def joined(texts: Sequence[str], separator: str = "; ") -> str:
    """Join `texts` with `separator` so that each one that is a `Phrase` is still said in the
    reader's language (the joined text is a `Phrase` whose parts are the texts)."""
    if not any(isinstance(text, Phrase) for text in texts):
        return separator.join(texts)
    template = separator.replace("%", "%%").join(f"%(part{i})s" for i in range(len(texts)))
    return Phrase(template, **{f"part{i}": text for i, text in enumerate(texts)})


@cache
def _french() -> gettext.NullTranslations:
    return gettext.translation("messages", localedir=CATALOGUES, languages=["fr"], fallback=True)


@cache
def catalogue_text(message: str) -> LocalText:
    """Return `message` (marked with N_) as the map's bilingual text, its French read from the
    desk's catalogue: for words inventory/ writes where the map's own texts go (the reason a
    shared record is kept, in the erasure plan), so that no translation is written in Python."""
    from inventory.model import LocalText

    return LocalText(fr=_french().gettext(message), en=message)
