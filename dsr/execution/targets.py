"""What the erasure and the targeted changes share about the organisation's systems: the
subject's identity by email, the pseudonymisation secret, and the refusal they raise (the map and
the connections come from `dsr.datamap`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inventory.model import DataMap, IdentityKind


class ChangeRefused(Exception):
    """A change the desk will not make; `message` says why, for staff (no personal data)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def email_identity(data_map: DataMap) -> str:
    """Return the name of the map's email identity: requests are filed by email address."""
    for name, spec in data_map.identities.items():
        if spec.kind is IdentityKind.EMAIL:
            return name
    raise ChangeRefused("The data map declares no email identity: the subject cannot be found.")


def secret_key(settings: Mapping[str, Any]) -> bytes:
    """Return the secret of keyed-hash pseudonymisation: PSEUDONYMISATION_KEY, else SECRET_KEY."""
    key = settings.get("PSEUDONYMISATION_KEY") or settings.get("SECRET_KEY")
    if not key:
        raise ChangeRefused(
            "Set DSR_SECRET_KEY (or DSR_PSEUDONYMISATION_KEY): pseudonymisation needs a secret."
        )
    return key if isinstance(key, bytes) else str(key).encode()
