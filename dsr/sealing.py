"""Secrets the desk keeps or hands on, encrypted with a key derived from one of its settings.

A `SecretBox` is Fernet (AES-128-CBC with HMAC-SHA256, from `cryptography`) under a key derived
from the setting's value and a purpose: the same setting gives each use its own key, so a value
sealed for one use does not open for another. Used for the TOTP secrets kept in the store, for
the addresses a worker's job carries through the queue and for the documents kept with a request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken


class SecretBox:
    """Seal and open short texts with a key derived from `key_material` for `purpose`."""

    def __init__(self, key_material: str, purpose: bytes) -> None:
        if not key_material:
            raise ValueError("the key of a secret box must not be empty")
        derived = hmac.new(key_material.encode(), purpose, hashlib.sha256)
        self._fernet = Fernet(base64.urlsafe_b64encode(derived.digest()))

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode("ascii")

    def seal_bytes(self, data: bytes) -> bytes:
        """Seal a file's bytes (a document kept with a request)."""
        return self._fernet.encrypt(data)

    def open_bytes(self, sealed: bytes) -> bytes | None:
        """Return the bytes sealed by `seal_bytes`, or None under another key or purpose."""
        try:
            return self._fernet.decrypt(sealed)
        except (InvalidToken, ValueError):
            return None

    def open(self, sealed: str) -> str | None:
        """Return the secret, or None when it was sealed with another key or purpose."""
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode()
        except (InvalidToken, ValueError):
            return None
