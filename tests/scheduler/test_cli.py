"""`dsr scheduler list` and `dsr scheduler run-once JOB`, and the dashboard's scheduler page."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from markupsafe import escape
from sqlalchemy.engine import Engine
from sqlmodel import select

from dsr import db
from dsr.requests.models import DataRequest
from dsr.requests.workflow import Status
from dsr.scheduler.cli import scheduler_group
from dsr.scheduler.jobs import JOBS, run_job
from dsr.scheduler.runs import SchedulerSettings
from dsr.scheduler.views import JOB_LABELS
from tests.accounts.helpers import StaffClientFactory, staff_client
from tests.scheduler.conftest import NOW, MakeRequest

__all__ = ["staff_client"]  # the fixtures used here


@pytest.mark.databases("sqlite")
def test_list_shows_every_job_and_when_it_runs(engine_url: str, store: Engine) -> None:
    result = CliRunner().invoke(scheduler_group, ["--database-url", engine_url, "list"])
    assert result.exit_code == 0, result.output
    for name in JOBS:
        assert name in result.output
    assert "every 1 minutes" in result.output and "daily at 07:00 UTC" in result.output
    assert "weekly on mon at 06:00 UTC" in result.output
    assert "when the scheduler starts" in result.output
    assert "No scheduler is running." in result.output


@pytest.mark.databases("sqlite")
def test_run_once_runs_the_job_now_and_records_it(
    engine_url: str, store: Engine, make_request: MakeRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DSR_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("DSR_SMTP_PORT", "9")
    request_id = make_request(status=Status.RECEIVED, received_at=db.utcnow() - timedelta(days=8))
    runner = CliRunner()
    result = runner.invoke(
        scheduler_group, ["--database-url", engine_url, "run-once", "expire_unverified"]
    )
    assert result.exit_code == 0, result.output
    assert "expire_unverified: 1 done, 0 errors." in result.output
    with db.open_session(store) as session:
        request = session.exec(select(DataRequest).where(DataRequest.id == request_id)).one()
    assert request.status is Status.EXPIRED
    listed = runner.invoke(scheduler_group, ["--database-url", engine_url, "list"])
    assert "(1 done, 0 errors)" in listed.output


@pytest.mark.databases("sqlite")
def test_run_once_refuses_an_unknown_job(engine_url: str, store: Engine) -> None:
    result = CliRunner().invoke(scheduler_group, ["--database-url", engine_url, "run-once", "x"])
    assert result.exit_code == 2
    assert "outbox" in result.output


def test_the_dashboard_shows_the_jobs_and_their_runs_to_auditors(
    app: Flask, staff_client: StaffClientFactory
) -> None:
    engine = db.get_engine(app)
    settings = SchedulerSettings(secret_key="a secret for the tests only")
    run_job("fail_stuck", engine=engine, settings=settings, now=NOW)
    client = staff_client("auditor")
    page = client.get("/dashboard/scheduler", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for name in JOBS:  # each job by what it does, in words
        assert name in JOB_LABELS and str(escape(str(JOB_LABELS[name]))) in text, name
    assert "No scheduler is running" in text or "Aucun planificateur" in text
    assert "Failing runs stuck in processing" in text
    anonymous = app.test_client().get("/dashboard/scheduler")
    assert anonymous.status_code == 302


def test_the_scheduler_refuses_to_run_in_production_with_the_default_secret(
    tmp_path: Path,
) -> None:
    """It signs the links of the emails it sends: the same refusal as the web application's."""
    url = f"sqlite:///{tmp_path / 'never-created.sqlite3'}"
    for secret in (None, "dev", "short"):
        env = {"DSR_ENV": "production", "DSR_SECRET_KEY": secret}
        result = CliRunner().invoke(scheduler_group, ["--database-url", url], env=env)
        assert result.exit_code != 0, secret
        assert "DSR_SECRET_KEY" in result.output
    assert not (tmp_path / "never-created.sqlite3").exists()  # refused before anything ran


def test_the_scheduler_refuses_to_run_in_production_without_a_public_url(tmp_path: Path) -> None:
    """The links of the emails start with DSR_PUBLIC_URL, never with a default."""
    url = f"sqlite:///{tmp_path / 'never-created.sqlite3'}"
    env = {"DSR_ENV": "production", "DSR_SECRET_KEY": "s" * 48, "DSR_PUBLIC_URL": None}
    result = CliRunner().invoke(scheduler_group, ["--database-url", url], env=env)
    assert result.exit_code != 0
    assert "DSR_PUBLIC_URL is not set" in result.output
    assert not (tmp_path / "never-created.sqlite3").exists()
