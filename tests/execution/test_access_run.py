"""Running approved access and portability requests on the seeded demo platform, with the store on
SQLite and PostgreSQL: the request completes with its files (0600 in 0700 folders, sound PDFs), a
system that is down fails it with the reason and nothing kept or sent, a retry after the fix
completes, and expired reports are purged with their collected data."""

from __future__ import annotations

import hashlib
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from dsr import db
from dsr.audit.models import RequestEvent
from dsr.delivery.models import Report, ReportKind
from dsr.delivery.service import purge_expired_reports
from dsr.demo.seed import SAMPLE_LEARNER_EMAIL
from dsr.execution.cli import request_group
from dsr.execution.runner import RequestNotRunnable, failure_reason, run_request
from dsr.outbox.models import OutboxMessage
from dsr.requests.models import DataRequest
from dsr.requests.workflow import RequestType, Status
from tests.dashboard.conftest import NOW
from tests.execution.conftest import CLOSED_PORT_URL, qpdf_check, run_settings
from tests.factories import make_request

pytestmark = pytest.mark.databases("sqlite", "postgresql")


def approved(store: Engine, request_type: RequestType = RequestType.ACCESS) -> int:
    with db.transaction(store) as session:
        request = make_request(
            session,
            status=Status.APPROVED,
            email=SAMPLE_LEARNER_EMAIL,
            request_type=request_type,
        )
        assert request.id is not None
        return request.id


def reports(store: Engine, request_id: int) -> list[Report]:
    with db.open_session(store) as session:
        found = session.exec(select(Report).where(Report.request_id == request_id))
        return sorted(found.all(), key=lambda report: report.id or 0)


def request_row(store: Engine, request_id: int) -> DataRequest:
    with db.open_session(store) as session:
        found = session.get(DataRequest, request_id)
        assert found is not None
        return found


def actions(store: Engine, request_id: int) -> list[str]:
    with db.open_session(store) as session:
        return list(
            session.exec(
                select(RequestEvent.action)
                .where(RequestEvent.request_id == request_id)
                .order_by(col(RequestEvent.sequence))
            ).all()
        )


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_an_approved_access_request_is_ready_to_send_with_its_report(
    store: Engine, platform_url: str, tmp_path: Path
) -> None:
    request_id = approved(store)
    settings = run_settings(tmp_path / "reports", platform_url)

    status = run_request(engine=store, request_id=request_id, settings=settings, now=NOW)

    # Ready, not answered: staff have not sent it yet (R47).
    assert status is Status.READY_TO_SEND
    assert request_row(store, request_id).status is Status.READY_TO_SEND
    assert request_row(store, request_id).answered_at is None
    assert actions(store, request_id)[-2:] == ["start_processing", "finish_processing"]
    report, export = reports(store, request_id)  # the PDF first
    path = Path(report.path)
    assert report.kind is ReportKind.PDF
    assert export.kind is ReportKind.EXPORT and mode(Path(export.path)) == 0o600
    assert Path(export.path).name == f"{request_row(store, request_id).reference}-export.zip"
    with zipfile.ZipFile(export.path) as archive:
        assert archive.testzip() is None and "README.txt" in archive.namelist()
    assert path.parent == tmp_path / "reports" / str(request_id)
    assert report.size == path.stat().st_size
    assert report.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert report.expires_at == NOW + timedelta(days=7)
    assert report.downloads_left == 3
    assert not report.encrypted and report.delivered_at is None
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    collected = path.parent / "collected"
    assert mode(collected) == 0o700
    files = list(collected.iterdir())
    assert files and all(mode(file) == 0o600 for file in files)
    qpdf_check(path)


def test_a_portability_request_also_gets_the_archive(
    store: Engine, platform_url: str, tmp_path: Path
) -> None:
    request_id = approved(store, RequestType.PORTABILITY)
    settings = run_settings(tmp_path / "reports", platform_url)

    run_request(engine=store, request_id=request_id, settings=settings, now=NOW)

    kinds = {report.kind: Path(report.path) for report in reports(store, request_id)}
    assert set(kinds) == {ReportKind.PDF, ReportKind.EXPORT, ReportKind.ZIP}
    assert mode(kinds[ReportKind.ZIP]) == 0o600
    with zipfile.ZipFile(kinds[ReportKind.ZIP]) as archive:
        assert archive.testzip() is None
        assert archive.namelist()


