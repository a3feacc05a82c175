"""French everywhere: with the desk in French (staff read French, the requesters asked in French),
every page staff reach from the dashboard, every email queued (to requesters and to staff) and
every PDF shown is French. It fails on an English word left untranslated, or on a code of the
desk (a status, a request type, an event's kind...) shown raw.

The English words are the catalogue's own: the words of its English message ids that no French
translation uses, so a new English string is checked as soon as it is in the catalogue.
"""

from __future__ import annotations

import html
import inspect
import io
import re
from collections import deque
from collections.abc import Iterator
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlmodel import select
from werkzeug.test import TestResponse

import dsr
from dsr import db
from dsr.accounts.models import StaffRole
from dsr.audit.models import RequestEvent
from dsr.config import current_settings
from dsr.demo.seed import SAMPLE_LEARNER_EMAIL
from dsr.languages import Language
from dsr.links import DEVELOPMENT_PUBLIC_URL
from dsr.outbox.models import OutboxMessage
from dsr.requests.workflow import RequestType, Status
from dsr.scheduler.jobs import JOBS, run_job
from dsr.scheduler.runs import SchedulerSettings
from tests.dashboard.conftest import logged_in
from tests.delivery.conftest import approve, send
from tests.execution.conftest import DATA_MAP, PLATFORM_VARIABLE, platform_url
from tests.factories import make_request
from tests.pages import csrf_token

__all__ = ["platform_url"]  # the fixtures used here

ROOT = Path(__file__).resolve().parents[2]
FRENCH_PO = ROOT / "dsr" / "translations" / "fr" / "LC_MESSAGES" / "messages.po"
WORD = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿŒœ]+(?:['’_][A-Za-zÀ-ÖØ-öø-ÿŒœ0-9]+)*")
"""A word; an identifier with underscores (`data_subject_requests`) is one code-ish token."""
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\{.*?\}\}|\{\w*\}|<[^>]+>|https?://\S+")
ADDRESSES = re.compile(r"https?://\S+|[\w.+-]+@[\w.-]+|/[\w/.-]+")
"""Links, paths and email addresses: the test's own data, not words."""

ALLOWED = {
    "English": "the name of the English language in its own words, offered to choose it",
}
"""Words of English message ids that may be shown in French pages, each with its reason."""


ENGLISH_ON_PURPOSE = re.compile(r"-en\.\w+$|[?&]lang(uage)?=en\b")
"""The documents staff ask for in English (the register's English edition)."""
MACHINE_READABLE = {"/dashboard/audit.csv"}
"""Exports for tools: the audit log's CSV keeps the stored codes, as its verification reads them."""
DISAGREEING = re.compile(r"\w+ : (?:conservé|effacé|anonymisé|supprimé|pseudonymisé)\b")
"""A category named, then a participle that cannot agree with it ("Factures : conservé"): say
"Factures : données conservées"."""
ANCHOR = re.compile(r"\{[^{}]*\}")
"""The audit anchor an email carries, a JSON document to be saved as a file as it is."""


# --- what must never be shown in French -----------------------------------------------------


def _words(text: str) -> set[str]:
    return set(WORD.findall(PLACEHOLDER.sub(" ", text)))


def _french_words() -> set[str]:
    """Every word of the French translations (lower case)."""
    with FRENCH_PO.open("rb") as file:
        catalogue = read_po(file)
    words: set[str] = set()
    for message in catalogue:
        forms = message.string if isinstance(message.string, list | tuple) else [message.string]
        for form in forms:
            words |= {word.lower() for word in _words(form or "")}
    return words


def _map_words() -> set[str]:
    """The words of the map's own data (names of systems, tables, columns, its French texts),
    which the pages show as they are: never the English of its bilingual sentences, nor its
    notes (sentences written for the map's authors)."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "fr" in node and "en" in node:
                found.update(_words(str(node["fr"])))
                return
            for key, value in node.items():
                found.update(_words(str(key)))
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        elif node is not None and len(str(node).split()) == 1:  # a name, not a sentence
            found.update(_words(str(node)))

    walk(yaml.safe_load(DATA_MAP.read_text(encoding="utf-8")))
    return {word.lower() for word in found}


def english_words() -> set[str]:
    """The words (4 letters or more) of the catalogue's English ids that no French translation
    uses, minus the map's own words and the allowed ones, in lower case."""
    with FRENCH_PO.open("rb") as file:
        catalogue = read_po(file)
    english: set[str] = set()
    for message in catalogue:
        ids = message.id if isinstance(message.id, list | tuple) else [message.id]
        for text in ids:
            english |= {word.lower() for word in _words(text or "") if len(word) >= 4}
    allowed = {word.lower() for word in ALLOWED}
    return english - _french_words() - _map_words() - allowed


def _modules() -> Iterator[ModuleType]:
    import importlib
    import pkgutil

    for info in pkgutil.walk_packages(dsr.__path__, "dsr."):
        if ".migrations" in info.name or info.name.endswith(("__main__", ".wsgi")):
            continue
        try:
            yield importlib.import_module(info.name)
        except Exception:  # noqa: S112 (a module that needs a process of its own)
            continue


def raw_codes() -> set[str]:
    """The values of the desk's StrEnums (statuses, request types, event kinds, tasks...) that
    people must never read as they are: those with an underscore, and the others that are no
    French word."""
    codes: set[str] = set()
    for module in _modules():
        for _name, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, StrEnum) and value.__module__.startswith("dsr."):
                codes |= {str(member.value) for member in value}
    french = _french_words() | _map_words()
    return {
        code
        for code in codes
        if re.fullmatch(r"[a-z][a-z0-9_]+", code)
        and ("_" in code or (len(code) >= 4 and code not in french))
    }


