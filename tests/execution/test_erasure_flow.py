"""Erasure requests end to end on the seeded demo platform, with the store on SQLite and PostgreSQL:
an approved erasure is carried out (completed once its certificate's email is delivered), the
subject is gone and only their rows changed, the certificate says what went and what was kept
(golden text, fr and en), the address is on the suppression list (also through the API), each
recipient has a task with its message (the CCI for exam registrations); a foreign key unknown to
the map fails the request, naming the constraint, with nothing changed, and the retry carries it
out once it is gone; the plan prints with `dsr request plan`.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy import text as text_sql
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from dsr import db
from dsr.api.models import ApiToken
from dsr.audit.models import RequestEvent, record_action
from dsr.demo.seed import SAMPLE_LEARNER_EMAIL, seed_platform
from dsr.execution import erasure
from dsr.execution.change_records import ErasureCertificate, ErasureSystemRun, SystemRunStatus
from dsr.execution.cli_plan import request_plan_command
from dsr.execution.runner import failure_reason, run_request
from dsr.languages import Language
from dsr.links import DEVELOPMENT_PUBLIC_URL
from dsr.outbox.models import OutboxMessage
from dsr.outbox.service import deliver_due
from dsr.outbox.smtp import SmtpSettings
from dsr.requests.jobs import MINIMISED_DOMAIN, closed_request_kept_until
from dsr.requests.models import DataRequest, Task, TaskKind
from dsr.requests.workflow import Actor, RequestType, Status
from dsr.scheduler.jobs import run_job
from dsr.scheduler.runs import SchedulerSettings
from dsr.suppression.service import is_suppressed
from exports.dates import long_date
from inventory.erasure import verify_erased
from inventory.loader import load_data_map
from inventory.systems import Systems
from tests.conftest import MakeApp
from tests.dashboard.conftest import NOW
from tests.databases import fresh_database
from tests.execution.conftest import DATA_MAP, PLATFORM_VARIABLE, qpdf_check, run_settings
from tests.execution.platform_copy import changed_outside, copy_platform, snapshot, subject_keys
from tests.exports.conftest import assert_golden, pdf_text
from tests.factories import make_request
from tests.smtp_server import SmtpServer

pytestmark = pytest.mark.databases("sqlite", "postgresql")

SECRET = "a secret for the erasure tests only"
BLOCKER = "fk_exam_result_registration"


def approved_erasure(store: Engine, *, language: Language = Language.EN) -> int:
    with db.transaction(store) as session:
        request = make_request(
            session,
            status=Status.APPROVED,
            email=SAMPLE_LEARNER_EMAIL,
            request_type=RequestType.ERASURE,
            language=language,
        )
        assert request.id is not None
        return request.id


def settings_for(tmp_path: Path, platform: str) -> dict[str, object]:
    return run_settings(tmp_path / "reports", platform, SECRET_KEY=SECRET)


def events(store: Engine, request_id: int) -> list[RequestEvent]:
    with db.open_session(store) as session:
        return list(
            session.exec(
                select(RequestEvent)
                .where(RequestEvent.request_id == request_id)
                .order_by(col(RequestEvent.sequence))
            ).all()
        )


def left_behind(platform: str) -> list[str]:
    data_map = load_data_map(DATA_MAP)
    with Systems(data_map, {PLATFORM_VARIABLE: platform}).opened() as systems:
        return verify_erased(data_map, systems, "email", SAMPLE_LEARNER_EMAIL)


def test_an_approved_erasure_erases_certifies_suppresses_and_opens_tasks(
    store: Engine, platform_url: str, tmp_path: Path
) -> None:
    platform = copy_platform(platform_url, tmp_path)
    before = snapshot(platform)
    mine = subject_keys(platform)
    assert mine["learner"] and mine["exam_registration"]
    request_id = approved_erasure(store)
    settings = {**settings_for(tmp_path, platform), "PUBLIC_URL": "https://privacy.example.org/d"}

    status = run_request(engine=store, request_id=request_id, settings=settings, now=NOW)

    with db.open_session(store) as session:
        assert failure_reason(session, session.get(DataRequest, request_id)) is None  # type: ignore[arg-type]
    assert status is Status.READY_TO_SEND
    assert left_behind(platform) == []
    assert changed_outside(before, snapshot(platform), mine) == []

    with db.open_session(store) as session:
        runs = session.exec(
            select(ErasureSystemRun).where(ErasureSystemRun.request_id == request_id)
        ).all()
        assert [(run.system, run.status) for run in runs] == [
            ("learner_platform", SystemRunStatus.DONE)
        ]
        assert runs[0].rows_deleted > 0 and runs[0].rows_anonymized > 0
        assert runs[0].rows_retained > 0  # the invoices, kept ten years
        assert is_suppressed(
            db_session=session, email=" Zoe.Lefevre@Example.org ", key=SECRET.encode()
        )
        assert not is_suppressed(
            db_session=session, email="someone.else@example.org", key=SECRET.encode()
        )
        tasks = session.exec(
            select(Task).where(Task.request_id == request_id).order_by(col(Task.id))
        ).all()
        assert {task.kind for task in tasks} == {TaskKind.NOTIFY_RECIPIENT}
        by_recipient = {task.recipient: task for task in tasks}
        cci = by_recipient["cci_paris_idf"]
        assert cci.category == "exam_registration" or cci.category is None
        assert cci.details is not None and "examens@cci-paris-idf.example" in cci.details
        assert "article 19" in cci.details and "DSR-" in cci.details
        certificate = session.exec(
            select(ErasureCertificate).where(ErasureCertificate.request_id == request_id)
        ).one()
        [mail] = session.exec(
            select(OutboxMessage).where(OutboxMessage.request_id == request_id)
        ).all()
    assert mail.to_address == SAMPLE_LEARNER_EMAIL
    assert "https://privacy.example.org/d/certificate/" in mail.text_body  # with no application
    assert (
        "- Invoices: kept (until 31 December 2036 at the latest; withdrawn from everyday use)"
        in mail.text_body
    )
    assert "- Contact details: pseudonymised (see the certificate)" in mail.text_body
    assert "- Exam registrations: erased" in mail.text_body
    assert "Your address stays in our record of your request until 7 March 2031" in " ".join(
        mail.text_body.split()
    )
    path = Path(certificate.path)
    assert path.stat().st_mode & 0o777 == 0o600
    qpdf_check(path)

    [erased] = [e for e in events(store, request_id) if e.action == erasure.ERASED_ACTION]
    details = json.dumps(erased.details)
    assert "zoe" not in details.lower() and "lef" not in details.lower()
    assert json.loads(details)["rows_deleted"] == runs[0].rows_deleted


def failed_and_not_suppressed(store: Engine, request_id: int) -> str:
    """Return why the request failed, checking that its address was not put on the suppression
    list: a failed erasure records nothing as done."""
    with db.open_session(store) as session:
        request = session.get(DataRequest, request_id)
        assert request is not None
        assert not is_suppressed(
            db_session=session, email=SAMPLE_LEARNER_EMAIL, key=SECRET.encode()
        )
        return failure_reason(session, request) or ""


@pytest.mark.parametrize("language", list(Language))
def test_the_certificate_matches_its_golden_text(
    store: Engine, platform_url: str, tmp_path: Path, language: Language
) -> None:
    platform = copy_platform(platform_url, tmp_path)
    request_id = approved_erasure(store, language=language)
    run_request(
        engine=store, request_id=request_id, settings=settings_for(tmp_path, platform), now=NOW
    )
    with db.open_session(store) as session:
        certificate = session.exec(
            select(ErasureCertificate).where(ErasureCertificate.request_id == request_id)
        ).one()
        reference = session.get(DataRequest, request_id).reference  # type: ignore[union-attr]
    text_of = pdf_text(Path(certificate.path).read_bytes()).replace(reference, "DSR-REFERENCE")
    assert_golden(f"certificate_{language.value}.txt", text_of)


def test_a_foreign_key_unknown_to_the_map_fails_the_request_and_the_retry_completes(
    store: Engine, platform_url: str, tmp_path: Path
) -> None:
    platform = copy_platform(platform_url, tmp_path)
    engine = create_engine(platform)
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE exam_result (id INTEGER PRIMARY KEY, "
                f"registration_id INTEGER NOT NULL, CONSTRAINT {BLOCKER} "
                "FOREIGN KEY (registration_id) "
                "REFERENCES exam_registration (id))"
            )
        )
        conn.execute(
            text(
                "INSERT INTO exam_result (id, registration_id) SELECT 1, r.id "
                "FROM exam_registration r JOIN learner l ON l.id = r.learner_id "
                "WHERE l.email = :email"
            ),
            {"email": SAMPLE_LEARNER_EMAIL},
        )
    before = snapshot(platform)
    request_id = approved_erasure(store)
    settings = settings_for(tmp_path, platform)

    assert run_request(engine=store, request_id=request_id, settings=settings, now=NOW) is (
        Status.FAILED
    )
    reason = failed_and_not_suppressed(store, request_id)
    assert BLOCKER in reason and "exam_result" in reason, reason
    assert "que la cartographie ne connaît pas" in reason, reason  # staff read French
    assert "which the map does not know" not in reason and "foreign key" not in reason
    assert snapshot(platform) == before  # nothing changed

    with engine.begin() as conn:
        conn.execute(text("DROP TABLE exam_result"))
    engine.dispose()
    assert run_request(engine=store, request_id=request_id, settings=settings, now=NOW) is (
        Status.READY_TO_SEND
    )
    assert left_behind(platform) == []


@pytest.mark.databases("sqlite", "postgresql", "mariadb")
def test_a_map_deleting_what_a_kept_row_refers_to_fails_the_request_on_every_engine(
    engine_url: str, tmp_path: Path
) -> None:
    """Invoices deleted while the purchases that refer to them are kept: on every engine of the
    platform the request fails naming the reference, nothing changes, and once the map is put
    right the retry completes. The store is SQLite; the platform is this run's engine."""
    store_url = f"sqlite:///{(tmp_path / 'store.sqlite3').as_posix()}"
    db.run_migrations(store_url)
    store = db.make_engine(store_url)
    seed_platform(engine_url, learners=30, seed=5)
    raw = yaml.safe_load(DATA_MAP.read_text(encoding="utf-8"))
    categories = raw["categories"]
    categories["purchases"]["erasure"] = {  # its withdrawal sets a column of invoices: left out
        key: value for key, value in categories["invoices"]["erasure"].items() if key != "withdraw"
    }
    categories["purchases"]["retention"]["at_end"] = "delete"  # kept on erasure, not for ever
    categories["invoices"]["erasure"] = {"action": "delete"}
    contradictory = tmp_path / "contradictory_map.yaml"
    contradictory.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    before = snapshot(engine_url)
    request_id = approved_erasure(store)
    settings = {**settings_for(tmp_path, engine_url), "DATA_MAP": str(contradictory)}
    try:
        assert run_request(engine=store, request_id=request_id, settings=settings, now=NOW) is (
            Status.FAILED
        )
        reason = failed_and_not_suppressed(store, request_id)
        assert "`course_purchase`(invoice_id)" in reason and "`invoice`(id)" in reason, reason
        assert "@" not in reason
        assert snapshot(engine_url) == before

        settings["DATA_MAP"] = str(DATA_MAP)
        assert run_request(engine=store, request_id=request_id, settings=settings, now=NOW) is (
            Status.READY_TO_SEND
        )
        assert left_behind(engine_url) == []
    finally:
        store.dispose()


