"""The desk's data map and the organisation's systems it names, from one place.

The map is parsed once per process and parsed again only when its file changes (its path, size
and modification time are the key); every reader (the dashboard, the executors, the scheduler's
jobs, the `dsr` commands) takes it from here, as it takes from here the one way a system's URL is
resolved: the process environment the settings captured (SYSTEM_ENVIRONMENT, e.g.
POINT3_PLATFORM_URL), overridden by the settings' own text values (DSR_POINT3_PLATFORM_URL).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from inventory.loader import load_data_map
from inventory.model import DataMap
from inventory.systems import Systems

DEFAULT_MAP_PATH = Path(__file__).resolve().parent.parent / "data_map.yaml"
"""The map used when DATA_MAP (DSR_DATA_MAP, or `dsr --map`) is not set: the checkout's own."""

_FileKey = tuple[int, int]
_loaded: dict[Path, tuple[_FileKey, DataMap]] = {}
_lock = threading.Lock()


def map_path(settings: Mapping[str, Any]) -> Path:
    """Return the path of the map the settings name (DATA_MAP), else the default one."""
    return Path(str(settings.get("DATA_MAP") or DEFAULT_MAP_PATH))


def load_map(path: Path) -> DataMap:
    """Return the map in `path`, parsed on the first call and again only once the file changed.

    Raise `inventory.loader.MapError` (its problems name `path` as given) for a missing or
    invalid map, on every call until it is put right: a failure is never remembered.
    """
    resolved = path.resolve()
    try:
        status = resolved.stat()
    except OSError:
        return load_data_map(path)  # says what is wrong with the file
    key = (status.st_mtime_ns, status.st_size)
    with _lock:
        cached = _loaded.get(resolved)
    if cached is not None and cached[0] == key:
        return cached[1]
    data_map = load_data_map(path)
    with _lock:
        _loaded[resolved] = (key, data_map)
    return data_map


def desk_map(settings: Mapping[str, Any]) -> DataMap:
    """Return the map the desk works from: the one DATA_MAP names, else the default one."""
    return load_map(map_path(settings))


def organisation_zone(settings: Mapping[str, Any]) -> ZoneInfo:
    """Return the organisation's time zone (`organisation.timezone` of the desk's map): the
    calendar of new requests' deadlines and the zone in which the desk shows every moment."""
    return desk_map(settings).organisation.zone


def system_environment(settings: Mapping[str, Any]) -> dict[str, str]:
    """Return what the map's systems read their URLs from: the environment the settings captured
    (SYSTEM_ENVIRONMENT), overridden by the settings' text values (DSR_POINT3_PLATFORM_URL beats
    POINT3_PLATFORM_URL)."""
    environment: Mapping[str, str] = settings.get("SYSTEM_ENVIRONMENT") or {}
    texts = {key: value for key, value in settings.items() if isinstance(value, str)}
    return {**environment, **texts}


def open_systems(settings: Mapping[str, Any], data_map: DataMap | None = None) -> Systems:
    """Return the connections to the map's systems (the desk's map unless `data_map` is given),
    relative paths taken from the map's folder; the caller opens and disposes of them
    (`with open_systems(settings).opened() as systems`)."""
    chosen = data_map if data_map is not None else desk_map(settings)
    return Systems(chosen, system_environment(settings), map_path(settings).resolve().parent)