def event_kinds(app: Flask) -> set[str]:
    """The kinds of the events the audit log holds (`erasure_applied`, `report_sent`...)."""
    with db.open_session(db.get_engine(app)) as session:
        actions = session.exec(select(RequestEvent.action).distinct()).all()
    return {action.lstrip("@") for action in actions if "_" in action}


# --- reading what people read ------------------------------------------------------------------


def page_text(markup: str) -> str:
    """The words a person reads on an HTML page: its text, titles, placeholders and labels."""
    markup = re.sub(r"<(script|style)\b.*?</\1>", " ", markup, flags=re.S | re.I)
    attributes = re.findall(r'\b(?:title|placeholder|aria-label|alt)="([^"]*)"', markup)
    text = re.sub(r"<[^>]+>", " ", markup)
    return html.unescape(" ".join([text, *attributes]))


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def findings(source: str, text: str, english: set[str], codes: set[str]) -> list[str]:
    """What `text` (shown by `source`) says in English or shows raw."""
    found = []
    text = ADDRESSES.sub(" ", text)
    for word in sorted(_words(text)):
        if "_" not in word and word.lower() in english:
            found.append(f"{source}: English word {word!r}: …{_around(text, word)}…")
    for phrase in DISAGREEING.findall(text):
        found.append(f"{source}: participle without agreement: {phrase!r}")
    for code in sorted(codes):
        if re.search(rf"(?<![\w/.=-]){re.escape(code)}(?![\w/.=-])", text):
            found.append(f"{source}: raw code {code!r}: …{_around(text, code)}…")
    return found


def _around(text: str, word: str) -> str:
    at = re.search(rf"(?<![\w/.=-]){re.escape(word)}(?![\w/.=-])", text)
    start = at.start() if at else 0
    return " ".join(text[max(0, start - 50) : start + 50].split())


# --- the desk, in French, with requests of every kind ------------------------------------------


@pytest.fixture
def app_config(platform_url: str, tmp_path: Path) -> dict[str, Any]:
    """Staff pages over plain HTTP; approval runs the request on the demo platform; staff read
    French."""
    return {
        "SESSION_COOKIE_SECURE": False,
        "DATA_MAP": str(DATA_MAP),
        "SYSTEM_ENVIRONMENT": {PLATFORM_VARIABLE: platform_url},
        "REPORTS_DIR": str(tmp_path / "reports"),
        "EXECUTE_AFTER_APPROVAL": True,
        "DELIVER_AFTER_COMMIT": False,
        "STAFF_LANGUAGE": "fr",
    }


def french(client: FlaskClient) -> FlaskClient:
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "fr"
    return client


