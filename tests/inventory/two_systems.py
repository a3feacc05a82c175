"""The POINT3 map with a second system, `copy`, that reads the same tables (the same database or
a copy of it): each category gets a twin in `copy`, next to it, and `both` has its contact fields
in the two systems. Collections of it can be told line for line from the one-system map's."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from inventory.model import DataMap

MAP_PATH = Path(__file__).parents[2] / "data_map.yaml"
SECOND = "copy"
FIRST = "learner_platform"


def twin(name: str) -> str:
    return f"{name}_{SECOND}"


def two_system_map() -> DataMap:
    document: dict[str, Any] = yaml.safe_load(MAP_PATH.read_text(encoding="utf-8"))
    second = copy.deepcopy(document["systems"][FIRST])
    second["url"] = {"env": "COPY_PLATFORM_URL", "default": "sqlite:///instance/copy.sqlite3"}
    document["systems"][SECOND] = second
    for identity in document["identities"].values():
        identity["locations"][SECOND] = copy.deepcopy(identity["locations"][FIRST])
    categories: dict[str, Any] = {}
    for name, category in document["categories"].items():
        categories[name] = category
        other = copy.deepcopy(category)
        other["system"] = SECOND
        for field in other["fields"]:
            if field.get("system") == FIRST:
                field["system"] = SECOND
        for change in other.get("erasure", {}).get("withdraw", []):
            change["system"] = SECOND
        categories[twin(name)] = other
    both = copy.deepcopy(document["categories"]["contact"])
    both["fields"] = [
        *both["fields"],
        *({**field, "system": SECOND} for field in document["categories"]["contact"]["fields"]),
    ]
    categories["both"] = both
    document["categories"] = categories
    return DataMap.model_validate(document)


def as_second(line: str) -> str:
    """The JSON line of a batch read from the first system as read from the second."""
    return line.replace(f'"system":"{FIRST}"', f'"system":"{SECOND}"', 1)
