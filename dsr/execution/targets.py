"""The organisation's systems as an executor sees them: the data map and its connections, read
from the settings the runner passes (the application's configuration), and the subject's
identity by email. Shared by the erasure and the targeted changes."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from inventory.loader import load_data_map
from inventory.model import DataMap, IdentityKind
from inventory.systems import Systems

DEFAULT_DATA_MAP = Path(__file__).resolve().parents[2] / "data_map.yaml"


class ChangeRefused(Exception):
    """A change the desk will not make; `message` says why, for staff (no personal data)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def map_path(settings: Mapping[str, Any]) -> Path:
    return Path(settings.get("DATA_MAP") or DEFAULT_DATA_MAP)


def load_map(settings: Mapping[str, Any]) -> DataMap:
    """Load the data map the desk works from (DATA_MAP, data_map.yaml by default)."""
    return load_data_map(map_path(settings))


def open_target_systems(settings: Mapping[str, Any], data_map: DataMap) -> Systems:
    """Return the connections to the map's systems, their URLs read as the dashboard reads them:
    SYSTEM_ENVIRONMENT overridden by the text settings. The caller disposes of them."""
    environment: Mapping[str, str] = settings.get("SYSTEM_ENVIRONMENT", {}) or {}
    text_settings = {key: value for key, value in settings.items() if isinstance(value, str)}
    return Systems(data_map, {**environment, **text_settings}, map_path(settings).parent)


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
