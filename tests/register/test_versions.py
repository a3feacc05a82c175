"""The register's versions in the store: the same map gives the same version, a changed map a new
one that lists what changed (activities, categories, recipients added, removed or changed)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import yaml
from sqlmodel import Session

from dsr.datamap import DEFAULT_MAP_PATH
from dsr.register.service import latest_version, register_version
from exports.ropa_versions import RegisterChange, map_digest
from inventory.model import DataMap
from tests.exports.conftest import translations_for

MOMENT = datetime(2026, 12, 5, 9, 30, tzinfo=UTC)


def document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(DEFAULT_MAP_PATH.read_text(encoding="utf-8"))
    return loaded


def point3(changed: dict[str, Any] | None = None) -> DataMap:
    return DataMap.model_validate(changed if changed is not None else document())


def test_the_same_map_keeps_its_version(session: Session) -> None:
    assert latest_version(session) is None

    first = register_version(session, point3(), now=MOMENT)
    again = register_version(session, point3())

    assert (first.number, first.changes, first.digest) == (1, [], map_digest(point3()))
    assert again == first
    assert latest_version(session) == first
    assert first.produced_at == MOMENT


def test_a_changed_map_is_a_new_version_that_lists_the_changes(session: Session) -> None:
    register_version(session, point3())
    changed = document()
    changed["activities"]["surveys"]["purposes"].append({"fr": "Autre", "en": "Another"})
    del changed["activities"]["audience"]
    changed["activities"]["tracking"] = {
        "name": "Tracking",
        "purposes": ["Measure"],
        "data_subjects": ["Visitors"],
        "categories": ["tracking"],
    }
    changed["recipients"]["hosting"]["country"] = "DE"

    second = register_version(session, point3(changed))

    assert second.number == 2
    assert second.changes == [
        RegisterChange("activities", "tracking", "added"),
        RegisterChange("activities", "audience", "removed"),
        RegisterChange("activities", "surveys", "changed"),
        RegisterChange("recipients", "hosting", "changed"),
    ]
    assert second.described(translations_for("fr")) == [
        "Activité ajoutée : tracking",
        "Activité supprimée : audience",
        "Activité modifiée : surveys",
        "Destinataire modifié : hosting",
    ]
    assert register_version(session, point3(changed)) == second
    back = register_version(session, point3())
    assert back.number == 3, "going back to an earlier map is a new version too"
