"""The Retention pages: the sweeps with their status and why they wait, a sweep's report per
category and table, and "Approve and run" (admin and DPO, CSRF, a confirmation), audited, run by
a worker once (QUEUE_URL=immediate: after the request's commit), refused for an out-of-date
report; the queue and the tasks say when a sweep waits. In English and in French."""

from __future__ import annotations

import html
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import col

from dsr import db
from dsr.audit.models import RequestEvent, verify_audit
from dsr.demo.schema import tracking_event
from dsr.demo.seed import REFERENCE_NOW, seed_platform
from dsr.retention.approval import APPROVED_ACTION, nightly_sweep
from dsr.retention.models import RetentionSweep, SweepStatus
from tests.dashboard.staff_pages import StaffClient, staff_client
from tests.execution.conftest import DATA_MAP, PLATFORM_VARIABLE
from tests.pages import csrf_token
from tests.retention.conftest import sweep_settings
from tests.retention.test_sweeps import _count

__all__ = ["staff_client"]  # the fixture used here

NOW = REFERENCE_NOW


@pytest.fixture(scope="module")
def seeded_platform(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("platform") / "platform.sqlite3"
    seed_platform(f"sqlite:///{path.as_posix()}", learners=40, seed=7)
    return path


@pytest.fixture
def platform(seeded_platform: Path, tmp_path: Path) -> str:
    """The demo platform of this test alone (a copy of one seeded for the module)."""
    path = tmp_path / "platform.sqlite3"
    shutil.copyfile(seeded_platform, path)
    return f"sqlite:///{path.as_posix()}"


@pytest.fixture
def data_map(tmp_path: Path) -> Path:
    """A copy of the map the test may change."""
    copy = tmp_path / "data_map.yaml"
    shutil.copyfile(DATA_MAP, copy)
    return copy


@pytest.fixture
def app_config(app_config: dict[str, Any], platform: str, data_map: Path) -> dict[str, Any]:
    """The dashboard's settings (tests/dashboard/staff_pages.py), on the test's map and platform."""
    return {
        **app_config,
        "DELIVER_AFTER_COMMIT": False,
        "DATA_MAP": str(data_map),
        PLATFORM_VARIABLE: platform,
    }


@pytest.fixture
def settings(platform: str, data_map: Path, app: Flask) -> dict[str, Any]:
    return sweep_settings(platform, data_map=data_map, SECRET_KEY=app.config["SECRET_KEY"])


@pytest.fixture
def waiting(app: Flask, settings: dict[str, Any]) -> Iterator[RetentionSweep]:
    """The first nightly sweep: it waits for approval."""
    sweep = nightly_sweep(engine=db.get_engine(app), settings=settings, now=NOW)
    assert sweep.status is SweepStatus.WAITING
    yield sweep


def _store(app: Flask) -> Engine:
    return db.get_engine(app)


def _sweep(app: Flask, sweep_id: int | None) -> RetentionSweep:
    with db.open_session(_store(app)) as session:
        found = session.get(RetentionSweep, sweep_id)
        assert found is not None
        return found


def _approve(client: FlaskClient, sweep_id: int | None, **data: str) -> Any:
    page = client.get(f"/dashboard/retention/{sweep_id}")
    return client.post(
        f"/dashboard/retention/{sweep_id}/approve",
        data={"csrf_token": csrf_token(page), "confirm": "yes", **data},
    )


def _approvals(app: Flask) -> list[RequestEvent]:
    with db.open_session(_store(app)) as session:
        return list(
            session.execute(select(RequestEvent).where(col(RequestEvent.action) == APPROVED_ACTION))
            .scalars()
            .all()
        )


def test_the_list_and_the_report_say_why_a_sweep_waits(
    staff_client: StaffClient, waiting: RetentionSweep
) -> None:
    client = staff_client("auditor")

    listed = client.get("/dashboard/retention").get_data(as_text=True)
    page = client.get(f"/dashboard/retention/{waiting.id}")

    assert "Waiting for approval" in listed
    assert "The first sweep: none was approved before." in listed
    assert re.search(r"It would delete or anonymise more than 10\s?% of a table\.", listed)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "tracking_event" in text and "learner_platform / tracking" in text
    assert "Rows of the table changed" in text and "Above the share allowed" in text
    assert "Approve and run" not in text  # auditors read, never approve
    assert client.get("/dashboard/retention/999999").status_code == 404


def test_the_pages_speak_french(staff_client: StaffClient, waiting: RetentionSweep) -> None:
    client = staff_client("dpo")
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "fr"

    listed = client.get("/dashboard/retention").get_data(as_text=True)
    page = client.get(f"/dashboard/retention/{waiting.id}").get_data(as_text=True)

    listed, page = html.unescape(listed), html.unescape(page)
    assert "En attente d'approbation" in listed
    assert "La première purge : aucune n'a été approuvée auparavant." in listed
    assert "Approuver et lancer" in page
    assert "Lignes de la table modifiées" in page and "Supprimer" in page


def test_approve_and_run_is_audited_runs_on_the_worker_once_and_shows_the_outcome(
    app: Flask, staff_client: StaffClient, waiting: RetentionSweep, platform: str
) -> None:
    client = staff_client("dpo")
    planned = next(c for c in waiting.report["categories"] if c["category"] == "tracking")
    before = _count(platform, tracking_event)

    answer = _approve(client, waiting.id)

    assert answer.status_code == 303
    done = _sweep(app, waiting.id)
    assert done.status is SweepStatus.DONE, done.error
    assert done.approved_by == "dpo@desk.example"
    assert _count(platform, tracking_event) == before - planned["rows"]
    [event] = _approvals(app)
    assert event.actor_label == "dpo@desk.example" and event.details["sweep"] == waiting.id
    with db.open_session(_store(app)) as session:
        assert verify_audit(db_session=session).ok
    page = client.get(f"/dashboard/retention/{waiting.id}").get_data(as_text=True)
    assert "Approved: a worker runs the sweep" in page
    assert "What the sweep changed" in page and "Carried out" in page

    again = _approve(client, waiting.id)

    assert again.status_code == 409
    assert "no longer waits for approval" in again.get_data(as_text=True)
    assert len(_approvals(app)) == 1
    assert _sweep(app, waiting.id).finished_at == done.finished_at


def test_an_out_of_date_report_is_refused_and_nothing_runs(
    app: Flask, staff_client: StaffClient, waiting: RetentionSweep, data_map: Path, platform: str
) -> None:
    with data_map.open("a", encoding="utf-8") as edited:
        edited.write("\n# changed since the report\n")
    before = _count(platform, tracking_event)

    answer = _approve(staff_client("admin"), waiting.id)

    assert answer.status_code == 409
    assert "The data map changed since this report" in answer.get_data(as_text=True)
    assert _sweep(app, waiting.id).status is SweepStatus.WAITING
    assert _approvals(app) == []
    assert _count(platform, tracking_event) == before


@pytest.mark.parametrize(
    ("role", "data", "status"),
    [
        ("auditor", {}, 403),  # auditors change nothing
        ("dpo", {"confirm": ""}, 400),  # the box not ticked
        ("dpo", {"csrf_token": "forged"}, 400),
    ],
)
def test_an_approval_without_the_role_the_confirmation_or_the_csrf_token_is_refused(
    app: Flask,
    staff_client: StaffClient,
    waiting: RetentionSweep,
    role: str,
    data: dict[str, str],
    status: int,
) -> None:
    answer = _approve(staff_client(role), waiting.id, **data)

    assert answer.status_code == status
    assert _sweep(app, waiting.id).status is SweepStatus.WAITING
    assert _approvals(app) == []


def test_the_queue_and_the_tasks_say_a_sweep_waits(
    staff_client: StaffClient, waiting: RetentionSweep
) -> None:
    client = staff_client("dpo")
    link = f"/dashboard/retention/{waiting.id}"

    for page in ("/dashboard/", "/dashboard/tasks"):
        text = client.get(page).get_data(as_text=True)
        assert "A retention sweep is waiting for approval." in text and link in text, page


def test_no_notice_without_a_waiting_sweep(staff_client: StaffClient) -> None:
    text = staff_client("dpo").get("/dashboard/").get_data(as_text=True)

    assert "A retention sweep is waiting" not in text
    assert "No retention sweep has been made yet." in (
        staff_client("dpo").get("/dashboard/retention").get_data(as_text=True)
    )
