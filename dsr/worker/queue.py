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
from functools import cache
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
    from huey import Huey

    from dsr.worker.tasks import register_tasks

    huey: Any
    if address.kind == IMMEDIATE:
        huey = Huey(address.name, immediate=True, results=False)
    elif address.kind == "sqlite":
        Path(address.target).parent.mkdir(parents=True, exist_ok=True)
        huey = Huey(
            address.name, storage_class=_sqlite_storage(), filename=address.target, results=False
        )
    else:
        huey = Huey(address.name, storage_class=_redis_storage(), url=address.target, results=False)
    register_tasks(huey)
    return huey


@cache
def _sqlite_storage() -> type[Any]:
    """Huey's SQLite storage, with a job taken and a job's revocation cleared in fewer
    statements, and commits that leave the fsync to the WAL's checkpoints."""
    import sqlite3

    from huey.storage import SqliteStorage

    class DeskSqliteStorage(SqliteStorage):  # type: ignore[misc]
        """A job is taken by one `DELETE ... RETURNING` instead of an exclusive transaction of a
        SELECT and a DELETE, and the revocation Huey clears after every job (never set by the
        desk) is looked for before a transaction is taken to delete it: each job of a busy
        desk cost its worker two exclusive transactions of the queue file (issue 17).

        `synchronous=NORMAL`: a commit is durable once the WAL is checkpointed, not fsynced at
        every job queued or taken (in the web request that queues it, and in the worker). A
        power cut may lose the last jobs queued, never the file; a job only wakes a worker up,
        and what it was to do stays in the store (the scheduler and the recovery find it)."""

        def _create_connection(self) -> sqlite3.Connection:
            connection: sqlite3.Connection = super()._create_connection()
            connection.execute("pragma synchronous=normal")
            return connection

        def dequeue(self) -> bytes | None:
            if not self.sql(_ANY_JOB, (self.name,), results=True):
                return None  # a read: an empty queue takes no lock
            with self.db() as cursor:
                taken = cursor.execute(_TAKE_JOB, (self.name,)).fetchone()
            return None if taken is None else bytes(taken[0])

        def enqueue_unless_waiting(self, data: bytes) -> None:
            """Queue the job `data` unless the same job (the same bytes) waits already."""
            self.sql(_ADD_UNLESS_WAITING, (self.name, data, self.name, data), commit=True)

        def delete_data(self, key: str) -> bool:
            if not self.has_data_for_key(key):
                return False
            return bool(super().delete_data(key))

    return DeskSqliteStorage


@cache
def _redis_storage() -> type[Any]:
    """Huey's Redis storage (what RedisHuey uses), able to queue a job unless it waits already."""
    from huey.storage import RedisStorage

    class DeskRedisStorage(RedisStorage):  # type: ignore[misc]
        def enqueue_unless_waiting(self, data: bytes) -> None:
            """Queue the job `data` unless the same job (the same bytes) waits already, in one
            script: the look and the push are one step for every client of the list."""
            self.conn.eval(_PUSH_UNLESS_WAITING, 1, self.queue_key, data)

    return DeskRedisStorage


_PUSH_UNLESS_WAITING = """
if redis.call('LPOS', KEYS[1], ARGV[1]) == false then
  redis.call('LPUSH', KEYS[1], ARGV[1])
end
"""
"""A job waits while it is in the queue's list: a worker takes it out (BRPOP) before it runs
it, so what is committed after that is claimed by the next one queued (LPOS: Redis 6.0.6)."""

_ANY_JOB = "select 1 from task where queue = ? limit 1"
_ADD_UNLESS_WAITING = (
    "insert into task (queue, data, priority) select ?, ?, 0 "
    "where not exists (select 1 from task where queue = ? and data = ?)"
)
_TAKE_JOB = (
    "delete from task where id = (select id from task where queue = ? "
    "order by priority desc, id limit 1) returning data"
)


WAKE_UPS = frozenset({"deliver_mail", "deliver_callbacks"})
"""The jobs that only wake a worker up to deliver what is due: one waiting is as good as many."""


def enqueue_job(huey: Any, job: str, *args: object) -> None:
    """Put the job named `job` (see dsr.worker.tasks.JOBS) with `args` on `huey`.

    A delivery job is not queued where the same job waits already (not yet taken by a worker),
    on SQLite or Redis: that one will claim, once taken, what the caller committed before
    calling. A busy desk's submissions queued one each, and the workers' threads took them only
    to find the gate busy or nothing left to deliver (issue 17)."""
    if job in WAKE_UPS and not args and hasattr(huey.storage, "enqueue_unless_waiting"):
        task = huey.desk_jobs[job].s(id=f"dsr.{job}")  # the same bytes every time
        huey.storage.enqueue_unless_waiting(huey.serialize_task(task))
        return
    huey.enqueue(huey.desk_jobs[job].s(*args))