def test_a_retry_leaves_a_done_system_alone(
    store: Engine, platform_url: str, tmp_path: Path
) -> None:
    platform = copy_platform(platform_url, tmp_path)
    request_id = approved_erasure(store)
    settings = settings_for(tmp_path, platform)
    assert run_request(engine=store, request_id=request_id, settings=settings, now=NOW) is (
        Status.READY_TO_SEND
    )
    after_first = snapshot(platform)
    with db.transaction(store) as session:  # as if the completion had failed after the erasure
        request = session.get(DataRequest, request_id)
        assert request is not None
        request.status = Status.FAILED
    assert run_request(engine=store, request_id=request_id, settings=settings, now=NOW) is (
        Status.READY_TO_SEND
    )
    assert snapshot(platform) == after_first
    with db.open_session(store) as session:
        [run] = session.exec(
            select(ErasureSystemRun).where(ErasureSystemRun.request_id == request_id)
        ).all()
        tasks = session.exec(select(Task).where(Task.request_id == request_id)).all()
    assert run.status is SystemRunStatus.DONE
    assert len(tasks) == len({task.recipient for task in tasks})  # none opened twice


@pytest.mark.databases("sqlite")
def test_the_suppression_check_answers_through_the_api(
    make_app: MakeApp, migrated_url: str, platform_url: str, tmp_path: Path
) -> None:
    app = make_app(DATABASE_URL=migrated_url, SECRET_KEY=SECRET, DELIVER_AFTER_COMMIT=False)
    store = db.get_engine(app)
    with db.transaction(store) as session:
        row, token = ApiToken.issue("learner-platform", now=NOW)
        session.add(row)
    platform = copy_platform(platform_url, tmp_path)
    request_id = approved_erasure(store)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}

    def check(email: str) -> object:
        response = client.post("/api/v1/suppression/check", json={"email": email}, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    assert check(SAMPLE_LEARNER_EMAIL) == {"suppressed": False}
    run_request(
        engine=store, request_id=request_id, settings=settings_for(tmp_path, platform), now=NOW
    )
    assert check("  ZOE.LEFEVRE@example.org") == {"suppressed": True}
    assert check("zoe.lefevre@example.com") == {"suppressed": False}
    refused = client.post("/api/v1/suppression/check", json={"mail": "x"}, headers=headers)
    assert refused.status_code == 422 and refused.mimetype == "application/problem+json"
    anonymous = client.post("/api/v1/suppression/check", json={"email": "x@example.org"})
    assert anonymous.status_code == 401
    with db.open_session(store) as session:
        [mail] = session.exec(
            select(OutboxMessage).where(OutboxMessage.request_id == request_id)
        ).all()
    link = mail.text_body.split("/certificate/", 1)[1].split()[0]
    with client.get(f"/certificate/{link}") as download:
        assert download.status_code == 200 and download.mimetype == "application/pdf"
        assert download.get_data().startswith(b"%PDF")
    assert client.get("/certificate/not-the-token").status_code == 404


@pytest.mark.databases("sqlite")
def test_the_plan_prints_before_approval(
    engine_url: str, platform_url: str, tmp_path: Path
) -> None:
    db.run_migrations(engine_url)
    store = db.make_engine(engine_url)
    with db.transaction(store) as session:
        request = make_request(
            session,
            status=Status.IN_REVIEW,
            email=SAMPLE_LEARNER_EMAIL,
            request_type=RequestType.ERASURE,
        )
        reference = request.reference
    store.dispose()
    platform = copy_platform(platform_url, tmp_path)
    before = snapshot(platform)

    result = CliRunner().invoke(
        request_plan_command,
        [reference, "--database-url", engine_url],
        env={PLATFORM_VARIABLE: platform},
        obj=None,
    )

    assert result.exit_code == 0, result.output
    assert f"Plan d'effacement de {reference}" in result.output  # staff read French by default
    assert "learner_platform:" in result.output
    assert "invoice" in result.output and "conserver" in result.output
    assert "anonymiser" in result.output and "supprimer" in result.output
    assert "jusqu'à :" in result.output and "espace réservé unique" in result.output
    for english in ("keep", "until:", "unique placeholder", "year only", " rows,"):
        assert english not in result.output
    assert snapshot(platform) == before
    unknown = CliRunner().invoke(
        request_plan_command,
        ["DSR-2099-999999", "--database-url", engine_url],
        env={PLATFORM_VARIABLE: platform},
        obj=None,
    )
    assert unknown.exit_code == 1
    assert "erreur : aucune demande DSR-2099-999999" in unknown.output


def add_unknown_blocker(platform: str) -> None:
    """Add a table the map does not know, whose row refers to the learner's registration."""
    engine = create_engine(platform)
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE exam_result (id INTEGER PRIMARY KEY, "
                f"registration_id INTEGER NOT NULL, CONSTRAINT {BLOCKER} "
                "FOREIGN KEY (registration_id) "
                "REFERENCES exam_registration (id))"
            )
        )
        conn.execute(
            text(
                "INSERT INTO exam_result (id, registration_id) SELECT 1, r.id "
                "FROM exam_registration r JOIN learner l ON l.id = r.learner_id "
                "WHERE l.email = :email"
            ),
            {"email": SAMPLE_LEARNER_EMAIL},
        )
    engine.dispose()


