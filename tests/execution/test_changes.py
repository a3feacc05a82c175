"""Targeted changes on the seeded demo platform, with the store on SQLite and PostgreSQL:
deactivation and its reversal, objection honoured as soon as the address is verified (by link or
through the API) before any review, restriction and its lifting after the person was told, and
rectification with the old values in the audit. Only the subject's rows change."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from dsr import db
from dsr.api.models import ApiToken
from dsr.audit.models import RequestEvent
from dsr.datamap import desk_map
from dsr.demo.seed import SAMPLE_LEARNER_EMAIL
from dsr.execution import changes
from dsr.execution.runner import run_request
from dsr.execution.targets import ChangeRefused
from dsr.outbox.models import OutboxMessage
from dsr.outbox.service import deliver_due
from dsr.outbox.smtp import SmtpSettings
from dsr.requests import staff_actions
from dsr.requests.links import LinkSigner
from dsr.requests.models import DataRequest, Task
from dsr.requests.service import submit_request, verify_request
from dsr.requests.workflow import Action, RequestType, Status, WorkflowError
from dsr.suppression.service import is_suppressed
from tests.dashboard.conftest import NOW
from tests.execution.conftest import DATA_MAP, PLATFORM_VARIABLE, run_settings
from tests.execution.platform_copy import changed_outside, copy_platform, snapshot, subject_keys
from tests.factories import make_request
from tests.smtp_server import SmtpServer

pytestmark = pytest.mark.databases("sqlite", "postgresql")

SECRET = "a secret for the change tests only"
STAFF = "dpo@point3.example"


@pytest.fixture
def platform(platform_url: str, tmp_path: Path) -> str:
    return copy_platform(platform_url, tmp_path)


def settings_for(tmp_path: Path, platform: str, **more: Any) -> dict[str, Any]:
    return run_settings(tmp_path / "reports", platform, SECRET_KEY=SECRET, **more)


def approved(store: Engine, request_type: RequestType, **fields: Any) -> int:
    with db.transaction(store) as session:
        request = make_request(
            session,
            status=Status.APPROVED,
            email=SAMPLE_LEARNER_EMAIL,
            request_type=request_type,
            **fields,
        )
        assert request.id is not None
        return request.id


def learner(platform: str, email: str = SAMPLE_LEARNER_EMAIL) -> dict[str, Any]:
    engine = create_engine(platform)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT * FROM learner WHERE lower(email) = :email"), {"email": email}
            ).one()
            return dict(row._mapping)
    finally:
        engine.dispose()


def marketing(platform: str) -> list[tuple[Any, Any]]:
    engine = create_engine(platform)
    try:
        with engine.connect() as conn:
            return [
                (row.opted_in, row.unsubscribed_at)
                for row in conn.execute(
                    text(
                        "SELECT opted_in, unsubscribed_at FROM marketing_subscription "
                        "WHERE lower(email) = :email"
                    ),
                    {"email": SAMPLE_LEARNER_EMAIL},
                )
            ]
    finally:
        engine.dispose()


def actions(store: Engine, request_id: int) -> list[RequestEvent]:
    with db.open_session(store) as session:
        return list(
            session.exec(
                select(RequestEvent)
                .where(RequestEvent.request_id == request_id)
                .order_by(col(RequestEvent.sequence))
            ).all()
        )


def mails(store: Engine, request_id: int) -> list[OutboxMessage]:
    with db.open_session(store) as session:
        return list(
            session.exec(
                select(OutboxMessage)
                .where(OutboxMessage.request_id == request_id)
                .order_by(col(OutboxMessage.id))
            ).all()
        )


def reload(store: Engine, request_id: int) -> DataRequest:
    with db.open_session(store) as session:
        found = session.get(DataRequest, request_id)
        assert found is not None
        return found


# --- deactivation ---------------------------------------------------------------------------------


def test_deactivation_and_its_reversal(store: Engine, platform: str, tmp_path: Path) -> None:
    before, mine = snapshot(platform), subject_keys(platform)
    assert learner(platform)["login_enabled"]
    request_id = approved(store, RequestType.DEACTIVATION)
    settings = settings_for(tmp_path, platform)

    assert run_request(engine=store, request_id=request_id, settings=settings, now=NOW) is (
        Status.READY_TO_SEND
    )

    row = learner(platform)
    assert not row["login_enabled"] and row["deactivated_at"] is not None
    assert changed_outside(before, snapshot(platform), {"learner": mine["learner"]}) == []
    assert [m.subject for m in mails(store, request_id)] == [
        f"Your request {reload(store, request_id).reference} is done"
    ]
    assert "Login to the account is disabled" in mails(store, request_id)[0].text_body

    with db.transaction(store) as session:
        request = session.get(DataRequest, request_id)
        assert request is not None
        with pytest.raises(ChangeRefused, match="how the person asked"):
            changes.reactivate(
                db_session=session,
                request=request,
                settings=settings,
                staff_label=STAFF,
                reason=" ",
                now=NOW,
            )
        outcome = changes.reactivate(
            db_session=session,
            request=request,
            settings=settings,
            staff_label=STAFF,
            reason="Asked by phone on 8 March",
            now=NOW,
        )
    assert outcome.rows == {"learner_platform.learner": 1}
    row = learner(platform)
    assert row["login_enabled"] and row["deactivated_at"] is None
    [reactivated] = [
        e for e in actions(store, request_id) if e.action == changes.REACTIVATED_ACTION
    ]
    assert reactivated.actor_label == STAFF and reactivated.details["rows"] == 1
    assert len(mails(store, request_id)) == 2


def test_only_a_carried_out_deactivation_can_be_reversed(
    store: Engine, platform: str, tmp_path: Path
) -> None:
    request_id = approved(store, RequestType.DEACTIVATION)
    with db.transaction(store) as session:
        request = session.get(DataRequest, request_id)
        assert request is not None
        with pytest.raises(ChangeRefused, match="carried out request"):
            changes.reactivate(
                db_session=session,
                request=request,
                settings=settings_for(tmp_path, platform),
                staff_label=STAFF,
                reason="asked",
                now=NOW,
            )


# --- objection ------------------------------------------------------------------------------------


@pytest.fixture
def app_config(migrated_url: str, platform: str, tmp_path: Path) -> dict[str, Any]:
    """On this run's engine and its platform; emails stay in the outbox, approval runs nothing."""
    return {
        "DATABASE_URL": migrated_url,
        "SECRET_KEY": SECRET,
        "DELIVER_AFTER_COMMIT": False,
        "DATA_MAP": str(DATA_MAP),
        "SYSTEM_ENVIRONMENT": {PLATFORM_VARIABLE: platform},
        "REPORTS_DIR": str(tmp_path / "reports"),
        "EXECUTE_AFTER_APPROVAL": False,
    }


