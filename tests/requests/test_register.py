"""The register of data-subject requests: every request received within a period on the
organisation's calendar, with its dates, its outcome (answered, refused with its ground,
withdrawn, expired unverified, still open), whether it was on time and the days taken; as CSV,
XLSX and PDF in French and English, none of them holding a requester's address."""

from __future__ import annotations

import csv
import io
import subprocess
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pypdf
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from dsr import db
from dsr.languages import Language, translations
from dsr.outbox.models import OutboxMessage, OutboxStatus
from dsr.outbox.service import send_again
from dsr.outbox.smtp import SmtpSettings
from dsr.requests import staff_actions
from dsr.requests.register import (
    OnTime,
    Outcome,
    Period,
    PeriodError,
    RequestRegister,
    request_register,
)
from dsr.requests.register_files import register_csv, register_pdf, register_xlsx
from dsr.requests.status import change_status
from dsr.requests.workflow import Action, Actor, RequestType
from dsr.scheduler.jobs import run_job
from dsr.scheduler.runs import SchedulerSettings
from tests.dashboard.test_figures import answered, walked_request

PARIS = ZoneInfo("Europe/Paris")
MARCH = Period.checked(date(2026, 3, 1), date(2026, 3, 31), PARIS)
NOW = datetime(2026, 4, 20, 12, 0, tzinfo=UTC)
EMAIL = "zoe@example.org"  # the address of every request walked_request makes
REFUSAL = "Manifestly excessive: the fifth identical request this month"


def _at(day: int, hour: int = 9, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=UTC)


def seed(store: Engine) -> dict[str, str]:
    """Add one request of each kind the register tells apart; return their references by name."""
    refs: dict[str, str] = {}
    with db.transaction(store) as session:
        refs["on_time"] = walked_request(session, _at(2), answered(_at(2), _at(20))).reference
        # Due by the end of 3 April in Paris; its answer was sent on 10 April.
        refs["late"] = walked_request(
            session, _at(3), answered(_at(3), _at(10, month=4)), request_type=RequestType.ERASURE
        ).reference
        refused = walked_request(
            session,
            _at(4),
            [(Action.VERIFY_EMAIL, _at(4, 10)), (Action.START_REVIEW, _at(4, 11))],
            request_type=RequestType.ERASURE,
        )
        staff_actions.deny(
            db_session=session,
            request=refused,
            version_id=refused.version_id,
            staff_label="dpo@x.org",
            reason=REFUSAL,
            now=_at(5, 8),
        )
        refs["refused"] = refused.reference
        # Received 31 March at 21:00 UTC (23:00 in Paris), verified: due 30 April, still open.
        refs["open"] = walked_request(
            session, _at(31, 21), [(Action.VERIFY_EMAIL, _at(31, 22))]
        ).reference
        refs["overdue"] = walked_request(
            session, _at(6), [(Action.VERIFY_EMAIL, _at(6, 10)), (Action.START_REVIEW, _at(7))]
        ).reference
        expired = walked_request(session, _at(9), [])
        change_status(
            db_session=session,
            request=expired,
            action=Action.EXPIRE,
            actor=Actor.SYSTEM,
            at=_at(16),
        )
        refs["expired"] = expired.reference
        refs["withdrawn"] = walked_request(
            session,
            _at(10),
            [(Action.VERIFY_EMAIL, _at(10, 10)), (Action.CANCEL, _at(12))],
            request_type=RequestType.OBJECTION,
        ).reference
        # 28 February at 23:30 UTC is already 1 March in Paris: in the period.
        refs["first_day"] = walked_request(
            session, datetime(2026, 2, 28, 23, 30, tzinfo=UTC), []
        ).reference
        # 31 March at 22:30 UTC is 1 April in Paris, and 28 February at 22:30 UTC is still
        # February: neither is in the period.
        refs["after"] = walked_request(
            session, datetime(2026, 3, 31, 22, 30, tzinfo=UTC), []
        ).reference
        refs["before"] = walked_request(
            session, datetime(2026, 2, 28, 22, 30, tzinfo=UTC), []
        ).reference
        # The refusal email went out an hour after the decision: that is when it was answered.
        message = session.exec(
            select(OutboxMessage).where(OutboxMessage.dedup_key == f"denied:{refused.id}")
        ).one()
        message.status, message.sent_at = OutboxStatus.SENT, _at(5, 9)
    return refs


def register_of(store: Engine, period: Period = MARCH, now: datetime = NOW) -> RequestRegister:
    with db.open_session(store) as session:
        return request_register(db_session=session, period=period, now=now)