def test_the_plan_says_what_blocks_it_in_the_staffs_language(
    engine_url: str, platform_url: str, tmp_path: Path
) -> None:
    db.run_migrations(engine_url)
    store = db.make_engine(engine_url)
    with db.transaction(store) as session:
        request = make_request(
            session,
            status=Status.IN_REVIEW,
            email=SAMPLE_LEARNER_EMAIL,
            request_type=RequestType.ERASURE,
        )
        reference = request.reference
    store.dispose()
    platform = copy_platform(platform_url, tmp_path)
    add_unknown_blocker(platform)

    def plan(**env: str) -> str:
        result = CliRunner().invoke(
            request_plan_command,
            [reference, "--database-url", engine_url],
            env={PLATFORM_VARIABLE: platform, **env},
            obj=None,
        )
        assert result.exit_code == 1, result.output  # a blocked plan exits 1
        return result.output

    french = plan()
    assert (
        "BLOQUÉ : la table `exam_result`, que la cartographie ne connaît pas, renvoie à des "
        "lignes de `exam_registration` que l'effacement supprime (clé étrangère "
        f"`{BLOCKER}` de `exam_result`(registration_id) vers `exam_registration`(id))"
    ) in french
    assert "which the map does not know" not in french and "foreign key" not in french
    english = plan(DSR_STAFF_LANGUAGE="en")
    assert (
        "BLOCKED: table `exam_result`, which the map does not know, refers to rows of "
        "`exam_registration` that the erasure deletes (foreign key "
        f"`{BLOCKER}` from `exam_result`(registration_id) to `exam_registration`(id))"
    ) in english


