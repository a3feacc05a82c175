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
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from dsr.languages import Language, translations
from dsr.sender import current_sender

EMAIL_TEMPLATES = Path(__file__).resolve().parents[1] / "templates" / "emails"
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
    environment = email_environment(language)
    values = {"language": language.value, "sender": current_sender(), **context}
    text = environment.get_template(f"{name}.txt")
    subject = "".join(text.blocks["subject"](text.new_context(values)))
    return RenderedEmail(
        subject=subject,
        text=text.render(values),
        html=environment.get_template(f"{name}.html").render(values),
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
