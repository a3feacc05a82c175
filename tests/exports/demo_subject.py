"""The demo platform's sample learner and her neighbours, collected for the access report tests.

One SQLite file seeded with a fixed seed and `REFERENCE_NOW`; the sample learner's rows are
written by hand in the seed, so the documents made from them are stable. Tests that change rows
work on a copy (`DemoPlatform.copy`).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text

from dsr.demo.seed import REFERENCE_NOW, seed_platform
from exports.access_report import ReportRequest
from inventory.collection import Collection, collect_subject
from inventory.loader import load_data_map
from inventory.locator import locate_subject
from inventory.model import DataMap
from inventory.systems import Systems

MAP_PATH = Path(__file__).parents[2] / "data_map.yaml"
SEED = 7
LEARNERS = 40
RECEIVED_AT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
COMPLETED_AT = datetime(2026, 11, 25, 13, 5, tzinfo=UTC)


def load_point3_map() -> DataMap:
    return load_data_map(MAP_PATH)


@dataclass(frozen=True)
class DemoPlatform:
    """A seeded demo database file and the map that describes it."""

    path: Path
    data_map: DataMap

    @classmethod
    def seed(cls, path: Path, data_map: DataMap) -> DemoPlatform:
        seed_platform(f"sqlite:///{path}", learners=LEARNERS, seed=SEED, now=REFERENCE_NOW)
        return cls(path, data_map)

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"

    def copy(self, path: Path) -> DemoPlatform:
        shutil.copyfile(self.path, path)
        return DemoPlatform(path, self.data_map)

    def execute(self, sql: str, **params: object) -> None:
        engine = create_engine(self.url)
        try:
            with engine.begin() as connection:
                connection.execute(text(sql), params)
        finally:
            engine.dispose()

    def collect(self, email: str, directory: Path) -> Collection:
        """Locate the person known by `email` and collect their rows into `directory`."""
        with Systems(self.data_map, {"POINT3_PLATFORM_URL": self.url}).opened() as systems:
            location = locate_subject(self.data_map, systems, "email", email)
            return collect_subject(self.data_map, systems, location, directory)


def report_request(email: str, language: str) -> ReportRequest:
    return ReportRequest(
        reference="DSR-2026-0042",
        received_at=RECEIVED_AT,
        completed_at=COMPLETED_AT,
        requester_email=email,
        language=language,
    )


def qpdf_check(pdf: bytes, directory: Path) -> None:
    """Fail unless `qpdf --check` finds the PDF sound."""
    path = directory / "checked.pdf"
    path.write_bytes(pdf)
    qpdf = shutil.which("qpdf")
    assert qpdf is not None, "qpdf is needed to check the PDFs (apt-get install qpdf)"
    result = subprocess.run(  # noqa: S603 (a fixed tool on a file we wrote)
        [qpdf, "--check", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
