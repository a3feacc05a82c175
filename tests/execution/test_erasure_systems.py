"""An erasure request over two systems: when the second one is blocked by a foreign key the map
does not know, the request fails naming it and neither system changes (the plan across the systems
refuses before the first one is changed); once the block is gone, the retry erases both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from dsr import db
from dsr.demo.seed import SAMPLE_LEARNER_EMAIL
from dsr.execution.change_records import SystemRunStatus
from dsr.execution.erasure import system_runs
from dsr.execution.runner import failure_reason, run_request
from dsr.requests.models import DataRequest
from dsr.requests.workflow import Status
from tests.dashboard.conftest import NOW
from tests.execution.conftest import DATA_MAP, PLATFORM_VARIABLE, run_settings
from tests.execution.platform_copy import copy_platform, snapshot
from tests.execution.test_erasure_flow import SECRET, approved_erasure

pytestmark = pytest.mark.databases("sqlite")

NEWSLETTER_VARIABLE = "NEWSLETTER_URL"
BLOCKER = "fk_click_audit_click"


def newsletter_map(folder: Path) -> Path:
    """Write the demo map with a second system, a newsletter base, and return its path."""
    data_map: dict[str, Any] = yaml.safe_load(DATA_MAP.read_text(encoding="utf-8"))
    data_map["systems"]["newsletter"] = {
        "title": "Newsletter base",
        "url": {"env": NEWSLETTER_VARIABLE, "default": "sqlite:///newsletter.sqlite3"},
        "tables": {
            "subscriber": {"primary_key": "id"},
            "click": {
                "primary_key": "id",
                "links": [{"column": "subscriber_id", "to": "subscriber.id"}],
            },
        },
    }
    data_map["identities"]["email"]["locations"]["newsletter"] = [
        {"column": "subscriber.email", "expect_one": True}
    ]
    data_map["categories"]["newsletter_clicks"] = {
        "title": {"fr": "Clics de la lettre", "en": "Newsletter clicks"},
        "description": {"fr": "Vos clics", "en": "Your clicks"},
        "system": "newsletter",
        "fields": [
            {"column": "subscriber.email", "label": {"fr": "Courriel", "en": "Email"}},
            {"column": "click.url", "label": {"fr": "Lien", "en": "Link"}},
        ],
        "purposes": [{"fr": "Mesurer la lettre", "en": "Measure the newsletter"}],
        "legal_basis": "consent",
        "retention": {
            "period": "P1Y",
            "from": "click.clicked_at",
            "source": {"fr": "Pratique CNIL", "en": "CNIL practice"},
        },
        "source": {"fr": "Vous-même", "en": "Yourself"},
        "provenance": "observed",
        "erasure": {"action": "delete"},
    }
    data_map["activities"]["prospecting"]["categories"].append("newsletter_clicks")
    path = folder / "two_systems.yaml"
    path.write_text(yaml.safe_dump(data_map, allow_unicode=True), encoding="utf-8")
    return path


def newsletter_base(folder: Path) -> str:
    """Create the newsletter base: the sample learner subscribed, two clicks, one audited by a
    table the map does not know; return its URL."""
    url = f"sqlite:///{(folder / 'newsletter.sqlite3').as_posix()}"
    engine = create_engine(url)
    with engine.begin() as conn:
        for statement in (
            "CREATE TABLE subscriber (id INTEGER PRIMARY KEY, email VARCHAR(254) NOT NULL)",
            "CREATE TABLE click (id INTEGER PRIMARY KEY, subscriber_id INTEGER NOT NULL"
            " REFERENCES subscriber (id), url VARCHAR(200), clicked_at TIMESTAMP)",
            "CREATE TABLE click_audit (id INTEGER PRIMARY KEY, click_id INTEGER NOT NULL,"
            f" CONSTRAINT {BLOCKER} FOREIGN KEY (click_id) REFERENCES click (id))",
            "INSERT INTO subscriber VALUES (1, :email), (2, 'someone.else@example.org')",
            "INSERT INTO click VALUES (1, 1, 'https://a.example', '2026-10-01 10:00:00'),"
            " (2, 1, 'https://b.example', '2026-10-02 10:00:00'),"
            " (3, 2, 'https://c.example', '2026-10-03 10:00:00')",
            "INSERT INTO click_audit VALUES (1, 2)",
        ):
            conn.execute(text(statement), {"email": SAMPLE_LEARNER_EMAIL})
    engine.dispose()
    return url


def test_a_block_in_the_second_system_leaves_both_unchanged_and_the_retry_erases_both(
    store: Engine, platform_url: str, tmp_path: Path
) -> None:
    platform = copy_platform(platform_url, tmp_path)
    newsletter = newsletter_base(tmp_path)
    settings = run_settings(
        tmp_path / "reports",
        platform,
        SECRET_KEY=SECRET,
        DATA_MAP=str(newsletter_map(tmp_path)),
        SYSTEM_ENVIRONMENT={PLATFORM_VARIABLE: platform, NEWSLETTER_VARIABLE: newsletter},
    )
    before = (snapshot(platform), snapshot(newsletter))
    request_id = approved_erasure(store)

    assert run_request(engine=store, request_id=request_id, settings=settings, now=NOW) is (
        Status.FAILED
    )
    with db.open_session(store) as session:
        request = session.get(DataRequest, request_id)
        assert request is not None
        reason = failure_reason(session, request) or ""
    assert reason.startswith("Effacement bloqué, rien n'a été modifié"), reason  # staff read French
    assert BLOCKER in reason and "click_audit" in reason, reason
    assert (snapshot(platform), snapshot(newsletter)) == before

    engine = create_engine(newsletter)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE click_audit"))
    engine.dispose()
    assert run_request(engine=store, request_id=request_id, settings=settings, now=NOW) is (
        Status.READY_TO_SEND
    )
    after = snapshot(newsletter)
    assert set(after["click"]) == {(3,)}
    assert snapshot(platform)["learner"] != before[0]["learner"]


def test_a_system_whose_database_refuses_is_recorded_in_the_staffs_language(
    store: Engine, platform_url: str, tmp_path: Path
) -> None:
    """The newsletter base refuses to delete clicks (a trigger): its record and the request's
    failure say why in French, the staff's language, naming the table and no value."""
    platform = copy_platform(platform_url, tmp_path)
    newsletter = newsletter_base(tmp_path)
    engine = create_engine(newsletter)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE click_audit"))
        conn.execute(
            text(
                "CREATE TRIGGER keep_clicks BEFORE DELETE ON click "
                "BEGIN SELECT RAISE(ABORT, 'clicks are kept'); END"
            )
        )
    engine.dispose()
    settings = run_settings(
        tmp_path / "reports",
        platform,
        SECRET_KEY=SECRET,
        DATA_MAP=str(newsletter_map(tmp_path)),
        SYSTEM_ENVIRONMENT={PLATFORM_VARIABLE: platform, NEWSLETTER_VARIABLE: newsletter},
    )
    request_id = approved_erasure(store)

    assert run_request(engine=store, request_id=request_id, settings=settings, now=NOW) is (
        Status.FAILED
    )
    with db.open_session(store) as session:
        request = session.get(DataRequest, request_id)
        assert request is not None
        reason = failure_reason(session, request) or ""
        runs = {run.system: run for run in system_runs(session, request_id)}
    refused = "pendant la modification de `click` ; rien n'a été modifié"
    assert refused in reason, reason
    assert runs["newsletter"].status is SystemRunStatus.FAILED
    assert refused in (runs["newsletter"].error or ""), runs["newsletter"].error
    assert "nothing was changed" not in reason + (runs["newsletter"].error or "")