@pytest.mark.databases("sqlite", "postgresql")
def test_the_register_tells_each_outcome_on_the_organisations_calendar(store: Engine) -> None:
    refs = seed(store)

    register = register_of(store)

    rows = {row.reference: row for row in register.rows}
    assert refs["after"] not in rows and refs["before"] not in rows
    assert set(rows) == {refs[name] for name in refs if name not in ("after", "before")}
    assert [row.reference for row in register.rows][0] == refs["first_day"]

    on_time = rows[refs["on_time"]]
    assert (on_time.outcome, on_time.on_time, on_time.days_taken) == (
        Outcome.ANSWERED,
        OnTime.YES,
        18,
    )
    assert on_time.answered_at == _at(20)
    assert on_time.verified_at == _at(2, 10)

    late = rows[refs["late"]]
    assert (late.outcome, late.on_time, late.days_taken) == (Outcome.ANSWERED, OnTime.NO, 38)
    assert late.due_at.astimezone(PARIS).date() == date(2026, 4, 3)

    refused = rows[refs["refused"]]
    assert (refused.outcome, refused.refusal_ground) == (Outcome.REFUSED, REFUSAL)
    # Answered when the refusal was sent, not when it was decided.
    assert (refused.answered_at, refused.on_time, refused.days_taken) == (_at(5, 9), OnTime.YES, 1)

    still_open = rows[refs["open"]]
    assert (still_open.outcome, still_open.on_time, still_open.answered_at) == (
        Outcome.OPEN,
        OnTime.NOT_YET_DUE,
        None,
    )
    assert still_open.due_at.astimezone(PARIS).date() == date(2026, 4, 30)
    assert rows[refs["overdue"]].on_time is OnTime.OVERDUE

    expired = rows[refs["expired"]]
    assert (expired.outcome, expired.on_time, expired.closed_at, expired.verified_at) == (
        Outcome.EXPIRED,
        OnTime.NOT_APPLICABLE,
        _at(16),
        None,
    )
    withdrawn = rows[refs["withdrawn"]]
    assert (withdrawn.outcome, withdrawn.closed_at) == (Outcome.WITHDRAWN, _at(12))

    summary = register.summary
    assert (summary.answered, summary.answered_on_time, summary.overdue) == (3, 2, 2)
    assert summary.median_days == 18
    assert summary.counts[(RequestType.ERASURE, Outcome.ANSWERED)] == 1
    assert summary.counts[(RequestType.ERASURE, Outcome.REFUSED)] == 1
    assert summary.counts[(RequestType.ACCESS, Outcome.OPEN)] == 3


def test_a_refusal_is_answered_when_its_email_or_its_copy_is_sent(session: Session) -> None:
    request = walked_request(session, _at(4), [(Action.VERIFY_EMAIL, _at(4, 10))])
    staff_actions.deny(
        db_session=session,
        request=request,
        version_id=request.version_id,
        staff_label="dpo@x.org",
        reason=REFUSAL,
        now=_at(5),
    )
    refusal = session.exec(
        select(OutboxMessage).where(OutboxMessage.dedup_key == f"denied:{request.id}")
    ).one()
    refusal.status = OutboxStatus.FAILED  # refused for good by the mail server
    session.commit()

    row = request_register(db_session=session, period=MARCH, now=NOW).rows[0]
    assert (row.reference, row.outcome, row.answered_at) == (
        request.reference,
        Outcome.REFUSED,
        None,
    )
    assert row.on_time is OnTime.OVERDUE  # due 4 April, still not sent on 20 April

    copy = send_again(db_session=session, message=refusal, now=_at(8, month=4))
    copy.status, copy.sent_at = OutboxStatus.SENT, _at(8, 10, month=4)
    session.commit()

    row = request_register(db_session=session, period=MARCH, now=NOW).rows[0]
    assert (row.answered_at, row.on_time, row.days_taken) == (_at(8, 10, month=4), OnTime.NO, 35)


@pytest.mark.databases("sqlite", "postgresql")
def test_a_minimised_request_keeps_its_dates_and_outcome(store: Engine) -> None:
    refs = seed(store)
    settings = SchedulerSettings(
        secret_key="a secret for the tests only",
        smtp=SmtpSettings(host="127.0.0.1", port=9, timeout=1),
    )
    later = NOW + timedelta(days=settings.closed_request_retention_days + 1)
    assert run_job("minimise_closed", engine=store, settings=settings, now=later).items_done >= 3

    register = register_of(store, now=later)

    rows = {row.reference: row for row in register.rows}
    assert rows[refs["on_time"]].answered_at == _at(20)
    assert rows[refs["on_time"]].on_time is OnTime.YES
    assert rows[refs["refused"]].outcome is Outcome.REFUSED
    assert rows[refs["withdrawn"]].outcome is Outcome.WITHDRAWN


