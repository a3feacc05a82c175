"""The admin's staff page and invitations, password reset by email, and roles."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from dsr import db
from dsr.accounts import service
from dsr.accounts.models import StaffUser
from dsr.links import DEVELOPMENT_PUBLIC_URL
from tests.accounts.helpers import (
    StaffClientFactory,
    csrf_token,
    login,
    make_staff,
    post_form,
)
from tests.smtp_server import SmtpServer

PUBLIC = re.escape(DEVELOPMENT_PUBLIC_URL)  # links start with it, whatever Host was asked
INVITATION_LINK = re.compile(PUBLIC + r"(/staff/invitation/[A-Za-z0-9._-]+)")
RESET_LINK = re.compile(PUBLIC + r"(/staff/password/reset/[A-Za-z0-9._-]+)")
NEW_PASSWORD = "another long passphrase"


def _link(text: str, pattern: re.Pattern[str]) -> str:
    found = pattern.search(text)
    assert found is not None, "no link in the email"
    return found.group(1)


@pytest.mark.parametrize("role", ["dpo", "auditor"])
def test_only_admins_see_and_invite_staff(staff_client: StaffClientFactory, role: str) -> None:
    client = staff_client(role)
    assert client.get("/staff/accounts").status_code == 403
    token = csrf_token(client.get("/staff/account/password"))
    invite = client.post(
        "/staff/accounts/invite",
        data={"csrf_token": token, "email": "new@example.org", "role": "admin", "language": "en"},
    )
    assert invite.status_code == 403


def test_an_auditor_changes_nothing_but_their_own_account(
    staff_client: StaffClientFactory, app: Flask
) -> None:
    target = make_staff(db.get_engine(app), role="dpo")
    auditor = staff_client("auditor")
    token = csrf_token(auditor.get("/staff/account/password"))
    refused = auditor.post(f"/staff/accounts/{target.id}/deactivate", data={"csrf_token": token})
    assert refused.status_code == 403
    assert auditor.post("/staff/logout", data={"csrf_token": token}).status_code == 302


def test_an_admin_invites_a_staff_member_who_chooses_a_password(
    staff_client: StaffClientFactory, app: Flask, smtp_server: SmtpServer
) -> None:
    admin = staff_client("admin", name="Alex Admin")
    page = admin.get("/staff/accounts")
    assert page.status_code == 200
    response = admin.post(
        "/staff/accounts/invite",
        data={
            "csrf_token": csrf_token(page),
            "email": "New.Person@Example.org",
            "name": "Nour",
            "role": "dpo",
            "language": "fr",
        },
    )
    assert response.status_code == 302
    mail = smtp_server.wait_for(1)[0]
    assert mail.envelope_recipients == ("new.person@example.org",)
    assert "Alex Admin vous invite" in mail.text
    assert "délégué ou déléguée à la protection des données" in mail.text
    link = _link(mail.text, INVITATION_LINK)
    assert "new.person" not in link

    again = admin.post(
        "/staff/accounts/invite",
        data={
            "csrf_token": csrf_token(page),
            "email": "new.person@example.org",
            "role": "dpo",
            "language": "en",
        },
    )
    assert again.status_code == 400

    invitee = app.test_client()
    assert login(invitee, "new.person@example.org", "").status_code == 400
    form = invitee.get(link)
    assert form.status_code == 200 and form.headers["Cache-Control"] == "no-store"
    mismatch = invitee.post(
        link,
        data={"csrf_token": csrf_token(form), "password": NEW_PASSWORD, "confirmation": "x"},
    )
    assert mismatch.status_code == 400
    accepted = invitee.post(
        link,
        data={
            "csrf_token": csrf_token(form),
            "password": NEW_PASSWORD,
            "confirmation": NEW_PASSWORD,
        },
    )
    assert accepted.status_code == 302 and accepted.headers["Location"] == "/staff/login"
    assert invitee.get(link).status_code == 410  # single use
    assert login(invitee, "new.person@example.org", NEW_PASSWORD).status_code == 302


def test_a_password_reset_link_is_sent_only_to_known_addresses(
    app: Flask, client: FlaskClient, smtp_server: SmtpServer
) -> None:
    user = make_staff(db.get_engine(app), role="dpo", email="dana@example.org")
    unknown = post_form(client, "/staff/password/forgot", {"email": "nobody@example.org"})
    known = post_form(client, "/staff/password/forgot", {"email": "Dana@example.org"})
    assert unknown.status_code == known.status_code == 302
    assert unknown.headers["Location"] == known.headers["Location"] == "/staff/password/sent"
    mail = smtp_server.wait_for(1)[0]
    assert mail.envelope_recipients == ("dana@example.org",)
    assert len(smtp_server.messages) == 1
    link = _link(mail.text, RESET_LINK)

    form = client.get(link)
    assert form.status_code == 200
    reset = client.post(
        link,
        data={
            "csrf_token": csrf_token(form),
            "password": NEW_PASSWORD,
            "confirmation": NEW_PASSWORD,
        },
    )
    assert reset.status_code == 302
    assert client.get(link).status_code == 410  # used: the password it was issued for changed
    assert login(app.test_client(), user.email).status_code == 200
    assert login(app.test_client(), user.email, NEW_PASSWORD).status_code == 302


def test_reset_links_expire_and_cannot_be_forged(app: Flask) -> None:
    user = make_staff(db.get_engine(app), role="dpo")
    links = service.StaffLinks("a secret for the tests only")
    with db.open_session(db.get_engine(app)) as session:
        stored = session.get(StaffUser, user.id)
        assert stored is not None
        token = links.issue(stored, service.LinkPurpose.PASSWORD_RESET)
        purpose = service.LinkPurpose.PASSWORD_RESET
        assert (
            links.resolve(token, purpose=purpose, max_age=timedelta(hours=1), db_session=session).id
            == user.id
        )
        with pytest.raises(service.LinkExpired):
            links.resolve(token, purpose=purpose, max_age=timedelta(seconds=-1), db_session=session)
        with pytest.raises(service.LinkInvalid):
            links.resolve(
                token,
                purpose=service.LinkPurpose.INVITATION,
                max_age=timedelta(hours=1),
                db_session=session,
            )
        forged = service.StaffLinks("another key").issue(stored, purpose)
        with pytest.raises(service.LinkInvalid):
            links.resolve(forged, purpose=purpose, max_age=timedelta(hours=1), db_session=session)
    assert app.test_client().get("/staff/password/reset/not-a-token").status_code == 400


def test_an_admin_deactivates_and_reactivates_an_account(
    staff_client: StaffClientFactory, app: Flask
) -> None:
    target = make_staff(db.get_engine(app), role="dpo", totp=True)
    admin = staff_client("admin")
    token = csrf_token(admin.get("/staff/accounts"))
    assert admin.post(f"/staff/accounts/{target.id}/deactivate", data={"csrf_token": token})
    assert login(app.test_client(), target.email).status_code == 200
    admin.post(f"/staff/accounts/{target.id}/reactivate", data={"csrf_token": token})
    admin.post(f"/staff/accounts/{target.id}/reset-second-factor", data={"csrf_token": token})
    assert login(app.test_client(), target.email).headers["Location"] != "/staff/login/code"
    me = admin.staff  # type: ignore[attr-defined]
    itself = admin.post(f"/staff/accounts/{me.id}/deactivate", data={"csrf_token": token})
    assert itself.status_code == 403
