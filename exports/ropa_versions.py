"""What identifies a version of the register, and what changed from one version to the next.

A version is identified by the digest of the map's content (SHA-256 of its canonical JSON, so that
a comment or a re-indentation is no new version). Its outline keeps a digest of each activity,
category and recipient, so that the next version can say which were added, removed or changed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from gettext import NullTranslations
from typing import Literal

from inventory.model import DataMap

Outline = dict[str, dict[str, str]]
"""section ("activities", "categories", "recipients") -> id -> digest of its content."""

SECTIONS = ("activities", "categories", "recipients")
Change = Literal["added", "removed", "changed"]


@dataclass(frozen=True)
class RegisterChange:
    """One activity, category or recipient added, removed or changed since the last version."""

    section: str
    key: str
    change: Change


def _digest(value: object) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def map_digest(data_map: DataMap) -> str:
    """Return the SHA-256 hex digest of the map's content."""
    return _digest(data_map.model_dump(mode="json", by_alias=True))


def map_outline(data_map: DataMap) -> Outline:
    """Return a digest of each activity, category and recipient of the map, by section and id."""
    dumped = data_map.model_dump(mode="json", by_alias=True)
    return {
        section: {key: _digest(item) for key, item in dumped[section].items()}
        for section in SECTIONS
    }


def outline_changes(previous: Outline | None, current: Outline) -> list[RegisterChange]:
    """Return what was added, removed or changed from `previous` to `current`, section by
    section; nothing for the first version (`previous` None)."""
    if previous is None:
        return []
    changes: list[RegisterChange] = []
    for section in SECTIONS:
        before, after = previous.get(section, {}), current.get(section, {})
        changes += [RegisterChange(section, k, "added") for k in after if k not in before]
        changes += [RegisterChange(section, k, "removed") for k in before if k not in after]
        changes += [
            RegisterChange(section, k, "changed")
            for k in after
            if k in before and before[k] != after[k]
        ]
    return changes


def describe_change(change: RegisterChange, translations: NullTranslations) -> str:
    """Say one change in the language of `translations` (context "register")."""
    t = translations
    words = {
        ("activities", "added"): t.pgettext("register", "Activity added: %(key)s"),
        ("activities", "removed"): t.pgettext("register", "Activity removed: %(key)s"),
        ("activities", "changed"): t.pgettext("register", "Activity changed: %(key)s"),
        ("categories", "added"): t.pgettext("register", "Data category added: %(key)s"),
        ("categories", "removed"): t.pgettext("register", "Data category removed: %(key)s"),
        ("categories", "changed"): t.pgettext("register", "Data category changed: %(key)s"),
        ("recipients", "added"): t.pgettext("register", "Recipient added: %(key)s"),
        ("recipients", "removed"): t.pgettext("register", "Recipient removed: %(key)s"),
        ("recipients", "changed"): t.pgettext("register", "Recipient changed: %(key)s"),
    }
    return words[(change.section, change.change)] % {"key": change.key}
