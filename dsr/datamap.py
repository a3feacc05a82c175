"""The desk's data map and the organisation's systems it names, from one place.

The map is parsed once per process and parsed again only when its file changes (its path, size
and modification time are the key); every reader (the dashboard, the executors, the scheduler's
jobs, the `dsr` commands) takes it from here, as it takes from here the one way a system's URL is
resolved: the process environment the settings captured (SYSTEM_ENVIRONMENT, e.g.
POINT3_PLATFORM_URL), overridden by the settings' own text values (DSR_POINT3_PLATFORM_URL).

The systems are kept for the process too (`open_systems`): one `Systems` per map and resolved
URLs, with its connection pools, reflections and built statements, shared by every thread and
never disposed of by its users; a new one when the map's file changes (the old one's engines
disposed of), none inherited by a forked child (a gunicorn or Huey worker builds its own).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from inventory.loader import MapError, load_data_map
from inventory.model import DataMap
from inventory.systems import SCHEMA_CHECK_SECONDS, Systems, system_url

DEFAULT_MAP_PATH = Path(__file__).resolve().parent.parent / "data_map.yaml"
"""The map used when DATA_MAP (DSR_DATA_MAP, or `dsr --map`) is not set: the checkout's own."""

_FileKey = tuple[int, int, int, int]
_loaded: dict[str, tuple[_FileKey, DataMap]] = {}
_lock = threading.Lock()
_parsing = threading.Lock()


def map_path(settings: Mapping[str, Any]) -> Path:
    """Return the path of the map the settings name (DATA_MAP), else the default one."""
    return Path(str(settings.get("DATA_MAP") or DEFAULT_MAP_PATH))


def load_map(path: Path) -> DataMap:
    """Return the map in `path`, parsed on the first call and again only once the file changed.

    Raise `inventory.loader.MapError` (its problems name `path` as given) for a missing or
    invalid map, on every call until it is put right: a failure is never remembered.
    """
    # One stat, following links, per call (the desk asks for its map several times a request):
    # the file's identity is part of the key, so a link pointed at another map, or a file
    # replaced by another, is parsed again like a file changed in place.
    resolved = os.fspath(path)
    try:
        status = os.stat(resolved)
    except OSError:
        return load_data_map(path)  # says what is wrong with the file
    key = (status.st_dev, status.st_ino, status.st_mtime_ns, status.st_size)
    with _lock:
        cached = _loaded.get(resolved)
    if cached is not None and cached[0] == key:
        return cached[1]
    with _parsing:  # threads that start at once parse it once, and share one map
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


SYSTEMS_KEPT = 8
"""How many `Systems` (maps and URLs) the process keeps: one in production; tests use many."""


@dataclass
class _KeptSystems:
    systems: Systems
    path: Path
    desk: bool  # built for the desk's map of `path`: replaced once that file changes


_systems: OrderedDict[tuple[object, ...], _KeptSystems] = OrderedDict()
_systems_lock = threading.Lock()


def open_systems(settings: Mapping[str, Any], data_map: DataMap | None = None) -> Systems:
    """Return the connections to the map's systems (the desk's map unless `data_map` is given),
    relative paths taken from the map's folder: the process's one `Systems` for that map and
    those URLs, built on first use. Use it without disposing of it: it lives for the process.

    A map narrowed from the desk's (`only_categories`, holds) shares the desk map's engines,
    reflections and statements, with a memo of its own (`Systems.for_map`).
    """
    path = map_path(settings)
    desk: DataMap | None
    if data_map is None:
        chosen = desk = desk_map(settings)
    else:
        chosen = data_map
        try:
            desk = desk_map(settings)
        except MapError:
            desk = None  # a map given in full does not need the desk's
    root = desk if desk is not None and chosen.systems is desk.systems else chosen
    environ = system_environment(settings)
    base_dir = path.resolve().parent
    seconds = schema_check_seconds(settings)
    urls = tuple(system_url(root, name, environ, base_dir) for name in root.systems)
    key = (id(root.systems), base_dir, urls, seconds)
    retired: list[Systems] = []
    with _systems_lock:
        kept = _systems.get(key)
        if kept is None or kept.systems.data_map is not root:
            kept = _KeptSystems(Systems(root, environ, base_dir, seconds), path, root is desk)
            if kept.desk:  # the map's file changed: the systems of its older versions go
                for old_key, old in list(_systems.items()):
                    if old.desk and old.path == path and old.systems.data_map is not root:
                        retired.append(_systems.pop(old_key).systems)
            _systems[key] = kept
        _systems.move_to_end(key)
        while len(_systems) > SYSTEMS_KEPT:
            retired.append(_systems.popitem(last=False)[1].systems)
    for old_systems in retired:
        old_systems.dispose()  # a thread still using it opens its engines again
    return kept.systems.for_map(chosen)


def schema_check_seconds(settings: Mapping[str, Any]) -> float:
    """Return SCHEMA_CHECK_SECONDS (DSR_SCHEMA_CHECK_SECONDS); raise ValueError naming the
    variable when it is not a number of seconds, 0 or more."""
    value = settings.get("SCHEMA_CHECK_SECONDS", SCHEMA_CHECK_SECONDS)
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = -1.0
    if isinstance(value, bool) or not seconds >= 0:
        raise ValueError(
            f"DSR_SCHEMA_CHECK_SECONDS must be a number of seconds, 0 or more, not {value!r}"
        )
    return seconds


def forget_systems() -> None:
    """Dispose of every kept `Systems` (tests, and a process about to stop)."""
    with _systems_lock:
        kept = [entry.systems for entry in _systems.values()]
        _systems.clear()
    for systems in kept:
        systems.dispose()


def _after_fork_in_child() -> None:
    """A forked child builds its own systems: pooled connections are never shared with the
    parent (their engines' pools are reset by `inventory.systems` itself)."""
    global _lock, _parsing, _systems_lock
    _lock, _parsing, _systems_lock = threading.Lock(), threading.Lock(), threading.Lock()
    _systems.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)
