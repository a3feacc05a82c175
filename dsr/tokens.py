"""Secret tokens (status links, download links, API tokens, certificate links) are stored only as
a digest, so that a copy of the store gives no one a working link.
"""

from __future__ import annotations

import hashlib


def token_digest(token: str) -> str:
    """Return the SHA-256 hex digest under which a secret token is stored (never the token)."""
    return hashlib.sha256(token.encode()).hexdigest()
