"""The Flask extensions of the application, as module-level objects that `create_app` binds with
`init_app`, so that views can use them (e.g. `limiter.limit`) before an application exists."""

from __future__ import annotations

from flask import current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_qualified_name, get_remote_address
from flask_wtf.csrf import CSRFProtect  # type: ignore[import-untyped]

csrf = CSRFProtect()
"""Every POST, PUT, PATCH and DELETE needs the session's CSRF token, unless its blueprint is
exempted (`csrf.exempt(blueprint)`, for the token-authenticated JSON API)."""

limiter = Limiter(get_remote_address)
"""Rate limits, counted per client address unless a limit names its own key. Kept where
RATELIMIT_STORAGE_URI says: in memory by default, where each process counts on its own (set a
shared storage such as redis:// for several processes; behind a proxy, use ProxyFix so that the
client's address is the one counted)."""

_UNCOUNTED_KEY = "dsr.limits.uncounted"


@limiter.request_filter
def uncounted_request() -> bool:
    """Tell Flask-Limiter that no limit counts this request: its endpoint's limits (the form's,
    `methods=["POST"]`) name other methods, and no blueprint, default or application limit
    applies. Flask-Limiter would otherwise resolve them all, twice a request, to skip them
    (on every GET of the public form, issue 17); the answer is kept per method and endpoint."""
    endpoint = request.endpoint
    if endpoint is None:
        return False
    answers: dict[tuple[str, str], bool] = current_app.extensions.setdefault(_UNCOUNTED_KEY, {})
    asked = (request.method, endpoint)
    answer = answers.get(asked)
    if answer is None:
        answer = answers[asked] = _no_limit_counts(request.method, endpoint)
    return answer


def _no_limit_counts(method: str, endpoint: str) -> bool:
    """Whether no limit applies to `method` on `endpoint`. Asked of Flask-Limiter's limit
    manager, which is not its documented interface: if a release answers otherwise (a name
    gone, another shape), every request is counted as before, never let through uncounted."""
    try:
        manager = limiter.limit_manager
        view = current_app.view_functions.get(endpoint)
        if view is None or manager.application_limits or manager.default_limits:
            return False
        if manager.has_hints(endpoint):
            return False
        limits = [
            *manager.decorated_limits(get_qualified_name(view)),
            *(
                limit
                for blueprint in request.blueprints
                for limit in manager.blueprint_limits(current_app, blueprint)
            ),
        ]
        return all(
            bool(limit.methods) and method.lower() not in (limit.methods or ()) for limit in limits
        )
    except (AttributeError, TypeError):
        return False
