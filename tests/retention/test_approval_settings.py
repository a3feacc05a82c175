"""DSR_RETENTION_APPROVAL_SHARE: above 0 and at most 1, refused at start otherwise, by the web
application and by the scheduler alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from dsr.config import InsecureConfiguration, Settings, check_settings, retention_approval_share
from dsr.scheduler.runs import SchedulerSettings


@pytest.mark.parametrize("value", [0, "0", -0.5, 1.5, "abc", True, "nan"])
def test_a_share_outside_zero_to_one_is_refused_at_start(value: object, tmp_path: Path) -> None:
    with pytest.raises(InsecureConfiguration, match="DSR_RETENTION_APPROVAL_SHARE must be"):
        check_settings({"RETENTION_APPROVAL_SHARE": value})
    settings = Settings.from_mapping({"RETENTION_APPROVAL_SHARE": value}, instance_path=tmp_path)
    with pytest.raises(ValueError, match="DSR_RETENTION_APPROVAL_SHARE"):
        SchedulerSettings.from_settings(settings)


def test_the_share_defaults_to_a_tenth() -> None:
    assert retention_approval_share({}) == 0.1
    assert retention_approval_share({"RETENTION_APPROVAL_SHARE": "1"}) == 1.0
