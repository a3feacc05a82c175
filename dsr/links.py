"""Absolute links the desk writes (emails, PDFs, callbacks), built from its configured public URL
(DSR_PUBLIC_URL), never from the Host or X-Forwarded-Host of the request being served."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import current_app

DEFAULT_PUBLIC_URL = "http://127.0.0.1:5000"


def public_url(endpoint: str, **values: Any) -> str:
    """Return the absolute URL of `endpoint` on the desk's public URL; needs an app context only."""
    base = urlsplit(str(current_app.config.get("PUBLIC_URL") or DEFAULT_PUBLIC_URL))
    adapter = current_app.url_map.bind(
        base.netloc, script_name=base.path or "/", url_scheme=base.scheme or "https"
    )
    return adapter.build(endpoint, values, force_external=True)
