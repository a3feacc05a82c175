"""An erasure under a legal hold (R50), with the store on SQLite and PostgreSQL: the plan (the
command and the dashboard) shows the held categories as kept with the claim and the last day; the
erasure keeps them and everything else goes; the certificate and its email list them as kept for
the claim until that day; the hold remembers the keys of the rows it kept; rows that held rows
refer to are kept with them instead of failing the request."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy.engine import Engine
from sqlmodel import select

from dsr import db
from dsr.datamap import desk_map
from dsr.demo.seed import SAMPLE_LEARNER_EMAIL
from dsr.execution.change_records import ErasureCertificate
from dsr.execution.cli_plan import request_plan_command
from dsr.execution.runner import failure_reason, run_request
from dsr.holds.models import LegalHold
from dsr.holds.service import place_hold
from dsr.outbox.models import OutboxMessage
from dsr.requests.models import DataRequest
from dsr.requests.workflow import RequestType, Status
from inventory.loader import load_data_map
from tests.dashboard.conftest import NOW
from tests.execution.conftest import DATA_MAP, PLATFORM_VARIABLE, run_settings
from tests.execution.platform_copy import copy_platform, snapshot, subject_keys
from tests.exports.conftest import pdf_text
from tests.factories import make_request

pytestmark = pytest.mark.databases("sqlite", "postgresql")

CLAIM = "Dispute over the exam fees, court of Paris 26/00412"
ENDS = NOW.date() + timedelta(days=400)


def held_request(
    store: Engine,
    categories: list[str],
    *,
    status: Status = Status.APPROVED,
    data_map: Path = DATA_MAP,
) -> DataRequest:
    with db.transaction(store) as session:
        request = make_request(
            session, status=status, email=SAMPLE_LEARNER_EMAIL, request_type=RequestType.ERASURE
        )
        place_hold(
            db_session=session,
            request=request,
            data_map=load_data_map(data_map),
            categories=categories,
            reason=CLAIM,
            ends_on=ENDS,
            staff_label="dpo@example.org",
            now=NOW,
        )
        return request


def test_the_plan_shows_held_categories_as_kept_for_the_claim(
    store: Engine, migrated_url: str, platform_url: str, tmp_path: Path
) -> None:
    platform = copy_platform(platform_url, tmp_path)
    request = held_request(store, ["exam_registration"], status=Status.IN_REVIEW)

    result = CliRunner().invoke(
        request_plan_command,
        [request.reference, "--database-url", migrated_url],
        env={PLATFORM_VARIABLE: platform, "DSR_STAFF_LANGUAGE": "en"},
        obj=None,
    )

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    [step] = [i for i, line in enumerate(lines) if "exam_registration (" in line]
    assert lines[step].endswith(", keep"), lines[step]
    assert "why: Kept for the establishment, exercise or defence of legal claims" in lines[step + 1]
    assert CLAIM in lines[step + 1]
    assert (
        lines[step + 2].strip()
        == f"until: Until {ENDS:%-d %B %Y} inclusive, the end of the hold for this claim"
    )
    assert any("course_comment (" in line and line.endswith("delete") for line in lines)


def test_an_erasure_keeps_the_held_categories_and_certifies_them_as_kept(
    store: Engine, platform_url: str, tmp_path: Path
) -> None:
    platform = copy_platform(platform_url, tmp_path)
    mine = subject_keys(platform)
    assert mine["exam_registration"] and mine["support_participant"]
    request = held_request(store, ["exam_registration", "support"])
    settings = run_settings(tmp_path / "reports", platform, SECRET_KEY="a secret for the tests")

    status = run_request(engine=store, request_id=request.id, settings=settings, now=NOW)  # type: ignore[arg-type]

    with db.open_session(store) as session:
        assert failure_reason(session, session.get(DataRequest, request.id)) is None  # type: ignore[arg-type]
        certificate = session.exec(
            select(ErasureCertificate).where(ErasureCertificate.request_id == request.id)
        ).one()
        [mail] = session.exec(
            select(OutboxMessage).where(OutboxMessage.request_id == request.id)
        ).all()
        [hold] = session.exec(select(LegalHold)).all()
    assert status is Status.READY_TO_SEND
    rows = snapshot(platform)  # the locator no longer finds them: the address is anonymised
    assert mine["exam_registration"] <= set(rows["exam_registration"])
    assert mine["support_participant"] <= set(rows["support_participant"])
    assert not mine["course_comment"] & set(rows["course_comment"])

    text = pdf_text(Path(certificate.path).read_bytes())
    flat = " ".join(text.split())
    assert "Exam registrations" in flat and CLAIM in flat
    assert f"{ENDS:%-d %B %Y}" in flat
    assert f"- Exam registrations: kept (until {ENDS:%-d %B %Y} at the latest" in mail.text_body
    assert "- Exam registrations: erased" not in mail.text_body

    kept = hold.kept["learner_platform"]
    assert {tuple(k) for k in kept["exam_registration"]} == mine["exam_registration"]
    assert kept["support_thread"] and kept["support_message"]


def test_rows_held_rows_refer_to_are_kept_with_them(
    store: Engine, platform_url: str, tmp_path: Path
) -> None:
    """Purchases refer to their invoice: with invoices deleted by the map, a hold on purchases
    keeps the invoices too (said as such) instead of failing the request."""
    platform = copy_platform(platform_url, tmp_path)
    raw = yaml.safe_load(DATA_MAP.read_text(encoding="utf-8"))
    raw["categories"]["invoices"]["erasure"] = {"action": "delete"}
    changed = tmp_path / "invoices_deleted.yaml"
    changed.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    mine = subject_keys(platform)
    assert mine["course_purchase"] and mine["invoice"]
    request = held_request(store, ["purchases"], data_map=changed)
    settings = run_settings(
        tmp_path / "reports", platform, SECRET_KEY="a secret", DATA_MAP=str(changed)
    )

    status = run_request(engine=store, request_id=request.id, settings=settings, now=NOW)  # type: ignore[arg-type]

    with db.open_session(store) as session:
        reason = failure_reason(session, session.get(DataRequest, request.id))  # type: ignore[arg-type]
        [mail] = session.exec(
            select(OutboxMessage).where(OutboxMessage.request_id == request.id)
        ).all()
        [hold] = session.exec(select(LegalHold)).all()
    assert status is Status.READY_TO_SEND, reason
    rows = snapshot(platform)
    assert mine["course_purchase"] <= set(rows["course_purchase"])
    assert mine["invoice"] <= set(rows["invoice"])
    assert not mine["exam_registration"] & set(rows["exam_registration"])
    assert "- Invoices: kept (until " in mail.text_body
    assert sorted(hold.kept["learner_platform"]) == sorted(
        t for t in ("course_purchase", "invoice", "invoice_line") if mine.get(t)
    )
    assert desk_map(settings).categories["invoices"].erasure.action.value == "delete"


@pytest.mark.databases("sqlite")
def test_a_category_in_the_same_records_as_a_held_one_is_said_kept_for_the_claim(
    store: Engine, migrated_url: str, platform_url: str, tmp_path: Path
) -> None:
    """Contact details and the account share the learner's row, which the engine keeps or
    changes whole: holding the contact details keeps the account too, and the plan says why."""
    platform = copy_platform(platform_url, tmp_path)
    request = held_request(store, ["contact"], status=Status.IN_REVIEW)

    result = CliRunner().invoke(
        request_plan_command,
        [request.reference, "--database-url", migrated_url],
        env={PLATFORM_VARIABLE: platform, "DSR_STAFF_LANGUAGE": "en"},
        obj=None,
    )

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()

    def why(title: str) -> str:
        [step] = [i for i, line in enumerate(lines) if f"learner ({title})" in line]
        assert lines[step].endswith(", keep"), lines[step]
        return next(line for line in lines[step:] if "why:" in line)

    assert CLAIM in why("Contact details") and "in the same records" not in why("Contact details")
    assert CLAIM in why("Account") and "in the same records" in why("Account")