def test_a_map_the_platform_cannot_hold_is_refused_in_the_staffs_language(
    engine_url: str, platform_url: str, tmp_path: Path
) -> None:
    """The map anonymises a NOT NULL column with NULL: `dsr request plan` refuses it in one line
    in the staff's language, not with a traceback."""
    db.run_migrations(engine_url)
    store = db.make_engine(engine_url)
    with db.transaction(store) as session:
        reference = make_request(
            session,
            status=Status.IN_REVIEW,
            email=SAMPLE_LEARNER_EMAIL,
            request_type=RequestType.ERASURE,
        ).reference
    store.dispose()
    raw = yaml.safe_load(DATA_MAP.read_text(encoding="utf-8"))
    for f in raw["categories"]["account"]["fields"]:
        if f["column"] == "learner.username":
            f["anonymize"] = "null"
    broken = tmp_path / "broken_map.yaml"
    broken.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    env = {PLATFORM_VARIABLE: platform_url, "DSR_DATA_MAP": str(broken)}

    def plan(**more: str) -> str:
        result = CliRunner().invoke(
            request_plan_command,
            [reference, "--database-url", engine_url],
            env={**env, **more},
            obj=None,
        )
        assert result.exit_code == 1, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        return result.output

    assert (
        "erreur : la colonne `learner.username` de `learner_platform` est NOT NULL, mais la "
        "cartographie l'anonymise avec `null`"
    ) in plan()
    assert (
        "error: column `learner.username` of `learner_platform` is NOT NULL, but the map "
        "anonymises it with `null`"
    ) in plan(DSR_STAFF_LANGUAGE="en")