LINKS = LinkSigner(
    SECRET,
    verify_url=lambda token: f"https://desk.example/verify/{token}",
    status_url=lambda token: f"https://desk.example/status/{token}",
)


def test_an_objection_is_honoured_as_soon_as_the_address_is_verified(
    app: Flask, platform: str
) -> None:
    before, mine = snapshot(platform), subject_keys(platform)
    assert any(opted_in for opted_in, _ in marketing(platform))
    store = db.get_engine(app)
    with app.app_context(), db.transaction(store) as session:
        filed = submit_request(
            db_session=session,
            email=" Zoe.Lefevre@Example.org",
            request_type=RequestType.OBJECTION,
            language="en",
            message=None,
            rectification=None,
            now=NOW,
            zone=ZoneInfo("Europe/Paris"),
            links=LINKS,
        ).request
        request_id, nonce = filed.id, filed.verification_nonce
        assert request_id is not None and nonce is not None
    assert all(opted_in for opted_in, _ in marketing(platform) if opted_in)  # not before

    token = LINKS.verification_token(request_id=request_id, nonce=nonce, now=NOW)
    with app.app_context(), db.transaction(store) as session:
        verify_request(db_session=session, token=token, now=NOW, links=LINKS)

    assert marketing(platform) and all(
        not opted_in and unsubscribed is not None for opted_in, unsubscribed in marketing(platform)
    )
    assert (
        changed_outside(
            before, snapshot(platform), {"marketing_subscription": mine["marketing_subscription"]}
        )
        == []
    )
    # Applied without any staff review: no longer to review, and its answer is on its way.
    assert reload(store, request_id).status is Status.READY_TO_SEND
    with db.open_session(store) as session:
        assert is_suppressed(db_session=session, email=SAMPLE_LEARNER_EMAIL, key=SECRET.encode())
    assert [e.action for e in actions(store, request_id)][-2:] == [
        changes.APPLIED_ACTION,
        Action.APPLY_AT_ONCE.value,
    ]
    [answer] = [m for m in mails(store, request_id) if m.answers_request_id == request_id]
    assert "promotional emails are stopped" in answer.text_body


