"""The queue of the workers' jobs, built from DSR_QUEUE_URL: a SQLite file (the default, in the
instance folder: the demo needs no other service), Redis (workers on any number of machines), or
`immediate` (each job runs at once in the thread that queues it: for the test suite only,
refused in production).

Huey is imported when a queue is first built, not when this module is: `dsr --help` stays fast.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

IMMEDIATE = "immediate"
QUEUE_FILE = "queue.sqlite3"
SCHEMES = ("sqlite:///", "redis://", "rediss://", "unix://")


class QueueSettingError(ValueError):
    """DSR_QUEUE_URL names no queue the desk can use; the message says what it accepts."""


@dataclass(frozen=True, slots=True)
class QueueAddress:
    """Where the jobs wait: `kind` is sqlite, redis or immediate; `target` the file or URL."""

    kind: str
    target: str
    name: str


def queue_address(config: Mapping[str, Any], instance_path: str | Path) -> QueueAddress:
    """Read QUEUE_URL and QUEUE_NAME; raise QueueSettingError for anything else."""
    value = str(config.get("QUEUE_URL") or "").strip()
    name = str(config.get("QUEUE_NAME") or "dsr").strip() or "dsr"
    if not value:
        return QueueAddress("sqlite", str(Path(instance_path) / QUEUE_FILE), name)
    if value.lower() == IMMEDIATE:
        return QueueAddress(IMMEDIATE, "", name)
    if value.startswith("sqlite:///") and len(value) > len("sqlite:///"):
        return QueueAddress("sqlite", value.removeprefix("sqlite:///"), name)
    if value.startswith(SCHEMES[1:]):
        return QueueAddress("redis", value, name)
    raise QueueSettingError(
        "DSR_QUEUE_URL must be sqlite:///path/to/queue.sqlite3, redis://host:6379/0 or "
        "immediate (tests only); unset, the queue is queue.sqlite3 in the instance folder."
    )


_queues: dict[QueueAddress, Any] = {}
_lock = threading.Lock()


def queue_for(config: Mapping[str, Any], instance_path: str | Path) -> Any:
    """Return the Huey queue of these settings, with the desk's jobs registered on it: one per
    address and process, shared by the applications of the process."""
    address = queue_address(config, instance_path)
    with _lock:
        found = _queues.get(address)
        if found is None:
            found = _queues[address] = _build(address)
        return found


def _build(address: QueueAddress) -> Any:
    from huey import Huey, RedisHuey, SqliteHuey

    from dsr.worker.tasks import register_tasks

    huey: Any
    if address.kind == IMMEDIATE:
        huey = Huey(address.name, immediate=True, results=False)
    elif address.kind == "sqlite":
        Path(address.target).parent.mkdir(parents=True, exist_ok=True)
        huey = SqliteHuey(address.name, filename=address.target, results=False)
    else:
        huey = RedisHuey(address.name, url=address.target, results=False)
    register_tasks(huey)
    return huey


def enqueue_job(huey: Any, job: str, *args: object) -> None:
    """Put the job named `job` (see dsr.worker.tasks.JOBS) with `args` on `huey`."""
    huey.enqueue(huey.desk_jobs[job].s(*args))
