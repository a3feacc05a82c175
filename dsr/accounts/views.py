"""The staff's side of logging in: login with an optional second factor, logout, their own
password and second factor, password reset by email, accepting an invitation (the admin's page
of staff accounts is in admin_views.py, on the same blueprint).

Thin views over `dsr.accounts.service`: each POST validates its form, calls the service and
redirects (PRG), except a failed attempt, which shows the form again with one message that does
not tell whether the address has an account. URLs carry signed tokens only.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from limits.storage import Storage, storage_from_string
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as AnyResponse

from dsr.accounts import service, totp
from dsr.accounts.access import (
    current_staff,
    end_staff_session,
    for_any_staff,
    public_endpoint,
    start_staff_session,
)
from dsr.accounts.emails import StaffEmail, queue_staff_email
from dsr.accounts.forms import (
    ROLE_LABELS,
    ChangePasswordForm,
    ConfirmPasswordForm,
    EnrolmentForm,
    ForgotPasswordForm,
    LoginForm,
    SecondFactorForm,
    SetPasswordForm,
)
from dsr.accounts.models import StaffUser, new_session_token
from dsr.accounts.throttle import LoginThrottle, ThrottlePolicy
from dsr.db import get_engine, get_session, transaction, utcnow
from dsr.extensions import limiter
from dsr.i18n import current_language, gettext
from dsr.languages import Language
from dsr.links import public_url
from dsr.sealing import SecretBox
from dsr.worker.enqueue import deliver_after_commit, enqueue_sealed

blueprint = Blueprint("accounts", __name__, url_prefix="/staff")

HOME_ENDPOINTS = ("dashboard.queue", "accounts.home")
"""Where a login lands without `next`: the dashboard's queue when it exists."""

_PENDING_KEY = "staff.pending"
_THROTTLE_KEY = "dsr.login_throttle"


def _limit_per_address() -> str:
    return str(current_app.config["STAFF_LOGIN_LIMIT_PER_ADDRESS"])


_per_address = limiter.shared_limit(_limit_per_address, scope="staff-auth", methods=["POST"])
"""One budget per client address for every form that checks a password, a code or sends mail."""


# --- helpers ----------------------------------------------------------------------------------


def _form_data() -> MultiDict[str, str] | None:
    return request.form if request.method == "POST" else None


def _throttle() -> LoginThrottle:
    """The application's login throttle, on the rate limits' storage (made on first use)."""
    found = current_app.extensions.get(_THROTTLE_KEY)
    if isinstance(found, LoginThrottle):
        return found
    config = current_app.config
    policy = ThrottlePolicy(
        pair_failures=int(config["STAFF_LOGIN_MAX_FAILURES"]),
        address_failures=int(config["STAFF_LOGIN_MAX_FAILURES_PER_ADDRESS"]),
        first_delay=timedelta(seconds=float(config["STAFF_LOGIN_DELAY_SECONDS"])),
        longest_delay=timedelta(minutes=float(config["STAFF_LOGIN_LONGEST_DELAY_MINUTES"])),
    )
    storage = storage_from_string(str(config["RATELIMIT_STORAGE_URI"]))
    if not isinstance(storage, Storage):
        raise ValueError("DSR_RATELIMIT_STORAGE_URI must name a storage such as redis://…")
    throttle = LoginThrottle(
        storage,
        secret=str(config["SECRET_KEY"]),
        policy=policy,
        prefix=str(config.get("RATELIMIT_KEY_PREFIX") or ""),
    )
    return current_app.extensions.setdefault(_THROTTLE_KEY, throttle)  # type: ignore[no-any-return]


def _client_address() -> str:
    return request.remote_addr or ""


def _box() -> SecretBox:
    key = current_app.config.get("TOTP_ENCRYPTION_KEY") or current_app.config["SECRET_KEY"]
    return totp.secret_box(str(key))


def staff_links() -> service.StaffLinks:
    """Return the signer of the staff's invitation and password-reset links."""
    return service.StaffLinks(str(current_app.config["SECRET_KEY"]))


def _now() -> datetime:
    return utcnow()


