"""`dsr retention plan` and `dsr retention run` from the command line: names and counts only."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, func
from sqlalchemy.engine import Engine
from sqlmodel import select

from dsr import db
from dsr.cli import main
from dsr.db import utcnow
from dsr.demo.schema import support_thread
from dsr.outbox.models import OutboxMessage
from dsr.retention.approval import nightly_sweep
from dsr.retention.cli import retention_group
from dsr.retention.models import RetentionSweep, SweepStatus, SweepTrigger
from tests.execution.conftest import DATA_MAP, PLATFORM_VARIABLE
from tests.execution.platform_copy import snapshot
from tests.retention.conftest import sweep_settings

pytestmark = pytest.mark.databases("sqlite")


def test_plan_then_run(store: Engine, platform: str, engine_url: str) -> None:
    env = {
        "DSR_DATA_MAP": str(DATA_MAP),
        PLATFORM_VARIABLE: platform,
        "DSR_SECRET_KEY": "retention-cli-secret",
        "DSR_STAFF_LANGUAGE": "en",
    }
    runner = CliRunner()

    planned = runner.invoke(retention_group, ["plan", "--database-url", engine_url], env=env)

    assert planned.exit_code == 0, planned.output
    assert "learner_platform" in planned.output
    assert "tracking (P13M from tracking_event.occurred_at" in planned.output
    assert "P2Y from learner.last_login_at, else learner.created_at" in planned.output
    assert "no start date" not in planned.output  # every category of the map has a start
    assert "@" not in planned.output

    ran = runner.invoke(
        retention_group, ["run", "--batch-size", "50", "--database-url", engine_url], env=env
    )

    assert ran.exit_code == 0, ran.output
    assert "learner_platform / tracking: delete" in ran.output
    assert "@" not in ran.output
    again = runner.invoke(retention_group, ["plan", "--database-url", engine_url], env=env)
    assert "delete 0 rows of tracking_event" in again.output


def test_plan_and_run_speak_the_staffs_language(
    store: Engine, platform: str, engine_url: str
) -> None:
    """French by default, as every word staff read (issue 19)."""
    env = {
        "DSR_DATA_MAP": str(DATA_MAP),
        PLATFORM_VARIABLE: platform,
        "DSR_SECRET_KEY": "retention-cli-secret",
    }
    runner = CliRunner()

    planned = runner.invoke(retention_group, ["plan", "--database-url", engine_url], env=env)
    ran = runner.invoke(retention_group, ["run", "--database-url", engine_url], env=env)

    assert planned.exit_code == 0 and ran.exit_code == 0, planned.output + ran.output
    assert "tracking (P13M à partir de tracking_event.occurred_at" in planned.output
    assert "sinon learner.created_at" in planned.output
    assert "learner_platform / tracking: supprimer" in ran.output
    assert "Lignes modifiées" in ran.output
    for english in (" from ", " rows of ", "delete ", "Rows changed", "Warnings sent"):
        assert english not in planned.output + ran.output, english


def one_line_error(result: Result) -> str:
    """The error a command printed, checked to be one line with exit 1 and no traceback."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def test_run_without_a_secret_key_says_what_to_set_and_changes_nothing(
    store: Engine, platform: str, engine_url: str
) -> None:
    env = {
        "DSR_DATA_MAP": str(DATA_MAP),
        PLATFORM_VARIABLE: platform,
        "DSR_SECRET_KEY": None,
        "DSR_PSEUDONYMISATION_KEY": None,
    }
    before = snapshot(platform)

    ran = CliRunner().invoke(retention_group, ["run", "--database-url", engine_url], env=env)

    assert "Set DSR_SECRET_KEY" in one_line_error(ran)
    assert snapshot(platform) == before
    with db.open_session(store) as session:
        assert session.exec(select(OutboxMessage)).first() is None  # no warning sent either


def test_a_store_not_yet_migrated_says_to_upgrade_it(platform: str, engine_url: str) -> None:
    env = {
        "DSR_DATA_MAP": str(DATA_MAP),
        PLATFORM_VARIABLE: platform,
        "DSR_SECRET_KEY": "retention-cli-secret",
        "DSR_STAFF_LANGUAGE": "en",
    }
    for command in ("plan", "run"):
        arguments = [command, "--database-url", engine_url]
        result = CliRunner().invoke(retention_group, arguments, env=env)
        assert "run `dsr db upgrade`" in one_line_error(result), command