@pytest.mark.databases("sqlite")
def test_an_erasure_on_a_postgresql_platform(engine_url: str, tmp_path: Path) -> None:
    db.run_migrations(engine_url)
    store = db.make_engine(engine_url)
    with fresh_database("postgresql") as platform:
        seed_platform(platform, learners=30, seed=5)
        before = snapshot(platform)
        mine = subject_keys(platform)
        request_id = approved_erasure(store)
        status = run_request(
            engine=store, request_id=request_id, settings=settings_for(tmp_path, platform), now=NOW
        )
        assert status is Status.READY_TO_SEND
        assert left_behind(platform) == []
        assert changed_outside(before, snapshot(platform), mine) == []
    store.dispose()


@pytest.mark.databases("sqlite")
def test_approving_on_the_dashboard_erases_at_once(
    make_app: MakeApp, migrated_url: str, platform_url: str, tmp_path: Path
) -> None:
    from dsr.accounts.models import StaffRole
    from tests.dashboard.conftest import logged_in
    from tests.pages import csrf_token

    platform = copy_platform(platform_url, tmp_path)
    app = make_app(
        DATABASE_URL=migrated_url,
        SECRET_KEY=SECRET,
        SESSION_COOKIE_SECURE=False,
        DELIVER_AFTER_COMMIT=False,
        DATA_MAP=str(DATA_MAP),
        SYSTEM_ENVIRONMENT={PLATFORM_VARIABLE: platform},
        REPORTS_DIR=str(tmp_path / "reports"),
    )
    store = db.get_engine(app)
    with db.transaction(store) as session:
        request = make_request(
            session,
            status=Status.IN_REVIEW,
            email=SAMPLE_LEARNER_EMAIL,
            request_type=RequestType.ERASURE,
        )
        reference, request_id, version = request.reference, request.id, request.version_id
    dpo = logged_in(app, "dpo@example.org", StaffRole.DPO)
    page = dpo.get(f"/dashboard/requests/{reference}")
    answer = dpo.post(
        f"/dashboard/requests/{reference}/approve",
        data={"csrf_token": csrf_token(page), "version_id": str(version)},
    )
    assert answer.status_code == 303
    with db.open_session(store) as session:
        done = session.get(DataRequest, request_id)
        assert done is not None and done.status is Status.READY_TO_SEND
        [mail] = session.exec(
            select(OutboxMessage).where(OutboxMessage.request_id == request_id)
        ).all()
    assert left_behind(platform) == []
    assert f"{DEVELOPMENT_PUBLIC_URL}/certificate/" in mail.text_body
    assert mail.answers_request_id == request_id
    # The certificate's email is the answer: its delivery completes the request (R47).
    deliver_due(
        engine_or_session_factory=store,
        settings=SmtpSettings.from_config(app.config),
        now=db.utcnow(),
    )
    with db.open_session(store) as session:
        done = session.get(DataRequest, request_id)
        sent = session.get(OutboxMessage, mail.id)
        assert done is not None and sent is not None and sent.sent_at is not None
        assert done.status is Status.COMPLETED and done.answered_at == sent.sent_at
    page_after = dpo.get(f"/dashboard/requests/{reference}").get_data(as_text=True)
    assert f"/dashboard/requests/{reference}/certificate" in page_after
    with dpo.get(f"/dashboard/requests/{reference}/certificate") as pdf:
        assert pdf.status_code == 200 and pdf.get_data().startswith(b"%PDF")


