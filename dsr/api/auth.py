"""Bearer-token authentication of the API clients: `Authorization: Bearer dsr_...`.

Tokens are looked up by their SHA-256 digest (the store never holds a token) and the digests are
compared in constant time; a revoked or unknown token is refused with 401 and WWW-Authenticate.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

from flask import g, request
from flask_limiter.util import get_remote_address
from sqlmodel import select

from dsr.api.models import ApiToken
from dsr.api.problems import Problem
from dsr.db import get_session, utcnow
from dsr.tokens import token_digest

TOKEN_MAX = 200
"""Longer bearer tokens are refused before any work: ours are about 50 characters."""

LAST_USED_PRECISION = timedelta(minutes=1)
"""`last_used_at` is written at most once a minute per token, so that a busy client's calls do
not all queue for the same row's lock."""

_CLIENT_KEY = "api_client"


def presented_token() -> str | None:
    """Return the bearer token of the current request, or None when there is none."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    token = token.strip()
    return token or None


def unauthorized(detail: str) -> Problem:
    """Return the 401 problem that tells the client to send a valid bearer token."""
    return Problem(
        401,
        detail,
        headers={"WWW-Authenticate": 'Bearer realm="dsr-api"'},
    )


def authenticate() -> ApiToken:
    """Return the client of the current request's token (and remember it in `g`); raise the 401
    Problem when the token is missing, unknown or revoked."""
    token = presented_token()
    if token is None:
        raise unauthorized("Send your API token in the header `Authorization: Bearer dsr_...`.")
    invalid = unauthorized("This API token is not valid: it is unknown or was revoked.")
    if len(token) > TOKEN_MAX or not token.isascii():
        raise invalid
    digest = token_digest(token)
    client = get_session().exec(select(ApiToken).where(ApiToken.token_hash == digest)).one_or_none()
    if client is None or not hmac.compare_digest(client.token_hash, digest):
        raise invalid
    if not client.is_active:
        raise invalid
    now = utcnow()
    if client.last_used_at is None or now - client.last_used_at >= LAST_USED_PRECISION:
        client.last_used_at = now
    g.setdefault(_CLIENT_KEY, client)
    return client


def current_client() -> ApiToken:
    """Return the client authenticated for the current request, authenticating it if needed."""
    client = g.get(_CLIENT_KEY)
    return client if isinstance(client, ApiToken) else authenticate()


def rate_limit_key() -> str:
    """Count the API's calls per token (by digest: no token in the counters), or per address for
    calls without one."""
    token = presented_token()
    if token is None or len(token) > TOKEN_MAX:
        return f"address:{get_remote_address()}"
    return "token:" + hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()
