"""One delivery job of a kind at a time per worker process: a callback endpoint that never
answers holds one thread, never all of them (bench/load.py: with a wake-up queued per status
change, every thread of the workers ended up waiting on it and no email went out)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

from dsr.worker.tasks import AFTER_COMMIT_LIMIT, DeliveryGate
from tests.waiting import WAIT_SECONDS as CONDITION_TIMEOUT


def recorder(into: list[str], mark: str) -> Callable[[], int]:
    """A batch that notes it ran and tried nothing."""

    def batch() -> int:
        into.append(mark)
        return 0

    return batch


def test_a_second_job_leaves_the_work_to_the_one_delivering_which_goes_round_again() -> None:
    lane = DeliveryGate()
    started, release = threading.Event(), threading.Event()
    batches: list[str] = []

    def hanging_batch() -> int:
        batches.append("first" if not batches else "again")
        if len(batches) == 1:
            started.set()
            assert release.wait(CONDITION_TIMEOUT)
        return 0

    first = threading.Thread(target=lane.deliver, args=(hanging_batch,))
    first.start()
    assert started.wait(CONDITION_TIMEOUT)

    second_ran: list[str] = []
    lane.deliver(recorder(second_ran, "second"))  # returns at once: the thread is free
    assert second_ran == []

    release.set()
    first.join(CONDITION_TIMEOUT)
    assert not first.is_alive()
    # What the second job was asked for (committed while the first was busy) is delivered.
    assert batches == ["first", "again"]


def test_a_full_batch_is_followed_by_another_and_the_lane_is_free_after() -> None:
    lane = DeliveryGate()
    sizes = iter([AFTER_COMMIT_LIMIT, AFTER_COMMIT_LIMIT, 3])
    tried: list[int] = []

    def batch() -> int:
        tried.append(next(sizes))
        return tried[-1]

    lane.deliver(batch)
    assert tried == [AFTER_COMMIT_LIMIT, AFTER_COMMIT_LIMIT, 3]
    after: list[str] = []
    lane.deliver(recorder(after, "after"))
    assert after == ["after"]  # not left busy


def test_a_failing_batch_frees_the_lane() -> None:
    lane = DeliveryGate()

    def failing() -> int:
        raise ConnectionError("the server went away")

    with contextlib.suppress(ConnectionError):
        lane.deliver(failing)
    ran: list[str] = []
    lane.deliver(recorder(ran, "ran"))
    assert ran == ["ran"]


def test_a_job_that_finds_the_gate_busy_enters_no_context_and_a_failure_inside_frees_it() -> None:
    lane = DeliveryGate()
    entered: list[str] = []
    started, release = threading.Event(), threading.Event()

    @contextlib.contextmanager
    def context(name: str) -> Iterator[None]:
        entered.append(name)
        with contextlib.suppress(ConnectionError):  # as a job's context logs and swallows
            yield

    def hanging_batch() -> int:
        started.set()
        assert release.wait(CONDITION_TIMEOUT)
        return 0

    first = threading.Thread(
        target=lambda: lane.deliver(hanging_batch, around=lambda: context("first"))
    )
    first.start()
    assert started.wait(CONDITION_TIMEOUT)
    lane.deliver(recorder([], "second"), around=lambda: context("second"))
    release.set()
    first.join(CONDITION_TIMEOUT)
    assert entered == ["first"]  # the second job left at once, without its context

    def failing() -> int:
        raise ConnectionError("the server went away")

    lane.deliver(failing, around=lambda: context("failing"))  # its context swallows the error
    ran: list[str] = []
    lane.deliver(recorder(ran, "ran"))
    assert ran == ["ran"]