def post(client: FlaskClient, path: str, form_of: str, **data: str) -> str:
    """Post a form of the page `form_of` as its button does; return the page shown after."""
    answer = client.post(path, data={"csrf_token": csrf_token(client.get(form_of)), **data})
    assert answer.status_code in (302, 303), answer.get_data(as_text=True)
    return client.get(answer.headers["Location"]).get_data(as_text=True)


def fill_the_desk(app: Flask, dpo: FlaskClient) -> list[tuple[str, str]]:
    """Requests of every type and status, carried out, refused, extended (twice: the second is
    refused), with notes and tasks; return the pages shown after each action (their flashes)."""
    engine = db.get_engine(app)
    shown: list[tuple[str, str]] = []
    for request_type in RequestType:
        with db.transaction(engine) as session:
            request = make_request(
                session,
                status=Status.IN_REVIEW,
                email=SAMPLE_LEARNER_EMAIL,
                request_type=request_type,
                language=Language.FR,
            )
        page = f"/dashboard/requests/{request.reference}"
        shown.append((f"{page} (plan)", dpo.get(page).get_data(as_text=True)))
        shown.append((f"{page} (approved)", approve(dpo, request.reference, request.version_id)))
        if request_type in (RequestType.ACCESS, RequestType.PORTABILITY):
            shown.append((f"{page} (sent)", send(dpo, request.reference)))
    for number, status in enumerate(Status):
        with db.transaction(engine) as session:
            request = make_request(
                session,
                status=status,
                email=f"person{number}@example.org",
                language=Language.FR,
                received_at=db.utcnow() - timedelta(days=20),
            )
        page = f"/dashboard/requests/{request.reference}"
        version = str(request.version_id)
        if status is Status.IN_REVIEW:
            for name, data in (
                ("note", {"note": "Appelé la personne."}),
                ("extend", {"months": "1", "ground": "complexity", "reason": "Beaucoup."}),
                ("extend", {"months": "1", "ground": "complexity", "reason": "Encore."}),
                ("approve", {}),
            ):
                version = _version(app, request.reference)
                after = post(dpo, f"{page}/{name}", page, version_id=version, **data)
                shown.append((f"{page} ({name})", after))
        if status is Status.VERIFIED:
            after = post(dpo, f"{page}/deny", page, version_id=version, reason="Infondée.")
            shown.append((f"{page} (deny)", after))
    return shown


def _version(app: Flask, reference: str) -> str:
    from dsr.requests.status import get_by_reference

    with db.open_session(db.get_engine(app)) as session:
        request = get_by_reference(session, reference)
        assert request is not None
        return str(request.version_id)


def crawl(
    client: FlaskClient, start: list[str], limit: int = 400, follow: bool = True
) -> dict[str, tuple[str, str]]:
    """Visit the pages of `start` and, when `follow`, the staff pages reachable from them by
    their links (GET only); return each page's text by path, with its kind ("html", "pdf"...)."""
    seen: dict[str, tuple[str, str]] = {}
    queue = deque(start)
    while queue and len(seen) < limit:
        path = queue.popleft()
        if path in seen:
            continue
        if ENGLISH_ON_PURPOSE.search(path) or path in MACHINE_READABLE:
            continue
        with client.get(path) as answer:
            shown = _read(path, answer)
            markup = answer.get_data(as_text=True) if shown and shown[0] == "html" else ""
            location = answer.headers.get("Location")
        if shown is None:
            queue.append(str(location))
            seen[path] = ("text", "")
            continue
        seen[path] = shown
        if not follow:
            continue
        for link in re.findall(r'href="([^"#]+)"', markup):
            link = html.unescape(link)
            parts = urlsplit(link)
            if parts.netloc or not parts.path.startswith(("/dashboard", "/staff")):
                continue
            if "logout" in parts.path:
                continue
            if "&" in parts.query or "page=" in parts.query or "sort=" in parts.query:
                continue  # the same page, filtered otherwise
            queue.append(link)
    return seen


