"""The emails the desk sends, rendered in their reader's language from dsr/templates/emails/.

Each message is one pair of templates, `<name>.txt` and `<name>.html`, written in English with
`{% trans %}` blocks; the text template carries the subject in `{% block subject %}`. The words
come from the desk's one gettext catalogue (dsr/translations), loaded with Babel rather than
through Flask-Babel so that workers and the scheduler render emails in the requester's language
outside any web request. The HTML is autoescaped, so what a requester typed (their message, what
to correct) is shown as text, never as markup.

The environment trims the line break after a block tag (so that `{% if %}` lines leave none): a
sentence that ends a line is closed with `{% endtrans +%}`, which keeps its line break. A French
wording that differs between the two bodies (a `&nbsp;` before a colon in HTML) has the
`{% trans "html" %}` context.
"""

from __future__ import annotations

import functools
import itertools
import re
import secrets
from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import escape

from dsr.languages import Language, translations
from dsr.sender import current_sender

EMAIL_FOLDER = "emails"
EMAIL_TEMPLATES = Path(__file__).resolve().parents[1] / "templates" / EMAIL_FOLDER
"""Where the email templates are: dsr/templates/emails/, shipped inside the package."""


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    """One email ready for the outbox: its subject and its bodies (`html` None: text only)."""

    subject: str
    text: str
    html: str | None


@functools.cache
def email_environment(language: Language) -> Environment:
    """Return the Jinja environment of the emails in `language`: its words from the catalogue,
    HTML autoescaped, undefined names an error."""
    environment = Environment(
        loader=FileSystemLoader(EMAIL_TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    environment.install_gettext_translations(  # type: ignore[attr-defined]
        translations(language), newstyle=True
    )
    return environment


def render_email(name: str, language: Language, /, **context: object) -> RenderedEmail:
    """Render the subject, text and HTML of the email `name` in `language`, signed with the
    organisation and its DPO's contact (`sender`: the current application's, unless given)."""
    language = Language(language)
    values = {"language": language.value, "sender": current_sender(), **context}
    slots = SLOTTED_EMAILS.get(name)
    if slots is not None:
        return _render_through_skeleton(name, language, values, slots)
    return _render(name, language, values)


def _render(name: str, language: Language, values: dict[str, object]) -> RenderedEmail:
    environment = email_environment(language)
    text = environment.get_template(f"{name}.txt")
    subject = "".join(text.blocks["subject"](text.new_context(values)))
    return RenderedEmail(
        subject=subject,
        text=text.render(values),
        html=environment.get_template(f"{name}.html").render(values),
    )


SLOTTED_EMAILS: dict[str, frozenset[str]] = {
    "verification": frozenset(
        {"reference", "type_label", "received_on", "verify_url", "message", "rectification"}
    ),
}
"""The emails sent on a busy path (one per public submission), with the names of their values
that the templates only print (or test for being empty): those are filled into a skeleton
rendered once per language, sender and shape of the rest (issue 17). A name listed here must
never go through a filter or a comparison in the email's templates."""

_SLOT = f"slot-{secrets.token_hex(8)}-"
_SLOT_PATTERN = re.compile(re.escape(_SLOT) + r"(\d+)\.")
"""A stand-in for a value in a skeleton: random per process, so that no value a person types
can pass for one; digits and letters only, which escaping and gettext leave as they are."""
_SKELETON_LIMIT = 256
_skeletons: dict[Hashable, RenderedEmail | None] = {}
"""Each shape's skeleton, or None for a shape whose skeleton differed: rendered directly."""
_UNKNOWN = RenderedEmail(subject="", text="", html=None)
"""What `_skeletons` gives for a shape not seen yet (compared by identity)."""


def _render_through_skeleton(
    name: str, language: Language, values: dict[str, object], slots: frozenset[str]
) -> RenderedEmail:
    """Render the email `name` from its skeleton for the shape of `values`: the email rendered
    with a stand-in for each non-empty text in `slots` (at any depth of lists and dicts), then
    each stand-in replaced by its value, as is in the subject and the text, escaped in the HTML,
    as the templates' autoescape would. The first rendering of a shape is checked against the
    email rendered from the values themselves; a shape they disagree on is never cached."""
    filled: list[str] = []
    shape = (name, language, _shape(values, slots, filled))
    try:  # read once: another thread may clear the skeletons meanwhile
        skeleton = _skeletons.get(shape, _UNKNOWN)
    except TypeError:  # a value that is not hashable: no skeleton for it
        return _render(name, language, values)
    if skeleton is _UNKNOWN:
        rendered = _render(name, language, values)
        built = _skeleton(name, language, values, slots)
        if len(_skeletons) >= _SKELETON_LIMIT:
            _skeletons.clear()
        _skeletons[shape] = built if _fill(built, filled) == rendered else None
        return rendered
    if skeleton is None:
        return _render(name, language, values)
    return _fill(skeleton, filled)


def _skeleton(
    name: str, language: Language, values: dict[str, object], slots: frozenset[str]
) -> RenderedEmail:
    counter = itertools.count()
    stood = {key: _stand_in(key, value, slots, counter) for key, value in values.items()}
    return _render(name, language, stood)


def _stand_in(key: object, value: object, slots: frozenset[str], counter: Iterator[int]) -> object:
    if key in slots and isinstance(value, str) and value:
        return f"{_SLOT}{next(counter)}."
    if isinstance(value, dict):
        return {k: _stand_in(k, v, slots, counter) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_stand_in(None, v, slots, counter) for v in value)
    return value


def _shape(value: object, slots: frozenset[str], filled: list[str], key: object = None) -> object:
    """What of `value` the skeleton depends on (the values in `slots` only as being there), the
    slots' values appended to `filled` in the order `_stand_in` numbers them."""
    if key in slots and isinstance(value, str) and value:
        filled.append(value)
        return _SLOT
    if isinstance(value, dict):
        return tuple((k, _shape(v, slots, filled, k)) for k, v in value.items())
    if isinstance(value, list | tuple):
        return (type(value), tuple(_shape(v, slots, filled) for v in value))
    return value


def _fill(skeleton: RenderedEmail, filled: list[str]) -> RenderedEmail:
    def as_is(found: re.Match[str]) -> str:
        return filled[int(found.group(1))]

    def escaped(found: re.Match[str]) -> str:
        return str(escape(filled[int(found.group(1))]))

    return RenderedEmail(
        subject=_SLOT_PATTERN.sub(as_is, skeleton.subject),
        text=_SLOT_PATTERN.sub(as_is, skeleton.text),
        html=None if skeleton.html is None else _SLOT_PATTERN.sub(escaped, skeleton.html),
    )


def render_letter(name: str, language: Language, /, **context: object) -> tuple[str, str]:
    """Render the subject and the plain text of the email `name` without its signature block
    (a letter carries the sender at its head): the answer of a request answered by post."""
    language = Language(language)
    values = {"language": language.value, "sender": current_sender(), **context}
    text = email_environment(language).get_template(f"{name}.txt")
    subject = "".join(text.blocks["subject"](text.new_context(values)))
    body = "".join(text.blocks["body"](text.new_context(values)))
    return subject.strip(), body.strip()