def _certificate_text(store: Engine, request_id: int) -> str:
    with db.open_session(store) as session:
        certificate = session.exec(
            select(ErasureCertificate).where(ErasureCertificate.request_id == request_id)
        ).one()
    return " ".join(pdf_text(Path(certificate.path).read_bytes()).split())


def test_the_certificate_says_what_remains_tied_to_the_person_and_until_when(
    store: Engine, platform_url: str, tmp_path: Path
) -> None:
    """The learner row is not "anonymised" while her kept invoices, which bear her name, point at
    it; each invoice is kept until 31 December ten years after its financial year (L123-22), and
    the invoices are said withdrawn because the erasure flagged them."""
    platform = copy_platform(platform_url, tmp_path)
    request_id = approved_erasure(store)
    run_request(
        engine=store, request_id=request_id, settings=settings_for(tmp_path, platform), now=NOW
    )
    said = _certificate_text(store, request_id)
    assert "Anonymised: they no longer relate to you." not in said
    assert (
        said.count(
            "Pseudonymised: still linked to your kept invoices, which bear billing name, billing "
            "street address, until 31 December 2036."
        )
        == 2
    )  # contact details and account: the same learner row
    assert "31 December 2034 (1 record) 31 December 2036 (1 record)" in said
    assert "Invoices: withdrawn from everyday use" in said
    with create_engine(platform).connect() as conn:
        flags = conn.execute(
            text_sql("SELECT restricted FROM invoice WHERE learner_id = 1 ORDER BY id")
        ).scalars()
        assert [bool(flag) for flag in flags] == [True, True]


