"""`make demo` run again: the platform is kept as the requests left it (an erased learner does not
come back) unless `--reset`, the sample learners printed are the platform's own (one for each
kind of request), and `dsr demo run`'s application relaxes the public form's limits and runs the
scheduler beside the desk."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Engine

from dsr import db
from dsr.app import create_app
from dsr.cli import main
from dsr.config import DEFAULTS
from dsr.demo.run import (
    DEMO_PUBLIC_LIMIT_PER_ADDRESS,
    DEMO_PUBLIC_LIMIT_PER_EMAIL,
    demo_config,
    demo_scheduler,
)
from dsr.demo.samples import sample_learners
from dsr.demo.schema import learner
from dsr.execution.runner import run_request
from dsr.requests.workflow import RequestType, Status
from dsr.scheduler.jobs import JOBS
from dsr.scheduler.process import LEASE_NAME, Lease, stored_job_ids
from tests.dashboard.conftest import NOW
from tests.execution.conftest import run_settings
from tests.factories import make_request

ROOT = Path(__file__).parents[2]


def seed(url: str, *more: str, env: dict[str, str] | None = None) -> str:
    result = CliRunner().invoke(
        main,
        ["--map", str(ROOT / "data_map.yaml"), "demo", "seed", "--url", url, "--learners", "30",
         *more],
        env=env,
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return result.output


def learners_with(url: str, email: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            query = select(func.count()).where(func.lower(learner.c.email) == email.lower())
            return int(connection.execute(query).scalar_one())
    finally:
        engine.dispose()


def printed_samples(output: str) -> dict[str, str]:
    rows = output.split("Sample learners", 1)[1].splitlines()[3:]
    return {row.split()[0]: row.split()[1] for row in rows if row.strip()}


@pytest.mark.databases("sqlite")
def test_seeding_again_keeps_an_erased_learner_erased(store: Engine, tmp_path: Path) -> None:
    url = f"sqlite:///{(tmp_path / 'platform.sqlite3').as_posix()}"
    first = seed(url)
    assert "Seeded sqlite:///" in first
    erased = printed_samples(first)["erasure"]
    with db.transaction(store) as session:
        request = make_request(
            session, status=Status.APPROVED, email=erased, request_type=RequestType.ERASURE
        )
    assert request.id is not None
    settings = run_settings(tmp_path / "reports", url, SECRET_KEY="a key for this test only")
    assert run_request(engine=store, request_id=request.id, settings=settings, now=NOW) is (
        Status.READY_TO_SEND
    )
    assert learners_with(url, erased) == 0

    again = seed(url)
    assert "Kept sqlite:///" in again and "Seeded" not in again
    assert learners_with(url, erased) == 0  # the platform as the request left it
    assert erased not in printed_samples(again).values()

    reset = seed(url, "--reset", env={"DSR_DATABASE_URL": f"sqlite:///{tmp_path}/desk.sqlite3"})
    assert "Seeded sqlite:///" in reset
    assert learners_with(url, erased) == 1


def test_reset_removes_the_desks_sqlite_store_and_queue(tmp_path: Path) -> None:
    url = f"sqlite:///{(tmp_path / 'platform.sqlite3').as_posix()}"
    seed(url)
    store = tmp_path / "desk.sqlite3"
    store.write_bytes(b"")
    output = seed(url, "--reset", env={"DSR_DATABASE_URL": f"sqlite:///{store.as_posix()}"})
    assert not store.exists() and f"Removed {store}" in output
    output = seed(url, "--reset", env={"DSR_DATABASE_URL": "postgresql+psycopg://x@127.0.0.1/y"})
    assert "is not a SQLite file: it is kept" in output


def test_one_existing_learner_for_each_kind_of_request(tmp_path: Path) -> None:
    url = f"sqlite:///{(tmp_path / 'platform.sqlite3').as_posix()}"
    printed = printed_samples(seed(url))
    assert set(printed) == {kind.value for kind in RequestType}
    assert len(set(printed.values())) == len(printed)  # a different learner each
    for email in printed.values():
        assert learners_with(url, email) == 1, email
    engine = create_engine(url)
    try:
        samples = {sample.kind: sample.email for sample in sample_learners(engine)}
        with engine.connect() as connection:
            erasure = samples[RequestType.ERASURE]
            invoices = connection.execute(
                text(
                    "SELECT COUNT(*) FROM invoice i JOIN learner l ON l.id = i.learner_id "
                    "WHERE l.email = :email"
                ),
                {"email": erasure},
            ).scalar_one()
            assert invoices > 0  # an erasure that keeps invoices
            subscribed = connection.execute(
                text(
                    "SELECT COUNT(*) FROM marketing_subscription s JOIN learner l "
                    "ON l.id = s.learner_id WHERE l.email = :email AND s.opted_in"
                ),
                {"email": samples[RequestType.OBJECTION]},
            ).scalar_one()
            assert subscribed > 0
            surveys = connection.execute(
                text(
                    "SELECT COUNT(*) FROM survey_response s JOIN learner l "
                    "ON l.id = s.learner_id WHERE l.email = :email"
                ),
                {"email": samples[RequestType.OBJECTION_LEGITIMATE_INTEREST]},
            ).scalar_one()
            assert surveys > 0
    finally:
        engine.dispose()


def test_the_demo_relaxes_the_public_forms_limits(tmp_path: Path, store_url: str) -> None:
    app = create_app(
        {
            **demo_config(database_url=store_url, folder=tmp_path, smtp_port=8025, public_url=None),
            "TESTING": True,
        }
    )
    try:
        assert app.config["DEMO_MODE"] is True
        assert app.config["PUBLIC_LIMIT_PER_ADDRESS"] == DEMO_PUBLIC_LIMIT_PER_ADDRESS
        assert app.config["PUBLIC_LIMIT_PER_EMAIL"] == DEMO_PUBLIC_LIMIT_PER_EMAIL
        assert (DEFAULTS["PUBLIC_LIMIT_PER_ADDRESS"], DEFAULTS["PUBLIC_LIMIT_PER_EMAIL"]) == (
            "10/hour",
            "5/hour",
        )
        # Eleven filings from one address: the production limit would refuse the eleventh.
        client = app.test_client()
        for number in range(11):
            page = client.get("/")
            token = page.get_data(as_text=True).split('name="csrf_token" value="', 1)[1]
            answer = client.post(
                "/",
                data={
                    "csrf_token": token.split('"', 1)[0],
                    "email": f"learner{number}@example.org",
                    "request_type": "access",
                    "language": "en",
                },
            )
            assert answer.status_code == 302, number
    finally:
        db.get_engine(app).dispose()


@pytest.mark.databases("sqlite", "postgresql")
def test_the_demo_runs_the_scheduler_beside_the_desk(migrated_url: str, tmp_path: Path) -> None:
    app = create_app(
        demo_config(database_url=migrated_url, folder=tmp_path, smtp_port=8025, public_url=None)
    )
    engine = db.get_engine(app)
    try:
        with demo_scheduler(app) as scheduler:
            assert scheduler is not None and scheduler.running
            assert stored_job_ids(engine) == set(JOBS)  # every job, kept in the store
            other = Lease(engine=engine, owner="another scheduler")
            assert other.acquire() is not None  # the demo holds the lease
            with demo_scheduler(app) as second:
                assert second is None  # a second one leaves the work to the first
        assert not scheduler.running
        assert Lease(engine=engine, owner="another scheduler").acquire() is None  # released
        assert LEASE_NAME == "scheduler"
    finally:
        engine.dispose()
