"""Placing and lifting a legal hold on a request's page (Art. 17(3)(e), R50): categories of the
map, the claim and the last day; audited without personal data; bad input shows the form again
with its errors (400) and stores nothing; auditors cannot place one."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import col, func, select

from dsr import db
from dsr.accounts.models import StaffRole
from dsr.audit.models import RequestEvent
from dsr.demo.seed import SAMPLE_LEARNER_EMAIL
from dsr.holds.models import LegalHold
from dsr.holds.service import LIFTED_ACTION, PLACED_ACTION
from dsr.requests.models import DataRequest
from dsr.requests.workflow import RequestType, Status
from tests.conftest import MakeApp
from tests.dashboard.conftest import logged_in
from tests.factories import make_request
from tests.pages import csrf_token

CLAIM = "Unpaid invoices: claim before the commercial court, case 2026/118"


def new_request(app: Flask, **fields: object) -> DataRequest:
    with db.transaction(db.get_engine(app)) as session:
        fields.setdefault("received_at", datetime.now(UTC) - timedelta(days=3))
        fields.setdefault("request_type", RequestType.ERASURE)
        return make_request(session, **fields)  # type: ignore[arg-type]


def in_a_year() -> str:
    return (date.today() + timedelta(days=365)).isoformat()


def post(
    client: FlaskClient, reference: str, path: str, data: dict[str, object]
) -> tuple[int, str]:
    page = client.get(f"/dashboard/requests/{reference}")
    answer = client.post(
        f"/dashboard/requests/{reference}/{path}",
        data={"csrf_token": csrf_token(page), **data},
    )
    if answer.status_code == 303:
        return 303, client.get(answer.headers["Location"]).get_data(as_text=True)
    return answer.status_code, answer.get_data(as_text=True)


def holds(app: Flask) -> list[LegalHold]:
    with db.open_session(db.get_engine(app)) as session:
        return list(session.exec(select(LegalHold).order_by(col(LegalHold.id))).all())


def events(app: Flask, action: str) -> list[RequestEvent]:
    with db.open_session(db.get_engine(app)) as session:
        return list(session.exec(select(RequestEvent).where(RequestEvent.action == action)).all())


def test_staff_hold_categories_for_a_claim_until_a_date(app: Flask) -> None:
    dpo = logged_in(app, "dpo@example.org")
    request = new_request(app, status=Status.IN_REVIEW)

    code, html = post(
        dpo,
        request.reference,
        "holds",
        {"categories": ["exam_registration", "support"], "reason": CLAIM, "ends_on": in_a_year()},
    )

    assert code == 303
    assert "Legal holds" in html or "Conservations pour litige" in html
    assert CLAIM in html
    [hold] = holds(app)
    assert hold.category_ids == ["exam_registration", "support"]
    assert hold.reason == CLAIM and hold.ends_on.isoformat() == in_a_year()
    assert hold.placed_by == "dpo@example.org"
    assert hold.email == request.requester_email  # what finds the person while it lasts
    [placed] = events(app, PLACED_ACTION)
    assert placed.request_id == request.id and placed.actor_label == "dpo@example.org"
    assert placed.details == {
        "hold": hold.id,
        "categories": ["exam_registration", "support"],
        "ends_on": in_a_year(),
    }
    assert "@" not in json.dumps(placed.details)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"reason": CLAIM, "ends_on": in_a_year()}, "Choose at least one category"),
        ({"categories": ["nope"], "reason": CLAIM, "ends_on": in_a_year()}, "valid choice"),
        ({"categories": ["support"], "reason": "  ", "ends_on": in_a_year()}, "legal claim"),
        ({"categories": ["support"], "reason": CLAIM}, "last day of the hold"),
        ({"categories": ["support"], "reason": CLAIM, "ends_on": "31/12/2027"}, "date"),
        (
            {"categories": ["support"], "reason": CLAIM, "ends_on": date.today().isoformat()},
            "after today",
        ),
        (
            {
                "categories": ["support"],
                "reason": CLAIM,
                "ends_on": (date.today() + timedelta(days=11 * 366)).isoformat(),
            },
            "at most 10 years",
        ),
        (
            {"categories": ["support"], "reason": "x" * 2001, "ends_on": in_a_year()},
            "under 2000 characters",
        ),
    ],
)
def test_a_bad_hold_shows_the_form_again_and_stores_nothing(
    app: Flask, data: dict[str, object], error: str
) -> None:
    dpo = logged_in(app, "dpo@example.org")
    dpo.get("/lang/en")
    request = new_request(app, status=Status.IN_REVIEW)

    code, html = post(dpo, request.reference, "holds", data)

    assert code == 400
    assert error in html
    assert holds(app) == [] and events(app, PLACED_ACTION) == []


def test_a_category_held_twice_is_refused_and_a_hold_is_lifted_with_a_reason(app: Flask) -> None:
    dpo = logged_in(app, "dpo@example.org")
    dpo.get("/lang/en")
    request = new_request(app, status=Status.APPROVED)
    fields = {"categories": ["support"], "reason": CLAIM, "ends_on": in_a_year()}
    assert post(dpo, request.reference, "holds", fields)[0] == 303
    [hold] = holds(app)

    code, html = post(dpo, request.reference, "holds", fields)
    assert code == 400 and "Already held: support" in html
    code, html = post(dpo, request.reference, "holds/lift", {"hold_id": hold.id, "reason": ""})
    assert code == 400 and "lifted before its date" in html
    code, html = post(dpo, request.reference, "holds/lift", {"hold_id": 999, "reason": "Settled"})
    assert code == 400 and "not in force" in html
    assert holds(app)[0].lifted_at is None

    code, html = post(
        dpo, request.reference, "holds/lift", {"hold_id": hold.id, "reason": "Settled"}
    )

    assert code == 303 and "The hold is lifted" in html
    assert "Legal hold placed" in html and "Legal hold lifted early" in html  # the history
    [lifted] = holds(app)
    assert lifted.lifted_at is not None and lifted.lift_reason == "Settled"
    assert lifted.lifted_by == "dpo@example.org"
    assert CLAIM not in html.split("History")[0]  # no longer shown as in force
    [event] = events(app, LIFTED_ACTION)
    assert event.reason == "Settled" and event.details == {
        "hold": hold.id,
        "categories": ["support"],
    }


def test_an_erased_request_an_auditor_and_a_post_without_csrf_cannot_hold(app: Flask) -> None:
    dpo = logged_in(app, "dpo@example.org")
    dpo.get("/lang/en")
    erased = new_request(app, status=Status.COMPLETED)
    fields = {"categories": ["support"], "reason": CLAIM, "ends_on": in_a_year()}
    html = dpo.get(f"/dashboard/requests/{erased.reference}").get_data(as_text=True)
    assert "Hold this data" not in html
    code, html = post(dpo, erased.reference, "holds", fields)
    assert code == 400 and "nothing left to hold" in html

    request = new_request(app, status=Status.IN_REVIEW)
    assert "Hold this data" in dpo.get(f"/dashboard/requests/{request.reference}").get_data(
        as_text=True
    )
    no_csrf = dpo.post(f"/dashboard/requests/{request.reference}/holds", data=fields)
    assert no_csrf.status_code == 400
    auditor = logged_in(app, "auditor@example.org", StaffRole.AUDITOR)
    page = auditor.get(f"/dashboard/requests/{request.reference}").get_data(as_text=True)
    assert "Hold this data" not in page
    assert post(auditor, request.reference, "holds", fields)[0] == 403
    with db.open_session(db.get_engine(app)) as session:
        assert session.exec(select(func.count()).select_from(LegalHold)).one() == 0


def test_the_plan_panel_shows_held_categories_as_kept(make_app: MakeApp, platform_url: str) -> None:
    app = make_app(POINT3_PLATFORM_URL=platform_url)
    dpo = logged_in(app, "dpo@example.org")
    dpo.get("/lang/en")
    request = new_request(app, status=Status.IN_REVIEW, email=SAMPLE_LEARNER_EMAIL)
    fields = {"categories": ["exam_registration"], "reason": CLAIM, "ends_on": in_a_year()}

    before = dpo.get(f"/dashboard/requests/{request.reference}").get_data(as_text=True)
    code, after = post(dpo, request.reference, "holds", fields)

    assert code == 303
    plan = after.split('id="erasure-plan"')[1].split("</table>")[0]
    [row] = [r for r in plan.split("<tr>") if "<td>exam_registration</td>" in r]
    assert "<td>Keep</td>" in row and CLAIM in row and "Until" in row
    old_plan = before.split('id="erasure-plan"')[1].split("</table>")[0]
    [old_row] = [r for r in old_plan.split("<tr>") if "<td>exam_registration</td>" in r]
    assert "<td>Delete</td>" in old_row


def test_staff_reading_french_get_the_hold_in_french(app: Flask) -> None:
    dpo = logged_in(app, "dpo@example.org")
    dpo.get("/lang/fr")
    request = new_request(app, status=Status.IN_REVIEW)
    page = dpo.get(f"/dashboard/requests/{request.reference}").get_data(as_text=True)
    assert "Conservations pour litige" in page and "Conserver ces données" in page
    fields = {"categories": ["support"], "reason": CLAIM, "ends_on": in_a_year()}
    assert "Conservation pour litige placée" in post(dpo, request.reference, "holds", fields)[1]

    code, html = post(
        dpo,
        request.reference,
        "holds",
        {"categories": ["support"], "reason": CLAIM, "ends_on": date.today().isoformat()},
    )

    assert code == 400
    assert "La conservation doit prendre fin à une date postérieure à aujourd&#39;hui." in html