def test_a_system_down_fails_the_request_then_a_retry_makes_it_ready(
    store: Engine, platform_url: str, tmp_path: Path
) -> None:
    request_id = approved(store)
    folder = tmp_path / "reports" / str(request_id)

    down = run_settings(tmp_path / "reports", CLOSED_PORT_URL)
    status = run_request(engine=store, request_id=request_id, settings=down, now=NOW)

    assert status is Status.FAILED
    failed = request_row(store, request_id)
    assert failed.status is Status.FAILED
    with db.open_session(store) as session:
        reason = failure_reason(session, failed)
    assert reason is not None
    assert reason.startswith("system `learner_platform` could not be read:")
    assert "refused" in reason.lower()
    assert reports(store, request_id) == []
    assert not folder.exists()  # nothing half-done is kept
    with db.open_session(store) as session:
        assert session.exec(select(OutboxMessage)).all() == []  # nothing sent

    fixed = run_settings(tmp_path / "reports", platform_url)
    later = NOW + timedelta(hours=1)
    status = run_request(
        engine=store, request_id=request_id, settings=fixed, now=later, staff_label="dpo@x.org"
    )

    assert status is Status.READY_TO_SEND
    assert actions(store, request_id)[-4:] == [
        "start_processing",
        "fail",
        "start_processing",
        "finish_processing",
    ]
    report, _export = reports(store, request_id)
    assert report.created_at == later
    qpdf_check(Path(report.path))


def test_only_approved_or_failed_requests_run(store: Engine, tmp_path: Path) -> None:
    with db.transaction(store) as session:
        request = make_request(session, status=Status.IN_REVIEW)
    settings = run_settings(tmp_path / "reports", "sqlite://")
    assert request.id is not None
    with pytest.raises(RequestNotRunnable, match="Only an approved or failed request"):
        run_request(engine=store, request_id=request.id, settings=settings, now=NOW)
    assert request_row(store, request.id).status is Status.IN_REVIEW
    with pytest.raises(RequestNotRunnable, match="no request"):
        run_request(engine=store, request_id=10_000, settings=settings, now=NOW)


def test_purge_deletes_expired_files_collected_data_and_rows(
    store: Engine, platform_url: str, tmp_path: Path
) -> None:
    settings = run_settings(tmp_path / "reports", platform_url)
    expiring, kept = approved(store, RequestType.PORTABILITY), approved(store)
    run_request(engine=store, request_id=expiring, settings=settings, now=NOW)
    run_request(engine=store, request_id=kept, settings=settings, now=NOW + timedelta(days=3))
    folder = tmp_path / "reports" / str(expiring)
    assert (folder / "collected").is_dir()

    assert purge_expired_reports(engine=store, now=NOW + timedelta(days=6)) == 0
    assert purge_expired_reports(engine=store, now=NOW + timedelta(days=7)) == 3

    assert not folder.exists()
    assert reports(store, expiring) == []
    assert len(reports(store, kept)) == 2
    assert Path(reports(store, kept)[0].path).is_file()
    assert actions(store, expiring)[-1] == "reports_purged"


def test_the_commands_run_a_request_and_purge_reports(
    store: Engine, platform_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    request_id = approved(store)
    reference = request_row(store, request_id).reference
    url = store.url.render_as_string(hide_password=False)
    monkeypatch.setenv("DSR_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("DSR_DELIVERY_DAYS", "0")  # expired as soon as produced
    runner = CliRunner()

    monkeypatch.setenv("POINT3_PLATFORM_URL", CLOSED_PORT_URL)
    failed = runner.invoke(request_group, ["run", reference.lower(), "--database-url", url])
    assert failed.exit_code == 1
    assert f"{reference} failed: system `learner_platform` could not be read" in failed.output

    monkeypatch.setenv("POINT3_PLATFORM_URL", platform_url)
    done = runner.invoke(request_group, ["run", reference, "--database-url", url])
    assert done.exit_code == 0, done.output
    assert f"{reference} carried out: ready to send" in done.output
    again = runner.invoke(request_group, ["run", reference, "--database-url", url])
    assert again.exit_code == 1 and "is ready_to_send" in again.output

    purged = runner.invoke(request_group, ["purge-reports", "--database-url", url])
    assert purged.exit_code == 0, purged.output
    assert "Deleted 2 expired report(s)." in purged.output
    assert not (tmp_path / "reports" / str(request_id)).exists()