def test_an_objection_applied_on_verification_is_completed_and_cannot_be_refused(
    app: Flask, platform: str, smtp_server: SmtpServer
) -> None:
    store = db.get_engine(app)
    with app.app_context(), db.transaction(store) as session:
        filed = submit_request(
            db_session=session,
            email=SAMPLE_LEARNER_EMAIL,
            request_type=RequestType.OBJECTION,
            language="fr",
            message=None,
            rectification=None,
            now=NOW,
            zone=ZoneInfo("Europe/Paris"),
            links=LINKS,
        ).request
        request_id, nonce = filed.id, filed.verification_nonce
    assert request_id is not None and nonce is not None
    token = LINKS.verification_token(request_id=request_id, nonce=nonce, now=NOW)
    with app.app_context(), db.transaction(store) as session:
        verify_request(db_session=session, token=token, now=NOW, links=LINKS)

    with app.app_context(), db.transaction(store) as session:
        request = session.get(DataRequest, request_id)
        assert request is not None
        with pytest.raises(WorkflowError, match="ready to send cannot be denied"):
            staff_actions.deny(
                db_session=session,
                request=request,
                version_id=request.version_id,
                staff_label=STAFF,
                reason="Changed our mind.",
                now=NOW,
            )
    assert reload(store, request_id).status is Status.READY_TO_SEND

    delivered_at = NOW + timedelta(minutes=5)
    deliver_due(
        engine_or_session_factory=store,
        settings=SmtpSettings.from_config(app.config),
        now=delivered_at,
    )
    mails_received = smtp_server.wait_for(3)  # the verification, the status link, the answer
    assert any("traitée" in m.message["Subject"] for m in mails_received)
    request = reload(store, request_id)
    assert request.status is Status.COMPLETED
    assert request.answered_at is not None and request.answered_at >= delivered_at