def _private(response: AnyResponse) -> AnyResponse:
    """Keep pages with secrets or reached through a secret link out of caches and Referers."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def private_page(template: str, code: int = 200, **context: Any) -> AnyResponse:
    """Render a staff page kept out of caches and Referers."""
    return _private(Response(render_template(template, **context), status=code))


def safe_next(target: str | None) -> str | None:
    """Return `target` when it is a path on this site (never another site), else None."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    if any(ord(character) < 32 or character == "\\" for character in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def home_url() -> str:
    """Return the page a staff member starts from."""
    for endpoint in HOME_ENDPOINTS:
        if endpoint in current_app.view_functions:
            return url_for(endpoint)
    return url_for("accounts.home")


def signed_in_staff() -> StaffUser:
    """Return the staff member of this request (staff pages only)."""
    user = current_staff()
    if user is None:  # the guard lets no anonymous visitor reach staff pages
        abort(403)
    return user


def _login_failed() -> str:
    return gettext(
        "The email address or the password is not right, or too many attempts failed from this "
        "connection: try again in a while, or reset your password."
    )


# --- logging in and out -----------------------------------------------------------------------


@blueprint.route("/login", methods=["GET", "POST"])
@public_endpoint
@_per_address
def login() -> AnyResponse:
    """Check the password; then ask for the second factor, or open the session."""
    next_target = safe_next(request.values.get("next"))
    if request.method == "GET" and current_staff() is not None:
        return redirect(next_target or home_url())
    form = LoginForm(_form_data())
    if request.method == "GET":
        return private_page("accounts/login.html", form=form, next_target=next_target)
    if not form.validate():
        return private_page("accounts/login.html", 400, form=form, next_target=next_target)
    now = _now()
    email, address = form.email.data or "", _client_address()
    throttle = _throttle()
    user = None
    if not throttle.refused(account=email, address=address, now=now):
        user = service.check_password(
            db_session=get_session(), email=email, password=form.password.data or ""
        )
        if user is None:
            throttle.record_failure(account=email, address=address, now=now)
    if user is None:
        form.form_errors.append(_login_failed())
        form.password.data = ""
        # 200: the failure is counted, and the request boundary commits only below 400.
        return private_page("accounts/login.html", form=form, next_target=next_target)
    if user.totp_enabled:
        session.pop(_PENDING_KEY, None)
        session[_PENDING_KEY] = {
            "staff": user.id,
            "token": user.session_token,
            "at": now.timestamp(),
            "next": next_target,
        }
        return redirect(url_for("accounts.login_code"))
    return _open_session(user, now, next_target)


def _open_session(user: StaffUser, now: datetime, next_target: str | None) -> AnyResponse:
    _throttle().record_success(account=user.email, address=_client_address())
    service.record_login(user, now=now)
    start_staff_session(user, now=now)
    if current_app.config["TOTP_REQUIRED"] and not user.totp_enabled:
        flash(gettext("Set up your second factor to continue."))
        return redirect(url_for("accounts.totp"))
    return redirect(next_target or home_url())


def _pending_user(now: datetime) -> tuple[StaffUser, str | None] | None:
    """Return the account whose password was just checked and the page to go to, if still
    within the minutes allowed to type the code."""
    pending = session.get(_PENDING_KEY)
    if not isinstance(pending, dict):
        return None
    started = pending.get("at")
    allowed = timedelta(minutes=float(current_app.config["STAFF_SECOND_FACTOR_MINUTES"]))
    if not isinstance(started, int | float) or now.timestamp() - started > allowed.total_seconds():
        return None
    staff_id = pending.get("staff")
    user = get_session().get(StaffUser, staff_id) if isinstance(staff_id, int) else None
    if user is None or not user.is_active or user.session_token != pending.get("token"):
        return None
    next_target = pending.get("next")
    return user, safe_next(next_target if isinstance(next_target, str) else None)