def _read(path: str, answer: TestResponse) -> tuple[str, str] | None:
    """Return a page's kind and the text it shows; None for a redirection."""
    if 300 <= answer.status_code < 400:
        return None
    assert answer.status_code < 500, path
    if answer.mimetype == "application/pdf":
        return "pdf", pdf_text(answer.get_data())
    if answer.mimetype == "text/html":
        return "html", page_text(answer.get_data(as_text=True))
    if answer.mimetype.startswith("text/"):
        return "text", answer.get_data(as_text=True)
    return "other", ""


def emailed_paths(app: Flask) -> list[str]:
    """The desk's pages the emails link to (status, download, certificate...), as paths."""
    with db.open_session(db.get_engine(app)) as session:
        bodies = [message.text_body for message in session.exec(select(OutboxMessage)).all()]
    public = re.escape(DEVELOPMENT_PUBLIC_URL)
    return sorted({path for body in bodies for path in re.findall(public + r"(/[^\s>)\]]*)", body)})


def staff_emails(app: Flask) -> None:
    """Run the jobs that write to staff (deadlines, digest, tasks, retention, audit anchor) as
    the scheduler would: 4 days on (a reminder), 12 (a task due soon), 25 (overdue)."""
    with app.app_context():
        settings = SchedulerSettings.from_settings(current_settings())
    engine = db.get_engine(app)
    for days in (4, 12, 25):  # a reminder, a task due soon, then overdue ones
        for name in ("deadlines", "task_reminders", "audit_anchor", "retention"):
            if name in JOBS:
                run_job(name, engine=engine, settings=settings, now=db.utcnow() + timedelta(days))


def test_everything_staff_and_requesters_read_is_french(app: Flask) -> None:
    """One desk, filled once: every page, email and PDF it shows, read for English and codes."""
    english, codes = english_words(), raw_codes()
    assert {"ready_to_send", "awaiting_requester"} <= codes
    dpo = french(logged_in(app, "dpo@example.org", StaffRole.DPO))
    after_actions = fill_the_desk(app, dpo)
    staff_emails(app)
    codes |= event_kinds(app)
    assert {"erasure_applied", "report_sent", "note_added"} <= codes

    pages = crawl(
        dpo, ["/dashboard", "/dashboard/tasks", "/dashboard/audit", "/staff/account/password"]
    )
    admin = french(logged_in(app, "admin@example.org", StaffRole.ADMIN))
    after_actions.append(
        (
            "/staff/accounts (invited)",
            post(
                admin,
                "/staff/accounts/invite",
                "/staff/accounts",
                email="new.dpo@example.org",
                name="Nouvelle DPO",
                role="dpo",
                language="fr",
            ),
        )
    )
    after_actions.append(
        (
            "/dashboard/answer-templates (created)",
            post(
                admin,
                "/dashboard/answer-templates",
                "/dashboard/answer-templates",
                kind="question",
                request_type="any",
                language="fr",
                title="Quel compte ?",
                text="Lequel de vos comptes est concerné ?",
            ),
        )
    )
    pages |= crawl(admin, ["/dashboard/answer-templates", "/staff/accounts", "/staff/account/totp"])
    requester = french(app.test_client())
    pages |= crawl(requester, ["/privacy", "/privacy.pdf", *emailed_paths(app)], follow=False)
    problems: list[str] = []
    for source, markup in after_actions:
        problems += findings(source, page_text(markup), english, codes)
    for path, (_kind, text) in pages.items():
        problems += findings(path, text, english, codes)
    with db.open_session(db.get_engine(app)) as session:
        messages = session.exec(select(OutboxMessage)).all()
        kinds = {str(message.dedup_key).split(":")[0] for message in messages}
        for message in messages:
            source = f"email {message.subject!r}"
            body = "\n".join(
                [message.subject, message.text_body, page_text(message.html_body or "")]
            )
            body = ANCHOR.sub(" ", body)
            problems += findings(source, body, english, codes)
    assert {"deadline_digest", "deadline_reminder", "deadline_overdue", "task_overdue"} <= kinds
    assert {"audit_anchor", "erasure-done", "report-ready", "denied", "extended"} <= kinds
    shown = {kind for kind, _text in pages.values()}
    assert {"html", "pdf"} <= shown, shown
    assert not problems, "\n".join(dict.fromkeys(problems))
