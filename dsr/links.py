"""The absolute links the desk writes (emails, certificates, PDFs): always on the configured public
URL (DSR_PUBLIC_URL), never on the Host or X-Forwarded-Host of the request that caused them, which
anyone can forge to have a valid token mailed to an address of their choosing.

`public_url` needs an application context only, not a request: mail may be rendered by a
background thread; `public_url_for_settings` needs neither (a command).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import SplitResult, urlsplit

from flask import current_app, has_app_context
from werkzeug.routing import Map

DEVELOPMENT_PUBLIC_URL = "http://127.0.0.1:5000"
"""Where `dsr demo run` and `flask run` serve by default: the links of a development desk."""


class InvalidPublicUrl(ValueError):
    """DSR_PUBLIC_URL is not an absolute http(s) address; the message says what to set."""


def parse_public_url(value: str) -> SplitResult:
    """Return the parts of a public URL such as `https://privacy.example.org/desk`; raise
    InvalidPublicUrl unless it is http(s) with a host and no credentials, query or fragment."""
    text = value.strip()
    refusal = InvalidPublicUrl(
        "DSR_PUBLIC_URL must be the desk's address as people reach it, such as "
        f"https://privacy.example.org (optionally with a path), not {value!r}."
    )
    try:
        parts = urlsplit(text)
        _ = parts.port  # a port that is not a number raises here
    except ValueError:
        raise refusal from None
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
        or parts.query
        or parts.fragment
        or not text.isascii()
        or any(character.isspace() for character in text)
    ):
        raise refusal
    return parts


def configured_public_url(config: Mapping[str, Any]) -> str:
    """Return the public URL the settings name, without a trailing slash: the development
    default when unset, except in production, which has no default (InvalidPublicUrl)."""
    value = config.get("PUBLIC_URL")
    if not value:
        if str(config.get("ENV") or "").strip().lower() == "production":
            raise InvalidPublicUrl("DSR_PUBLIC_URL is not set: links cannot be built.")
        value = DEVELOPMENT_PUBLIC_URL
    return str(value).strip().rstrip("/")


def public_host(config: Mapping[str, Any]) -> str:
    """Return the host name (without port) of the public URL: the Host requests must carry."""
    return parse_public_url(configured_public_url(config)).hostname or ""


def build_public_url(url_map: Map, config: Mapping[str, Any], endpoint: str, **values: Any) -> str:
    """Return the absolute URL of `endpoint` under the public URL of `config`."""
    parts = parse_public_url(configured_public_url(config))
    adapter = url_map.bind(parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme)
    return adapter.build(endpoint, values, force_external=True)


def public_url(endpoint: str, **values: Any) -> str:
    """Return the absolute URL of `endpoint` (e.g. "public.verify", token=...) on the desk's
    public URL, from the current application's routes."""
    return build_public_url(current_app.url_map, current_app.config, endpoint, **values)


def public_url_for_settings(settings: Mapping[str, Any], endpoint: str, **values: Any) -> str:
    """Return `public_url` for code given its settings rather than an application (a request run
    by a command): the current application's routes if there is one, else the desk's."""
    if has_app_context():
        url_map = current_app.url_map
    else:
        from dsr.app import desk_url_map  # the application imports this module

        url_map = desk_url_map()
    return build_public_url(url_map, settings, endpoint, **values)