@blueprint.route("/login/code", methods=["GET", "POST"])
@public_endpoint
@_per_address
def login_code() -> AnyResponse:
    """Ask for the TOTP code (or a recovery code) of the account whose password was checked."""
    now = _now()
    pending = _pending_user(now)
    if pending is None:
        session.pop(_PENDING_KEY, None)
        flash(gettext("Please log in again."), "error")
        return redirect(url_for("accounts.login"))
    user, next_target = pending
    form = SecondFactorForm(_form_data())
    if request.method == "GET":
        return private_page("accounts/login_code.html", form=form)
    if not form.validate():
        return private_page("accounts/login_code.html", 400, form=form)
    throttle, address = _throttle(), _client_address()
    refused = throttle.refused(account=user.email, address=address, now=now)
    if refused or not service.check_second_factor(
        db_session=get_session(), user=user, code=form.code.data or "", now=now, box=_box()
    ):
        if not refused:
            throttle.record_failure(account=user.email, address=address, now=now)
        if throttle.refused(account=user.email, address=address, now=now):
            session.pop(_PENDING_KEY, None)
            flash(_login_failed(), "error")
            return redirect(url_for("accounts.login"))
        form.code.errors = [gettext("This code is not right. Try the code shown now.")]
        return private_page("accounts/login_code.html", form=form)
    return _open_session(user, now, next_target)


@blueprint.post("/logout")
@for_any_staff
def logout() -> AnyResponse:
    """End this session and every other session of the account."""
    user = signed_in_staff()
    user.session_token = new_session_token()
    end_staff_session()
    flash(gettext("You are logged out."))
    return redirect(url_for("accounts.login"))


# --- the staff member's own account -----------------------------------------------------------


@blueprint.get("/")
def home() -> AnyResponse:
    """Show the account: role, second factor, and the links to change them."""
    user = signed_in_staff()
    remaining = service.unused_recovery_codes(db_session=get_session(), user=user)
    return private_page(
        "accounts/home.html",
        user=user,
        role_label=ROLE_LABELS[user.role],
        remaining_codes=remaining,
    )


@blueprint.route("/account/password", methods=["GET", "POST"])
@for_any_staff
def change_password() -> AnyResponse:
    """Change one's password: other sessions end, this one goes on."""
    user = signed_in_staff()
    form = ChangePasswordForm(_form_data())
    if request.method == "GET":
        return private_page("accounts/change_password.html", form=form)
    if not form.validate():
        return private_page("accounts/change_password.html", 400, form=form)
    if not service.password_matches(user, form.current_password.data or ""):
        form.current_password.errors = [gettext("This is not your current password.")]
        return private_page("accounts/change_password.html", 400, form=form)
    now = _now()
    service.set_password(user, form.password.data or "", now=now)
    start_staff_session(user, now=now)
    flash(gettext("Your password is changed."))
    return redirect(url_for("accounts.home"))


@blueprint.route("/account/totp", methods=["GET", "POST"], endpoint="totp")
@for_any_staff
def totp_enrolment() -> AnyResponse:
    """Set up the second factor: scan the QR code, type the code, get the recovery codes once."""
    user = signed_in_staff()
    db_session = get_session()
    if user.totp_enabled:
        remaining = service.unused_recovery_codes(db_session=db_session, user=user)
        return private_page(
            "accounts/totp_enabled.html", remaining_codes=remaining, form=ConfirmPasswordForm()
        )
    form = EnrolmentForm(_form_data())
    secret = service.pending_totp_secret(user, box=_box())
    if request.method == "POST" and form.validate():
        codes = service.confirm_totp(
            db_session=db_session, user=user, code=form.code.data or "", now=_now(), box=_box()
        )
        if codes is not None:
            # Shown in the answer to the POST, never stored or sent again.
            return private_page("accounts/recovery_codes.html", codes=codes, first_time=True)
        form.code.errors = [gettext("This code is not right. Check the time of your phone.")]
    uri = totp.provisioning_uri(
        secret, account=user.email, issuer=str(current_app.config["TOTP_ISSUER"])
    )
    return private_page(
        "accounts/totp_enrolment.html",
        form=form,
        secret=secret,
        qr_code=totp.qr_svg(uri, title=gettext("QR code to scan with your authenticator app")),
    )


@blueprint.post("/account/recovery-codes")
@for_any_staff
def new_recovery_codes() -> AnyResponse:
    """Replace the recovery codes (after checking the password) and show the new ones once."""
    user = signed_in_staff()
    form = ConfirmPasswordForm(request.form)
    if not user.totp_enabled:
        return redirect(url_for("accounts.totp"))
    if not form.validate() or not service.password_matches(user, form.current_password.data or ""):
        flash(gettext("This is not your current password."), "error")
        return redirect(url_for("accounts.totp"))
    codes = service.replace_recovery_codes(db_session=get_session(), user=user)
    return private_page("accounts/recovery_codes.html", codes=codes, first_time=False)


