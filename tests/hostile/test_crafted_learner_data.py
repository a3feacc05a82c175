"""Hostile values in a learner's data go through every output unharmed and harmless.

The learner (tests/hostile/learner.py) has reportlab markup in their name and support message,
CSV formula starts (=, +, -, @, tab, CR), SQL metacharacters in their address and city, a
right-to-left override in their street, a 10 MB comment and a NUL byte. Decisions this file
asserts:

- the access report prints every value literally (markup is text, never read as markup); a
  value over `CELL_TEXT_MAX` characters is cut with a note saying how much was left out, so the
  report of a 10 MB comment takes seconds instead of many minutes; control characters and bidi
  overrides are shown as `[U+XXXX]`, so that nothing invisible reorders or hides the text;
- the portable export keeps every value whole and exact in JSON, and neutralises formula starts
  in CSV cells (leading apostrophe);
- the dashboard (which shows counts, and the requester's message) and the emails escape them;
- an erasure found through an address made of SQL metacharacters touches that learner only.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.engine import Engine
from sqlmodel import select

from dsr import db
from dsr.delivery.models import Report, ReportKind
from dsr.execution.runner import run_request
from dsr.languages import Language
from dsr.outbox.models import OutboxMessage
from dsr.requests.workflow import RequestType, Status
from exports.access_report import CELL_TEXT_MAX
from inventory.erasure import verify_erased
from inventory.loader import load_data_map
from inventory.systems import Systems
from tests.conftest import MakeApp
from tests.dashboard.conftest import NOW, logged_in
from tests.execution.conftest import DATA_MAP, PLATFORM_VARIABLE, qpdf_check, run_settings
from tests.execution.platform_copy import changed_outside, copy_platform, snapshot, subject_keys
from tests.exports.conftest import pdf_text
from tests.factories import make_request
from tests.hostile.learner import (
    CR_COMMENT,
    FORMULA_LAST_NAME,
    FORMULA_PHONE,
    FORMULA_STREET,
    FORMULA_USERNAME,
    HOSTILE_EMAIL,
    HUGE_COMMENT,
    MARKUP_NAME,
    NUL_COMMENT,
    SQL_CITY,
    SUPPORT_MESSAGE,
    TAB_COMMENT,
    seed_hostile_platform,
)
from tests.pages import csrf_token

RUN_SECONDS = 60
"""A generous bound on one run on a loaded machine; without the cut the report took > 10 min."""


@pytest.fixture(scope="module")
def hostile_platform(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The demo platform with the hostile learner, seeded once for this module (read only)."""
    return seed_hostile_platform(tmp_path_factory.mktemp("hostile-platform"))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{(tmp_path / 'store.sqlite3').as_posix()}"
    db.run_migrations(url)
    engine = db.make_engine(url)
    yield engine
    engine.dispose()


def _run(store: Engine, platform: str, folder: Path, request_type: RequestType) -> int:
    with db.transaction(store) as session:
        request = make_request(
            session, status=Status.APPROVED, email=HOSTILE_EMAIL, request_type=request_type
        )
    assert request.id is not None
    started = time.monotonic()
    status = run_request(
        engine=store,
        request_id=request.id,
        settings=run_settings(folder / "reports", platform, SECRET_KEY="hostile"),
        now=NOW,
    )
    assert status is Status.READY_TO_SEND
    assert time.monotonic() - started < RUN_SECONDS
    return request.id


def _report(store: Engine, request_id: int, kind: ReportKind) -> Path:
    with db.open_session(store) as session:
        row = session.exec(
            select(Report).where(Report.request_id == request_id, Report.kind == kind)
        ).one()
    return Path(row.path)


def test_the_access_report_prints_hostile_values_literally_and_cuts_huge_ones(
    store: Engine, hostile_platform: str, tmp_path: Path
) -> None:
    request_id = _run(store, hostile_platform, tmp_path, RequestType.ACCESS)
    path = _report(store, request_id, ReportKind.PDF)
    qpdf_check(path)
    text = pdf_text(path.read_bytes())
    flat = text.replace("\n", "")  # long values are wrapped over several lines

    for literal in (MARKUP_NAME, FORMULA_LAST_NAME, FORMULA_PHONE, SQL_CITY, FORMULA_USERNAME):
        assert literal in flat, literal
    assert "<para><font color=red>help</font>" in flat  # the support message, as typed
    assert "<b>unclosed &amp; [U+0000] NUL" in flat
    assert "-2+3 rue [U+202E]evil[U+202C]" in flat
    assert "\u202e" not in text and "\x00" not in text
    assert " =1+1" in flat  # the tab drawn as a space (the font has no glyph for it)
    left_out = f"{len(HUGE_COMMENT) - CELL_TEXT_MAX:,}"
    assert f"[… {left_out} more characters, not printed here: ask us for the complete value]" in (
        text.replace("\n", " ")
    )
    printed = sum(len(run) for run in re.findall(r"A{20,}", flat))
    assert CELL_TEXT_MAX <= printed < CELL_TEXT_MAX + 100  # + "A" ending the neighbouring words
    assert path.stat().st_size < 2_000_000


