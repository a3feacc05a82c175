"""What an answer says when it was made for someone else (R45): for whom, at whose request. The
report and the certificate go to the requester (a representative, a parent), and name the person
they are about."""

from __future__ import annotations

from dataclasses import dataclass
from gettext import NullTranslations


@dataclass(frozen=True, slots=True)
class MadeFor:
    """The person an answer is about, and the role of the requester who asked for it:
    "representative" or "parental_authority"."""

    name: str
    email: str
    requester_role: str


def made_for_row(made_for: MadeFor, t: NullTranslations, context: str) -> tuple[str, str]:
    """The label and the text of the line that says for whom the answer was made."""
    person = f"{made_for.name} ({made_for.email})"
    if made_for.requester_role == "parental_authority":
        text = t.pgettext(
            "made for", "%(person)s, at the request of the holder of parental authority"
        )
    else:
        text = t.pgettext("made for", "%(person)s, at the request of their representative")
    label = t.pgettext(context, "Made for")
    return label, text % {"person": person}