# --- password reset by email ------------------------------------------------------------------


@blueprint.route("/password/forgot", methods=["GET", "POST"])
@public_endpoint
@_per_address
def forgot_password() -> AnyResponse:
    """Send a reset link to the address if it has an account; answer the same either way."""
    form = ForgotPasswordForm(_form_data())
    if request.method == "GET":
        return private_page("accounts/forgot_password.html", form=form)
    if not form.validate():
        return private_page("accounts/forgot_password.html", 400, form=form)
    email, language = form.email.data or "", current_language()
    enqueue_sealed("send_password_reset", email, language.value)
    return redirect(url_for("accounts.forgot_password_sent"))


def send_reset_link(email: str, language: Language) -> None:
    """Look the address up and queue its reset link (a worker's job, off the web request, so
    that the answer takes the same time whether or not the address has an account)."""
    with transaction(get_engine()) as db_session:
        user = service.find_staff(db_session=db_session, email=email)
        if user is None or not user.is_active:
            return
        minutes = int(current_app.config["PASSWORD_RESET_LINK_MAX_AGE_MINUTES"])
        token = staff_links().issue(user, service.LinkPurpose.PASSWORD_RESET)
        queue_staff_email(
            db_session=db_session,
            kind=StaffEmail.PASSWORD_RESET,
            to=user.email,
            language=language,
            now=_now(),
            link=public_url("accounts.reset_password", token=token),
            valid_minutes=minutes,
        )
        deliver_after_commit(db_session)


@blueprint.get("/password/sent")
@public_endpoint
def forgot_password_sent() -> AnyResponse:
    minutes = int(current_app.config["PASSWORD_RESET_LINK_MAX_AGE_MINUTES"])
    return private_page("accounts/forgot_password_sent.html", minutes=minutes)


def _resolve_link(token: str, purpose: str, max_age: timedelta) -> StaffUser:
    try:
        return staff_links().resolve(
            token, purpose=purpose, max_age=max_age, db_session=get_session()
        )
    except service.LinkUsed:
        abort(410, description=gettext("This link has already been used."))
    except service.LinkExpired:
        abort(410, description=gettext("This link has expired: ask for a new one."))
    except service.LinkInvalid:
        abort(400, description=gettext("This link is not valid: check that you copied it whole."))


def _set_password_page(
    token: str, purpose: str, max_age: timedelta, template: str, done: str
) -> AnyResponse:
    user = _resolve_link(token, purpose, max_age)
    form = SetPasswordForm(_form_data())
    if request.method == "GET":
        return private_page(template, form=form, token=token, user=user)
    if not form.validate():
        return private_page(template, 400, form=form, token=token, user=user)
    service.set_password(user, form.password.data or "", now=_now())
    end_staff_session()
    flash(done)
    return _private(redirect(url_for("accounts.login")))


@blueprint.route("/password/reset/<token>", methods=["GET", "POST"])
@public_endpoint
@_per_address
def reset_password(token: str) -> AnyResponse:
    """Choose a new password through the link sent by email (once, before it expires)."""
    minutes = int(current_app.config["PASSWORD_RESET_LINK_MAX_AGE_MINUTES"])
    return _set_password_page(
        token,
        service.LinkPurpose.PASSWORD_RESET,
        timedelta(minutes=minutes),
        "accounts/reset_password.html",
        gettext("Your new password is set: log in with it."),
    )


@blueprint.route("/invitation/<token>", methods=["GET", "POST"])
@public_endpoint
@_per_address
def accept_invitation(token: str) -> AnyResponse:
    """Accept an invitation by choosing a password (once, before the link expires)."""
    hours = int(current_app.config["INVITATION_LINK_MAX_AGE_HOURS"])
    return _set_password_page(
        token,
        service.LinkPurpose.INVITATION,
        timedelta(hours=hours),
        "accounts/accept_invitation.html",
        gettext("Welcome: your account is ready. Log in with your new password."),
    )