def _csv_rows(archive: zipfile.ZipFile, name: str) -> list[list[str]]:
    csv.field_size_limit(2 * len(HUGE_COMMENT))  # the default (128 KiB) refuses the comment
    text = archive.read(name).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text, newline="")))


def _json_records(archive: zipfile.ZipFile, name: str) -> list[dict[str, object]]:
    document = json.loads(archive.read(name).decode("utf-8"))
    records: list[dict[str, object]] = document["records"]
    return records


def test_the_portable_export_keeps_values_whole_and_neutralises_formulas(
    store: Engine, hostile_platform: str, tmp_path: Path
) -> None:
    request_id = _run(store, hostile_platform, tmp_path, RequestType.PORTABILITY)
    with zipfile.ZipFile(_report(store, request_id, ReportKind.ZIP)) as archive:
        contact_json = json.dumps(_json_records(archive, "contact.json"), ensure_ascii=False)
        for value in (MARKUP_NAME, FORMULA_LAST_NAME, FORMULA_STREET, SQL_CITY):
            assert json.dumps(value, ensure_ascii=False) in contact_json
        comments = _json_records(archive, "course_comments.json")
        bodies = {value for record in comments for value in record.values()}
        assert {HUGE_COMMENT, NUL_COMMENT, TAB_COMMENT, CR_COMMENT} <= bodies  # whole, exact

        [header, row] = _csv_rows(archive, "contact.csv")
        cells = dict(zip(header, row, strict=True))
        assert cells["First name (learner.first_name)"] == MARKUP_NAME
        assert cells["Last name (learner.last_name)"] == "'" + FORMULA_LAST_NAME
        assert cells["Phone number (learner.phone)"] == "'" + FORMULA_PHONE
        assert cells["Street address (learner.street)"] == "'" + FORMULA_STREET
        assert cells["City (learner.city)"] == SQL_CITY
        [header, row] = _csv_rows(archive, "account.csv")
        assert dict(zip(header, row, strict=True))["Username (learner.username)"] == (
            "'" + FORMULA_USERNAME
        )
        comment_cells = [c for line in _csv_rows(archive, "course_comments.csv")[1:] for c in line]
        assert HUGE_COMMENT in comment_cells and NUL_COMMENT in comment_cells
        assert "'" + TAB_COMMENT in comment_cells and "'" + CR_COMMENT in comment_cells
        for name in archive.namelist():
            if name.endswith(".csv"):
                for line in _csv_rows(archive, name)[1:]:
                    for cell in line:
                        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (name, cell)


def test_an_erasure_through_sql_metacharacters_touches_that_learner_only(
    store: Engine, hostile_platform: str, tmp_path: Path
) -> None:
    platform = copy_platform(hostile_platform, tmp_path)
    before = snapshot(platform)
    mine = subject_keys(platform, HOSTILE_EMAIL)
    assert mine["learner"] and mine["course_comment"]
    _run(store, platform, tmp_path, RequestType.ERASURE)
    after = snapshot(platform)
    assert changed_outside(before, after, mine) == []
    assert len(after["learner"]) == len(before["learner"])  # the table and the others are there
    data_map = load_data_map(DATA_MAP)
    with Systems(data_map, {PLATFORM_VARIABLE: platform}).opened() as systems:
        assert verify_erased(data_map, systems, "email", HOSTILE_EMAIL) == []


@pytest.fixture
def desk(make_app: MakeApp, hostile_platform: str, tmp_path: Path) -> Flask:
    app: Flask = make_app(
        DATA_MAP=str(DATA_MAP),
        SYSTEM_ENVIRONMENT={PLATFORM_VARIABLE: hostile_platform},
        REPORTS_DIR=str(tmp_path / "reports"),
        EXECUTE_AFTER_APPROVAL=False,
    )
    return app


def test_the_dashboard_and_the_emails_escape_hostile_values(desk: Flask) -> None:
    with db.transaction(db.get_engine(desk)) as session:
        request = make_request(
            session,
            status=Status.IN_REVIEW,
            email=HOSTILE_EMAIL,
            language=Language.EN,
            message=SUPPORT_MESSAGE,
        )
    dpo = logged_in(desk, "dpo@example.org")
    dpo.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    started = time.monotonic()
    page = dpo.get(f"/dashboard/requests/{request.reference}")
    assert time.monotonic() - started < RUN_SECONDS
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Data found for this person" in html  # found through the address of metacharacters
    assert "No data was found" not in html
    assert "&lt;para&gt;&lt;font color=red&gt;help&lt;/font&gt; &#39;; DELETE FROM" in html
    assert "<font" not in html and "<para" not in html

    question = f"Is this yours? {MARKUP_NAME} <script>alert(1)</script>"
    answer = dpo.post(
        f"/dashboard/requests/{request.reference}/ask",
        data={
            "csrf_token": csrf_token(page),
            "version_id": str(request.version_id),
            "question": question,
        },
    )
    assert answer.status_code == 303, answer.get_data(as_text=True)
    with db.open_session(db.get_engine(desk)) as session:
        [mail] = session.exec(
            select(OutboxMessage).where(OutboxMessage.request_id == request.id)
        ).all()
    assert question in mail.text_body
    assert mail.html_body is not None
    assert "<script>" not in mail.html_body and "<font" not in mail.html_body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in mail.html_body