def test_a_retained_category_without_withdrawal_is_said_kept_as_it_is(
    store: Engine, platform_url: str, tmp_path: Path
) -> None:
    document = yaml.safe_load(DATA_MAP.read_text(encoding="utf-8"))
    del document["categories"]["invoices"]["erasure"]["withdraw"]
    altered = tmp_path / "no_withdrawal.yaml"
    altered.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    platform = copy_platform(platform_url, tmp_path)
    request_id = approved_erasure(store)
    settings = {**settings_for(tmp_path, platform), "DATA_MAP": str(altered)}
    assert run_request(engine=store, request_id=request_id, settings=settings, now=NOW) is (
        Status.READY_TO_SEND
    )
    said = _certificate_text(store, request_id)
    assert "Invoices: kept as they are; they were not taken out of everyday use." in said
    assert "withdrawn from everyday use" not in said
    with create_engine(platform).connect() as conn:
        flags = conn.execute(text_sql("SELECT restricted FROM invoice WHERE learner_id = 1"))
        assert [bool(flag) for (flag,) in flags] == [False, False]


def test_the_date_the_certificate_gives_for_the_address_is_when_minimisation_removes_it(
    store: Engine, platform_url: str, tmp_path: Path, smtp_server: SmtpServer
) -> None:
    """The certificate promises the day the desk's own record stops holding the address; the
    minimisation job acts then, even though the request had events after the erasure."""
    platform = copy_platform(platform_url, tmp_path)
    request_id = approved_erasure(store)
    settings = {**settings_for(tmp_path, platform), "CLOSED_REQUEST_RETENTION_DAYS": "30"}
    run_request(engine=store, request_id=request_id, settings=settings, now=NOW)
    # Answered once the certificate's email is delivered (R47): only then is it closed.
    smtp = SmtpSettings(host=smtp_server.host, port=smtp_server.port, timeout=30)
    deliver_due(engine_or_session_factory=store, settings=smtp, now=NOW)
    with db.open_session(store) as session:
        assert session.get(DataRequest, request_id).status is Status.COMPLETED  # type: ignore[union-attr]
    promised = closed_request_kept_until(NOW, 30)
    assert (
        f"kept in it until {long_date(promised, 'en', ZoneInfo('Europe/Paris'))};"
        in _certificate_text(store, request_id)
    )
    with db.transaction(store) as session:
        record_action(
            db_session=session,
            request=session.get(DataRequest, request_id),
            actor=Actor.STAFF,
            actor_label="dpo@example.org",
            action="task_done",
            at=NOW + timedelta(days=10),  # a recipient told later: the promise still holds
        )
    scheduler = SchedulerSettings(secret_key=SECRET, closed_request_retention_days=30)

    def address(now: datetime) -> str:
        run_job("minimise_closed", engine=store, settings=scheduler, now=now)
        with db.open_session(store) as session:
            return session.get(DataRequest, request_id).requester_email  # type: ignore[union-attr]

    assert address(promised - timedelta(seconds=1)) == SAMPLE_LEARNER_EMAIL
    assert address(promised).endswith(f"@{MINIMISED_DOMAIN}")
