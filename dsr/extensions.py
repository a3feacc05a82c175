"""The Flask extensions of the application, as module-level objects that `create_app` binds with
`init_app`, so that views can use them (e.g. `limiter.limit`) before an application exists."""

from __future__ import annotations

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect  # type: ignore[import-untyped]

csrf = CSRFProtect()
"""Every POST, PUT, PATCH and DELETE needs the session's CSRF token, unless its blueprint is
exempted (`csrf.exempt(blueprint)`, for the token-authenticated JSON API)."""

limiter = Limiter(get_remote_address)
"""Rate limits, counted per client address unless a limit names its own key. Kept where
RATELIMIT_STORAGE_URI says: in memory by default, where each process counts on its own (set a
shared storage such as redis:// for several processes; behind a proxy, use ProxyFix so that the
client's address is the one counted)."""
