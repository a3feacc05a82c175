"""`dsr retention plan` and `dsr retention run` from the command line: names and counts only."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import Engine

from dsr.retention.cli import retention_group
from tests.execution.conftest import DATA_MAP, PLATFORM_VARIABLE

pytestmark = pytest.mark.databases("sqlite")


def test_plan_then_run(store: Engine, platform: str, engine_url: str) -> None:
    env = {
        "DSR_DATA_MAP": str(DATA_MAP),
        PLATFORM_VARIABLE: platform,
        "DSR_SECRET_KEY": "retention-cli-secret",
    }
    runner = CliRunner()

    planned = runner.invoke(retention_group, ["plan", "--database-url", engine_url], env=env)

    assert planned.exit_code == 0, planned.output
    assert "learner_platform" in planned.output
    assert "tracking (P13M from tracking_event.occurred_at" in planned.output
    assert "no date: not swept" in planned.output
    assert "@" not in planned.output

    ran = runner.invoke(
        retention_group, ["run", "--batch-size", "50", "--database-url", engine_url], env=env
    )

    assert ran.exit_code == 0, ran.output
    assert "learner_platform / tracking: delete" in ran.output
    assert "@" not in ran.output
    again = runner.invoke(retention_group, ["plan", "--database-url", engine_url], env=env)
    assert "delete 0 rows of tracking_event" in again.output
