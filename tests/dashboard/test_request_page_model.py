"""The request page renders a gathered model and nothing else: built by hand with every panel
filled, it renders without a single statement on the store or on the learner platform."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from dsr.addresses import normalize_email
from dsr.dashboard.forms import (
    ActionForm,
    DenyForm,
    HoldForm,
    LiftHoldForm,
    ReasonForm,
    RectificationForm,
    SendReportForm,
)
from dsr.dashboard.hold_panel import HoldLine, HoldsPanel
from dsr.dashboard.queue import Urgency
from dsr.dashboard.request_page import RequestPage, SubjectData, TimelineEntry
from dsr.dashboard.request_panels import ChangesPanel, DeliveryPanel, RectifiableField
from dsr.dashboard.request_views import render_request_page
from dsr.delivery.models import DeliveryMethod, DownloadLink, Report, ReportKind
from dsr.execution.change_records import ErasureSystemRun, SystemRunStatus
from dsr.languages import Language
from dsr.requests.models import DataRequest
from dsr.requests.workflow import RequestState, RequestType, Status
from inventory.erasure import ErasurePlan, PlannedStep
from inventory.model import ErasureAction, LocalText

RECEIVED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
EMAIL = "Zoe.Lefevre@Example.org"
PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def statements() -> Iterator[list[str]]:
    """Every SQL statement any engine of this process runs while the fixture is active."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    yield seen
    event.remove(Engine, "before_cursor_execute", record)


def _request(reference: str, status: Status) -> DataRequest:
    state = RequestState(status=status, received_at=RECEIVED, paused_since=None, zone=PARIS)
    return DataRequest(
        id=1,
        reference=reference,
        type=RequestType.ERASURE,
        requester_email=EMAIL,
        normalized_email=normalize_email(EMAIL),
        language=Language.EN,
        status=status,
        received_at=RECEIVED,
        verified_at=RECEIVED + timedelta(hours=1),
        due_at=state.due_at,
        time_zone=PARIS.key,
        version_id=3,
        message="Please erase my account.",
    )


def _page(data_request: DataRequest) -> RequestPage:
    version = {"version_id": str(data_request.version_id)}
    step = PlannedStep(
        system="learner_platform",
        table="invoice",
        category="billing",
        action=ErasureAction.RETAIN,
        row_count=2,
        new_values={},
        legal_reason=LocalText(fr="Code de commerce", en="Commercial Code"),
        until=LocalText(fr="dix ans", en="ten years"),
        order=1,
    )
    return RequestPage(
        data_request=data_request,
        due=data_request.due_at,
        days_left=4,
        urgency=Urgency.DUE_SOON,
        assignee="dpo@example.org",
        subject=SubjectData(counts={"billing": {"learner_platform.invoice": 2}}, checked=True),
        category_titles={"billing": "Billing"},
        delivery=DeliveryPanel(
            runnable=True,
            failure="the platform did not answer",
            reports=[
                Report(
                    request_id=1,
                    kind=ReportKind.PDF,
                    path="/nowhere/report.pdf",
                    size=2048,
                    sha256="0" * 64,
                    created_at=RECEIVED,
                    expires_at=RECEIVED + timedelta(days=30),
                    downloads_left=5,
                )
            ],
            link=DownloadLink(
                request_id=1,
                token_hash="1" * 64,
                method=DeliveryMethod.LINK,
                created_at=RECEIVED,
                expires_at=RECEIVED + timedelta(days=30),
            ),
            send_form=SendReportForm(),
            retry_form=ActionForm(data=version),
        ),
        changes=ChangesPanel(
            plan=ErasurePlan(steps=[step], blocked=[]),
            runs=[
                ErasureSystemRun(
                    request_id=1,
                    system="learner_platform",
                    status=SystemRunStatus.DONE,
                    rows_deleted=7,
                    updated_at=RECEIVED,
                )
            ],
            certificate=True,
            rectifiable=[
                RectifiableField("learner_platform", "learner.city", "contact", "City", "Lyon")
            ],
            rectification_open=True,
            can_act=True,
            reactivable=True,
            restriction_completed=True,
            rectification_form=RectificationForm.for_fields(
                {("learner_platform", "learner.city"): "Lyon"}
            ),
            reactivate_form=ReasonForm(),
            announce_lift_form=ReasonForm(),
        ),
        holds=HoldsPanel(
            holds=[
                HoldLine(
                    3,
                    ["Billing"],
                    "Claim before the commercial court",
                    date(2027, 6, 30),
                    "dpo@example.org",
                    RECEIVED,
                )
            ],
            form=HoldForm(categories=[("billing", "Billing")]),
            lift_forms={3: LiftHoldForm(data={"hold_id": "3"})},
            shown=True,
        ),
        can_act=True,
        forms={"deny": DenyForm(data=version)},
        timeline=[
            TimelineEntry(
                moment="02/03/2026 10:00",
                label="Request filed",
                actor="the requester",
                status_change=("Received", "Verified"),
                reason="By email",
            )
        ],
        earlier=[_request("DSR-2025-000007", Status.COMPLETED)],
    )


def test_the_page_renders_its_model_without_reading_any_database(
    app: Flask, statements: list[str]
) -> None:
    data_request = _request("DSR-2026-000001", Status.IN_REVIEW)
    page = _page(data_request)
    with app.test_request_context(f"/dashboard/requests/{data_request.reference}"):
        html = render_request_page(page)
    assert statements == []
    for shown in (
        "DSR-2026-000001",
        "Claim before the commercial court",
        f"/dashboard/requests/{data_request.reference}/holds/lift",
        "Billing",
        "learner_platform.invoice",
        "Code de commerce",  # the plan's legal reason, in the page's language (French)
        "the platform did not answer",
        f"/dashboard/requests/{data_request.reference}/reports/pdf",
        f"/dashboard/requests/{data_request.reference}/certificate",
        f'action="/dashboard/requests/{data_request.reference}/run"',
        f'action="/dashboard/requests/{data_request.reference}/rectification"',
        'name="value:learner_platform:learner.city"',
        f'action="/dashboard/requests/{data_request.reference}/reactivate"',
        f'action="/dashboard/requests/{data_request.reference}/restriction/announce"',
        f'action="/dashboard/requests/{data_request.reference}/deny"',
        "Request filed",
        "By email",
        "dpo@example.org",
        "/dashboard/requests/DSR-2025-000007",
    ):
        assert shown in html, shown


def test_a_paused_request_says_how_the_wait_moves_its_deadline(app: Flask) -> None:
    data_request = _request("DSR-2026-000002", Status.IN_REVIEW)
    data_request.status = Status.AWAITING_REQUESTER
    data_request.paused_since = RECEIVED + timedelta(days=1)
    with app.test_request_context(f"/dashboard/requests/{data_request.reference}"):
        html = render_request_page(_page(data_request))
    assert "chaque journée entière" in html  # the pages speak French by default
