"""The admin's page of staff accounts: the list, invitations, and closing, reopening or
resetting the second factor of another member's account. Routes of the `accounts` blueprint
(views.py), admins only."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, request, url_for
from werkzeug.wrappers import Response as AnyResponse

from dsr.accounts import service
from dsr.accounts.access import staff_required
from dsr.accounts.emails import StaffEmail, queue_staff_email, role_phrase
from dsr.accounts.forms import ROLE_LABELS, InvitationForm
from dsr.accounts.models import StaffRole, StaffUser
from dsr.accounts.views import blueprint, private_page, signed_in_staff, staff_links
from dsr.db import get_session, utcnow
from dsr.i18n import current_language, gettext
from dsr.languages import Language
from dsr.links import public_url
from dsr.worker.enqueue import deliver_after_commit


def _staff_page(form: InvitationForm, code: int = 200) -> AnyResponse:
    return private_page(
        "accounts/staff_list.html",
        code,
        staff=service.list_staff(db_session=get_session()),
        form=form,
        role_labels=ROLE_LABELS,
        me=signed_in_staff(),
        now=utcnow(),
    )


@blueprint.get("/accounts")
@staff_required(StaffRole.ADMIN)
def staff_list() -> AnyResponse:
    """List the staff accounts, with the form that invites a new one."""
    return _staff_page(InvitationForm(language=current_language().value))


@blueprint.post("/accounts/invite")
@staff_required(StaffRole.ADMIN)
def invite() -> AnyResponse:
    """Create the account without a password and email the invitee a link to choose one."""
    form = InvitationForm(request.form)
    if not form.validate():
        return _staff_page(form, 400)
    db_session = get_session()
    now = utcnow()
    role = StaffRole(form.role.data)
    language = Language(form.language.data)
    try:
        user = service.create_staff(
            db_session=db_session,
            email=form.email.data or "",
            name=form.name.data or "",
            role=role,
            now=now,
        )
    except service.StaffExists:
        form.email.errors = [gettext("A staff account with this email address exists already.")]
        return _staff_page(form, 400)
    token = staff_links().issue(user, service.LinkPurpose.INVITATION)
    queue_staff_email(
        db_session=db_session,
        kind=StaffEmail.INVITATION,
        to=user.email,
        language=language,
        now=now,
        name=user.name,
        inviter=signed_in_staff().shown_name,
        role_label=role_phrase(role, language),
        link=public_url("accounts.accept_invitation", token=token),
        valid_hours=int(current_app.config["INVITATION_LINK_MAX_AGE_HOURS"]),
    )
    deliver_after_commit(db_session)
    flash(gettext("The invitation is sent."))
    return redirect(url_for("accounts.staff_list"))


def _other_staff(staff_id: int) -> StaffUser:
    user = service.get_staff(db_session=get_session(), staff_id=staff_id)
    if user is None:
        abort(404)
    if user.id == signed_in_staff().id:
        abort(403, description=gettext("You cannot do this to your own account."))
    return user


@blueprint.post("/accounts/<int:staff_id>/deactivate")
@staff_required(StaffRole.ADMIN)
def deactivate(staff_id: int) -> AnyResponse:
    """Close an account: its sessions end and it can no longer log in."""
    service.set_active(_other_staff(staff_id), False)
    flash(gettext("The account is deactivated."))
    return redirect(url_for("accounts.staff_list"))


@blueprint.post("/accounts/<int:staff_id>/reactivate")
@staff_required(StaffRole.ADMIN)
def reactivate(staff_id: int) -> AnyResponse:
    service.set_active(_other_staff(staff_id), True)
    flash(gettext("The account is active again."))
    return redirect(url_for("accounts.staff_list"))


@blueprint.post("/accounts/<int:staff_id>/reset-second-factor")
@staff_required(StaffRole.ADMIN)
def reset_second_factor(staff_id: int) -> AnyResponse:
    """Turn off a lost second factor: the staff member sets up a new one."""
    service.reset_second_factor(db_session=get_session(), user=_other_staff(staff_id))
    flash(gettext("The second factor is turned off: it will be set up again."))
    return redirect(url_for("accounts.staff_list"))