def test_a_period_is_checked() -> None:
    with pytest.raises(PeriodError, match="before its start"):
        Period.checked(date(2026, 3, 2), date(2026, 3, 1), PARIS)
    with pytest.raises(PeriodError, match="at most 10 years"):
        Period.checked(date(2016, 3, 1), date(2026, 3, 1), PARIS)
    assert Period.checked(date(2016, 3, 1), date(2026, 2, 28), PARIS).end == datetime(
        2026, 3, 1, tzinfo=PARIS
    )


# --- the files ----------------------------------------------------------------------------------


@pytest.fixture
def march(store: Engine) -> tuple[RequestRegister, dict[str, str]]:
    refs = seed(store)
    return register_of(store), refs


@pytest.mark.databases("sqlite")
@pytest.mark.parametrize(("language", "delimiter"), [("fr", ";"), ("en", ",")])
def test_the_csv_opens_in_the_readers_spreadsheet(
    march: tuple[RequestRegister, dict[str, str]], language: str, delimiter: str
) -> None:
    register, refs = march
    body = register_csv(register, language, translations(Language(language)))

    assert body.startswith("\ufeff".encode())
    assert EMAIL.encode() not in body
    lines = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=delimiter))
    assert len(lines) == 1 + len(register.rows)
    by_reference = {line[0]: line for line in lines[1:]}
    refused = by_reference[refs["refused"]]
    assert REFUSAL in refused
    if language == "fr":
        assert lines[0][:2] == ["Référence", "Type de demande"]
        assert "05/03/2026 10:00" in refused  # sent at 09:00 UTC, 10:00 in Paris
        assert "Refusée" in refused
        assert by_reference[refs["late"]][-2:] == ["Non", "38"]
    else:
        assert lines[0][:2] == ["Reference", "Type of request"]
        assert "5 Mar 2026 10:00" in refused
        assert by_reference[refs["late"]][-2:] == ["No", "38"]
        assert by_reference[refs["overdue"]][-2] == "Overdue"


@pytest.mark.databases("sqlite")
def test_the_xlsx_holds_the_requests_and_the_summary(
    march: tuple[RequestRegister, dict[str, str]],
) -> None:
    register, refs = march
    body = register_xlsx(register, "en", translations(Language.EN), organisation="Example Org")

    with zipfile.ZipFile(io.BytesIO(body)) as workbook:
        assert workbook.testzip() is None
        names = workbook.namelist()
        assert "xl/worksheets/sheet1.xml" in names and "xl/worksheets/sheet2.xml" in names
        text = "".join(
            workbook.read(name).decode("utf-8") for name in names if name.endswith(".xml")
        )
    for reference in (refs["on_time"], refs["late"], refs["refused"], refs["expired"]):
        assert reference in text
    assert "Median days taken to answer" in text
    assert EMAIL not in text


@pytest.mark.databases("sqlite")
@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_pdf_is_sound_and_names_no_requester(
    march: tuple[RequestRegister, dict[str, str]], language: str, tmp_path: Path
) -> None:
    register, refs = march
    body = register_pdf(
        register, language, translations(Language(language)), organisation="Example Org"
    )
    path = tmp_path / "register.pdf"
    path.write_bytes(body)

    checked = subprocess.run(  # noqa: S603 (a fixed program on a file of the test)
        ["qpdf", "--check", str(path)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    text = "".join(page.extract_text() for page in pypdf.PdfReader(path).pages)
    flat = " ".join(text.split())
    for reference in refs.values():
        if reference not in (refs["after"], refs["before"]):
            assert reference in flat
    assert EMAIL not in flat
    if language == "fr":
        assert "Registre des demandes" in flat
        assert "Aucune" in flat
    else:
        assert "Register of data-subject requests" in flat
        assert "2/3" in flat  # answered on time


@pytest.mark.databases("sqlite")
def test_an_extension_moves_the_due_date_and_is_named(session: Session) -> None:
    walked_request(
        session,
        _at(2),
        [
            (Action.VERIFY_EMAIL, _at(2, 10)),
            (Action.START_REVIEW, _at(3)),
            (Action.EXTEND, _at(4), "Twelve systems to search", 2),
        ],
    )
    session.commit()

    register = request_register(db_session=session, period=MARCH, now=NOW)

    row = register.rows[0]
    assert (row.extension_months, row.due_at.astimezone(PARIS).date()) == (2, date(2026, 6, 2))
    assert row.on_time is OnTime.NOT_YET_DUE
    english = register_csv(register, "en", translations(Language.EN)).decode("utf-8-sig")
    assert "2 Jun 2026,2 months (complexity)" in english
    french = register_csv(register, "fr", translations(Language.FR)).decode("utf-8-sig")
    assert "02/06/2026;2 mois (complexité)" in french
