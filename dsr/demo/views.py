"""The demo's mail page: read the messages the demo's SMTP sink received, and click their links.

Registered only when the app runs with DEMO_MODE (`dsr demo run`): elsewhere these URLs do not
exist. Every part of a message is shown as text (autoescaped); only http(s) URLs become links.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, Flask, abort, current_app, render_template

from dsr.demo.mailbox import MAIL_FOLDER, list_mail, read_mail

blueprint = Blueprint("demo", __name__, url_prefix="/demo")

_URL = re.compile(r"https?://[^\s<>\"']+")


@dataclass(frozen=True, slots=True)
class TextPiece:
    """A piece of a message's text: plain text, or a URL to show as a link."""

    text: str
    is_link: bool


def init_app(app: Flask) -> None:
    """Add the demo's pages to `app` when, and only when, it runs in demo mode."""
    if app.config.get("DEMO_MODE"):
        app.register_blueprint(blueprint)


def mail_folder() -> Path:
    """Return the folder the sink writes to: DEMO_MAIL_FOLDER, else `instance/mail/`."""
    configured = current_app.config.get("DEMO_MAIL_FOLDER")
    return Path(configured) if configured else Path(current_app.instance_path) / MAIL_FOLDER


def linked_pieces(text: str) -> list[TextPiece]:
    """Split `text` into plain pieces and the http(s) URLs in it, in order."""
    pieces: list[TextPiece] = []
    position = 0
    for found in _URL.finditer(text):
        url = found.group().rstrip(".,;:!?)")
        if found.start() > position:
            pieces.append(TextPiece(text[position : found.start()], is_link=False))
        pieces.append(TextPiece(url, is_link=True))
        position = found.start() + len(url)
    if position < len(text):
        pieces.append(TextPiece(text[position:], is_link=False))
    return pieces


@blueprint.route("/mail")
def mailbox() -> str:
    return render_template("demo/mailbox.html", messages=list_mail(mail_folder()))


@blueprint.route("/mail/<name>")
def message(name: str) -> str:
    mail = read_mail(mail_folder(), name)
    if mail is None:
        abort(404)
    return render_template("demo/message.html", mail=mail, pieces=linked_pieces(mail.text))