def test_an_objection_filed_through_the_api_is_honoured_at_once(app: Flask, platform: str) -> None:
    store = db.get_engine(app)
    with db.transaction(store) as session:
        row, token = ApiToken.issue("learner-platform", now=NOW)
        session.add(row)
    response = app.test_client().post(
        "/api/v1/requests",
        json={
            "subject_request_type": "objection",
            "subject_identities": {"email": SAMPLE_LEARNER_EMAIL},
            "language": "fr",
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    assert all(not opted_in for opted_in, _ in marketing(platform))
    with db.open_session(store) as session:
        assert is_suppressed(db_session=session, email=SAMPLE_LEARNER_EMAIL, key=SECRET.encode())


def test_an_objection_waits_for_review_when_so_configured(app: Flask, platform: str) -> None:
    app.config["OBJECTION_IMMEDIATE"] = False
    store = db.get_engine(app)
    with app.app_context(), db.transaction(store) as session:
        filed = submit_request(
            db_session=session,
            email=SAMPLE_LEARNER_EMAIL,
            request_type=RequestType.OBJECTION,
            language="en",
            message=None,
            rectification=None,
            now=NOW,
            zone=ZoneInfo("Europe/Paris"),
            links=LINKS,
        ).request
        request_id, nonce = filed.id, filed.verification_nonce
    assert request_id is not None and nonce is not None
    token = LINKS.verification_token(request_id=request_id, nonce=nonce, now=NOW)
    with app.app_context(), db.transaction(store) as session:
        verify_request(db_session=session, token=token, now=NOW, links=LINKS)
    assert any(opted_in for opted_in, _ in marketing(platform))


# --- restriction ----------------------------------------------------------------------------------


def test_restriction_and_its_lifting_after_the_person_is_told(
    store: Engine, platform: str, tmp_path: Path
) -> None:
    request_id = approved(store, RequestType.RESTRICTION)
    settings = settings_for(tmp_path, platform)
    assert run_request(engine=store, request_id=request_id, settings=settings, now=NOW) is (
        Status.READY_TO_SEND
    )
    assert learner(platform)["restricted"]

    with db.transaction(store) as session:
        request = session.get(DataRequest, request_id)
        assert request is not None
        with pytest.raises(ChangeRefused, match="Tell the person first"):
            changes.lift_restriction(
                db_session=session, request=request, settings=settings, staff_label=STAFF, now=NOW
            )
        changes.announce_restriction_lift(
            db_session=session,
            request=request,
            settings=settings,
            staff_label=STAFF,
            reason="The accuracy of your data is now verified.",
            now=NOW,
        )
    assert learner(platform)["restricted"]  # told first, lifted after
    lift_mail = mails(store, request_id)[-1]
    assert "will be lifted" in lift_mail.subject
    assert "The accuracy of your data is now verified." in lift_mail.text_body
    assert lift_mail.to_address == SAMPLE_LEARNER_EMAIL

    with db.transaction(store) as session:
        request = session.get(DataRequest, request_id)
        assert request is not None
        changes.lift_restriction(
            db_session=session, request=request, settings=settings, staff_label=STAFF, now=NOW
        )
    assert not learner(platform)["restricted"]
    done = [e.action for e in actions(store, request_id)]
    assert done.index(changes.LIFT_ANNOUNCED_ACTION) < done.index(changes.LIFTED_ACTION)


# --- rectification --------------------------------------------------------------------------------


def test_rectification_writes_the_approved_values_and_audits_the_old_ones(
    store: Engine, platform: str, tmp_path: Path
) -> None:
    before, mine = snapshot(platform), subject_keys(platform)
    data_map = desk_map(settings_for(tmp_path, platform))
    with db.transaction(store) as session:
        request = make_request(
            session,
            status=Status.IN_REVIEW,
            email=SAMPLE_LEARNER_EMAIL,
            request_type=RequestType.RECTIFICATION,
            rectification_details="My name is Lefebvre, and I live in Lyon.",
        )
        with pytest.raises(ChangeRefused, match="cannot be corrected"):
            changes.save_rectification_values(
                db_session=session,
                request=request,
                data_map=data_map,
                values={("learner_platform", "learner.email"): "x@example.org"},
                staff_label=STAFF,
                now=NOW,
            )
        count = changes.save_rectification_values(
            db_session=session,
            request=request,
            data_map=data_map,
            values={
                ("learner_platform", "learner.last_name"): " Lefebvre ",
                ("learner_platform", "learner.city"): "Lyon",
                ("learner_platform", "learner.phone"): "",
            },
            staff_label=STAFF,
            now=NOW,
        )
        assert count == 2
        request.status = Status.APPROVED
        request_id = request.id
        assert request_id is not None
    old = learner(platform)

    assert (
        run_request(
            engine=store, request_id=request_id, settings=settings_for(tmp_path, platform), now=NOW
        )
        is Status.READY_TO_SEND
    )

    new = learner(platform)
    assert (new["last_name"], new["city"]) == ("Lefebvre", "Lyon")
    assert new["first_name"] == old["first_name"] and new["phone"] == old["phone"]
    assert changed_outside(before, snapshot(platform), {"learner": mine["learner"]}) == []
    [rectified] = [e for e in actions(store, request_id) if e.action == changes.RECTIFIED_ACTION]
    assert rectified.details["old_values"] == {
        "learner.city": [old["city"]],
        "learner.last_name": [old["last_name"]],
    }
    assert rectified.details["rows"] == 1
    with db.open_session(store) as session:
        tasks = session.exec(select(Task).where(Task.request_id == request_id)).all()
    # The CCI receives the learner's name with each exam registration sent: Zoé's was.
    assert {task.recipient for task in tasks} == {"email_provider", "hosting", "cci_paris_idf"}
    assert all("rectifiées" in (task.details or "") for task in tasks)


# --- the request page -----------------------------------------------------------------------------


@pytest.mark.databases("sqlite")
def test_staff_see_the_plan_enter_new_values_and_reactivate_from_the_page(
    app: Flask, platform: str
) -> None:
    from dsr.accounts.models import StaffRole
    from tests.dashboard.conftest import logged_in
    from tests.pages import csrf_token

    store = db.get_engine(app)
    with db.transaction(store) as session:
        erasure_request = make_request(
            session,
            status=Status.IN_REVIEW,
            email=SAMPLE_LEARNER_EMAIL,
            request_type=RequestType.ERASURE,
        )
        rectification = make_request(
            session,
            status=Status.IN_REVIEW,
            email=SAMPLE_LEARNER_EMAIL,
            request_type=RequestType.RECTIFICATION,
            rectification_details="Lefebvre, not Lefèvre",
        )
        deactivation = make_request(
            session,
            status=Status.APPROVED,
            email=SAMPLE_LEARNER_EMAIL,
            request_type=RequestType.DEACTIVATION,
        )
        references = (erasure_request.reference, rectification.reference, deactivation.reference)
        deactivation_id = deactivation.id
    assert deactivation_id is not None
    dpo = logged_in(app, "dpo@example.org", StaffRole.DPO)
    auditor = logged_in(app, "auditor@example.org", StaffRole.AUDITOR)

    plan_page = dpo.get(f"/dashboard/requests/{references[0]}").get_data(as_text=True)
    assert 'id="erasure-plan"' in plan_page and "invoice_line" in plan_page
    assert "L123-22" in plan_page and "espace réservé unique" in plan_page  # in French
    assert learner(platform)["email"] == SAMPLE_LEARNER_EMAIL  # showing the plan changes nothing

    page = dpo.get(f"/dashboard/requests/{references[1]}")
    assert 'name="value:learner_platform:learner.last_name"' in page.get_data(as_text=True)
    answer = dpo.post(
        f"/dashboard/requests/{references[1]}/rectification",
        data={
            "csrf_token": csrf_token(page),
            "value:learner_platform:learner.last_name": "Lefebvre",
        },
    )
    assert answer.status_code == 303
    with db.open_session(store) as session:
        assert changes.approved_values(session, rectification.id or 0) == {
            ("learner_platform", "learner.last_name"): "Lefebvre"
        }
    page = dpo.get(f"/dashboard/requests/{references[1]}")
    crafted = dpo.post(  # a field the map does not mark rectifiable: refused by name, not dropped
        f"/dashboard/requests/{references[1]}/rectification",
        data={
            "csrf_token": csrf_token(page),
            "value:learner_platform:learner.last_name": "Lefebvre-Martin",
            "value:learner_platform:learner.password_hash": "x",
        },
        follow_redirects=True,
    )
    assert "learner.password_hash cannot be corrected through the desk" in crafted.get_data(
        as_text=True
    )
    with db.open_session(store) as session:  # nothing of the refused save was kept
        assert changes.approved_values(session, rectification.id or 0) == {
            ("learner_platform", "learner.last_name"): "Lefebvre"
        }
    seen_by_auditor = auditor.get(f"/dashboard/requests/{references[1]}")
    assert '/rectification"' not in seen_by_auditor.get_data(as_text=True)
    refused = auditor.post(
        f"/dashboard/requests/{references[1]}/rectification",
        data={
            "csrf_token": csrf_token(seen_by_auditor),
            "value:learner_platform:learner.last_name": "X",
        },
    )
    assert refused.status_code == 403

    settings = {**app.config, "INSTANCE_PATH": app.instance_path}
    assert run_request(engine=store, request_id=deactivation_id, settings=settings, now=NOW) is (
        Status.READY_TO_SEND
    )
    assert not learner(platform)["login_enabled"]
    page = dpo.get(f"/dashboard/requests/{references[2]}")
    assert "/reactivate" in page.get_data(as_text=True)
    answer = dpo.post(
        f"/dashboard/requests/{references[2]}/reactivate",
        data={"csrf_token": csrf_token(page), "reason": "Asked by phone."},
    )
    assert answer.status_code == 303
    assert learner(platform)["login_enabled"]
