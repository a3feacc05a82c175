"""The SQLite queue of the workers: Huey's storage with a job taken in one statement, the
revocation check cheaper, and commits not fsynced one by one; the same jobs, in the same order,
each once. On SQLite and Redis, a delivery job is not queued while the same one waits."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from dsr.worker.queue import _sqlite_storage, enqueue_job, queue_for


def storage_in(tmp_path: Path) -> Any:
    return _sqlite_storage()("dsr", filename=str(tmp_path / "queue.sqlite3"))


def test_jobs_come_out_first_in_first_out_each_once(tmp_path: Path) -> None:
    storage = storage_in(tmp_path)
    assert storage.dequeue() is None
    for number in range(5):
        storage.enqueue(b"job %d" % number)
    storage.enqueue(b"urgent", priority=1)
    other = storage_in(tmp_path)  # a second worker on the same file
    taken = [storage.dequeue(), other.dequeue(), storage.dequeue(), other.dequeue()]
    taken += [storage.dequeue(), other.dequeue(), storage.dequeue()]
    assert taken == [b"urgent", b"job 0", b"job 1", b"job 2", b"job 3", b"job 4", None]
    assert storage.queue_size() == 0


def test_the_queue_file_is_in_wal_mode_and_not_fsynced_at_each_commit(tmp_path: Path) -> None:
    storage = storage_in(tmp_path)
    assert storage.sql("pragma journal_mode", results=True) == [("wal",)]
    assert storage.sql("pragma synchronous", results=True) == [(1,)]  # NORMAL


def test_a_revoked_job_is_still_skipped_once_and_its_revocation_cleared(tmp_path: Path) -> None:
    huey = queue_for({"QUEUE_URL": f"sqlite:///{tmp_path / 'queue.sqlite3'}"}, tmp_path)
    task = huey.desk_jobs["recover"].s()
    huey.revoke(task, revoke_once=True)
    huey.enqueue(task)
    assert huey.is_revoked(task)
    huey.execute(huey.dequeue())  # skipped: revoked once
    assert not huey.is_revoked(task)
    assert not huey.storage.delete_data(task.revoke_id)  # nothing left to delete
    huey.put(task.revoke_id, (None, False))
    assert huey.storage.delete_data(task.revoke_id)
    assert not huey.storage.has_data_for_key(task.revoke_id)


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_a_delivery_job_is_not_queued_twice_while_one_waits(kind: str, tmp_path: Path) -> None:
    settings = (
        {"QUEUE_URL": f"sqlite:///{tmp_path / 'queue.sqlite3'}"}
        if kind == "sqlite"
        else {"QUEUE_URL": "redis://127.0.0.1:6379/0", "QUEUE_NAME": f"dsr-test-{uuid.uuid4().hex}"}
    )
    huey = queue_for(settings, tmp_path)
    try:
        for _ in range(3):
            enqueue_job(huey, "deliver_mail")
            enqueue_job(huey, "deliver_callbacks")
            enqueue_job(huey, "run_request", 7, None)  # a run is its own job, every time
        assert [task.name for task in huey.pending()] == [
            "dsr.deliver_mail",
            "dsr.deliver_callbacks",
            "dsr.run_request",
            "dsr.run_request",
            "dsr.run_request",
        ]
        taken = huey.dequeue()
        assert taken.name == "dsr.deliver_mail"
        enqueue_job(huey, "deliver_mail")  # the one waiting was taken: this one is queued
        assert [task.name for task in huey.pending()].count("dsr.deliver_mail") == 1
        assert huey.pending_count() == 5
    finally:
        huey.flush()  # the Redis keys of this test