@pytest.mark.databases("sqlite", "postgresql")
def test_a_retention_from_a_column_without_dates_is_refused_in_one_line(
    store: Engine, platform: str, engine_url: str, tmp_path: Path
) -> None:
    text = DATA_MAP.read_text(encoding="utf-8")
    assert "      from: invoice.issued_at\n" in text
    textual = tmp_path / "map.yaml"
    textual.write_text(text.replace("from: invoice.issued_at", "from: invoice.number"), "utf-8")
    env = {
        "DSR_DATA_MAP": str(textual),
        PLATFORM_VARIABLE: platform,
        "DSR_SECRET_KEY": "retention-cli-secret",
        "DSR_STAFF_LANGUAGE": "en",
    }
    before = snapshot(platform)
    for command in ("plan", "run"):
        arguments = [command, "--database-url", engine_url]
        result = CliRunner().invoke(retention_group, arguments, env=env)
        line = one_line_error(result)
        assert "`invoices`" in line and "`invoice.number`" in line, line
        assert "not a date or timestamp" in line, line
    assert snapshot(platform) == before


def test_a_run_at_the_console_is_recorded_and_stands_for_the_maps_approval(
    store: Engine, platform: str, engine_url: str
) -> None:
    env = {
        "DSR_DATA_MAP": str(DATA_MAP),
        PLATFORM_VARIABLE: platform,
        "DSR_SECRET_KEY": "retention-cli-secret",
        "DSR_RETENTION_APPROVAL_SHARE": "1",
    }

    ran = CliRunner().invoke(retention_group, ["run", "--database-url", engine_url], env=env)

    assert ran.exit_code == 0, ran.output
    with db.open_session(store) as session:
        [sweep] = session.exec(select(RetentionSweep)).all()
    assert (sweep.trigger, sweep.status) == (SweepTrigger.CONSOLE, SweepStatus.DONE)
    assert sweep.approved_by == "console" and sweep.reasons == []
    assert sweep.outcome and sweep.report["categories"]
    settings = {**sweep_settings(platform), "RETENTION_APPROVAL_SHARE": 1}
    nightly = nightly_sweep(engine=store, settings=settings, now=utcnow())
    assert nightly.status is SweepStatus.DONE, nightly.reasons


def test_a_bad_approval_share_is_refused_in_one_line(
    store: Engine, platform: str, engine_url: str
) -> None:
    env = {
        "DSR_DATA_MAP": str(DATA_MAP),
        PLATFORM_VARIABLE: platform,
        "DSR_SECRET_KEY": "retention-cli-secret",
        "DSR_RETENTION_APPROVAL_SHARE": "2",
    }
    before = snapshot(platform)

    ran = CliRunner().invoke(retention_group, ["run", "--database-url", engine_url], env=env)

    assert "DSR_RETENTION_APPROVAL_SHARE must be" in one_line_error(ran)
    assert snapshot(platform) == before


def test_the_plan_counts_the_rows_without_a_start(
    store: Engine, platform: str, engine_url: str, tmp_path: Path
) -> None:
    spec = yaml.safe_load(DATA_MAP.read_text(encoding="utf-8"))
    del spec["categories"]["support"]["retention"]["fallback"]
    without = tmp_path / "map.yaml"
    without.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    env = {
        "DSR_DATA_MAP": str(without),
        PLATFORM_VARIABLE: platform,
        "DSR_SECRET_KEY": "retention-cli-secret",
        "DSR_STAFF_LANGUAGE": "en",
    }
    engine = create_engine(platform)
    with engine.connect() as conn:
        undated = conn.execute(
            select(func.count()).where(support_thread.c.closed_at.is_(None))
        ).scalar_one()
    engine.dispose()

    planned = CliRunner().invoke(retention_group, ["plan", "--database-url", engine_url], env=env)
    checked = CliRunner().invoke(main, ["--map", str(without), "map", "check", "--live"], env=env)

    assert checked.exit_code == 0, checked.output
    [warning] = [line for line in checked.output.splitlines() if "`support`" in line]
    assert warning.startswith(f"warning: {without}:") and "[learner_platform]" in warning
    assert (
        "the retention of category `support` runs from `support_thread.closed_at`, which can be "
        f"NULL, and no fallback is always set: {undated} rows have no start date today"
    ) in warning
    fallback_given = (
        CliRunner().invoke(main, ["--map", str(DATA_MAP), "map", "check", "--live"], env=env).output
    )
    assert "`support`" not in fallback_given and "`contact`" not in fallback_given
    assert planned.exit_code == 0, planned.output
    lines = planned.output.splitlines()
    support = next(i for i, line in enumerate(lines) if line.startswith("  support ("))
    notes = []
    for line in lines[support + 1 :]:
        if not line.startswith("      "):
            break
        notes.append(line.strip())
    assert f"{undated} rows have no start date: never swept" in notes
