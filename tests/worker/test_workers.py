"""Real `dsr worker` processes carry out what the web application queues: an approved request is
run by a worker, not in the staff member's request, and its page shows the progress per system;
a worker killed in the middle of a run loses nothing and does nothing twice (another takes the
run over once its lease ran out); workers sharing a Redis queue run each request once; the
emails of a form reach the mail server through a worker."""

from __future__ import annotations

import os
import re
import signal
import uuid
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import Engine
from sqlmodel import col, func, select

from dsr import db
from dsr.accounts.models import StaffRole
from dsr.demo.seed import SAMPLE_LEARNER_EMAIL
from dsr.execution.change_records import ErasureCertificate, ErasureSystemRun, SystemRunStatus
from dsr.execution.runner import RESUMED_ACTION
from dsr.outbox.models import OutboxMessage
from dsr.requests.models import DataRequest
from dsr.requests.workflow import Action, RequestType, Status
from dsr.worker.queue import enqueue_job, queue_for
from tests.api.conftest import ApiCaller, issue_token, new_request
from tests.conftest import MakeApp
from tests.dashboard.conftest import logged_in
from tests.delivery.conftest import approve
from tests.execution.conftest import PLATFORM_VARIABLE
from tests.execution.platform_copy import copy_platform
from tests.factories import make_request
from tests.processes import STOP_GRACE_SECONDS
from tests.smtp_server import SmtpServer
from tests.waiting import wait_until
from tests.web.conftest import file_request
from tests.worker.conftest import (
    actions_of,
    progress_of,
    run_of,
    running_worker,
    status_of,
)
from tests.worker.silent_peer import SilentPeer, silent_peer

__all__ = ["silent_peer"]  # a fixture

SYSTEMS = ("learner_platform",)
"""The systems of the map the tests run on (data_map.yaml)."""


def in_review(app: Flask, request_type: RequestType = RequestType.ACCESS) -> DataRequest:
    with db.transaction(db.get_engine(app)) as session:
        return make_request(
            session, status=Status.IN_REVIEW, email=SAMPLE_LEARNER_EMAIL, request_type=request_type
        )


def dpo_of(app: Flask) -> FlaskClient:
    client = logged_in(app, "dpo@example.org", StaffRole.DPO)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.mark.databases("sqlite", "postgresql")
def test_a_worker_runs_what_staff_approve_and_the_page_shows_its_progress(
    make_app: MakeApp, migrated_url: str, tmp_path: Path
) -> None:
    app = make_app(DATABASE_URL=migrated_url)
    engine = db.get_engine(app)
    dpo = dpo_of(app)
    request = in_review(app)
    assert request.id is not None

    page = approve(dpo, request.reference, request.version_id)

    # The staff member's request came back with nothing run: the run waits for a worker.
    assert status_of(engine, request.id) is Status.APPROVED
    assert "The run waits for a worker to start it." in page
    assert '<meta http-equiv="refresh"' in page
    with running_worker(app, tmp_path / "worker.log"):
        wait_until(
            lambda: status_of(engine, request.id) is Status.READY_TO_SEND,
            "the worker made the request ready to send",
        )
    progress = progress_of(engine, request.id)
    assert set(progress) == set(SYSTEMS)
    assert all(state == "done" and (rows or 0) > 0 for state, rows in progress.values())
    page = dpo.get(f"/dashboard/requests/{request.reference}").get_data(as_text=True)
    assert "Done in this system" in page
    assert '<meta http-equiv="refresh"' not in page  # finished: the page stays still
    log = (tmp_path / "worker.log").read_text()
    assert SAMPLE_LEARNER_EMAIL not in log and "zoe" not in log.lower()  # no personal data


def test_approving_without_a_worker_runs_nothing_and_queues_the_run(
    make_app: MakeApp, store_url: str, tmp_path: Path
) -> None:
    app = make_app()
    dpo = dpo_of(app)
    request = in_review(app)
    assert request.id is not None

    approve(dpo, request.reference, request.version_id)

    assert status_of(db.get_engine(app), request.id) is Status.APPROVED
    assert actions_of(db.get_engine(app), request.id)[-1] == Action.APPROVE.value
    queued = queue_for(app.config, app.instance_path).pending()
    assert [task.args for task in queued if task.name == "dsr.run_request"] == [(request.id, None)]


BLOCKING = "import tests.worker.blocking; "


@pytest.mark.databases("sqlite", "postgresql")
@pytest.mark.parametrize("request_type", [RequestType.ACCESS, RequestType.ERASURE])
def test_a_worker_killed_in_the_middle_of_a_run_leaves_it_to_another_that_finishes_it_once(
    make_app: MakeApp,
    migrated_url: str,
    platform_url: str,
    smtp_server: SmtpServer,
    tmp_path: Path,
    request_type: RequestType,
) -> None:
    platform = copy_platform(platform_url, tmp_path)  # an erasure changes it
    app = make_app(
        DATABASE_URL=migrated_url,
        SYSTEM_ENVIRONMENT={PLATFORM_VARIABLE: platform},
        PUBLIC_URL="https://privacy.example.org",
    )
    engine = db.get_engine(app)
    dpo = dpo_of(app)
    request = in_review(app, request_type)
    assert request.id is not None
    approve(dpo, request.reference, request.version_id)
    blocked = tmp_path / "blocked"

    with running_worker(
        app, tmp_path / "first.log", before=BLOCKING, WORKER_TEST_BLOCKED=str(blocked)
    ) as first:
        wait_until(blocked.exists, "the first worker is in the middle of the run")
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert status_of(engine, request.id) is Status.PROCESSING
    erased_before = erasure_runs(engine, request.id)
    lease = run_of(engine, request.id)
    assert lease is not None and lease.lease_until is not None
    wait_until(
        lambda: (
            (run := run_of(engine, request.id)) is not None
            and run.lease_until is not None
            and run.lease_until < db.utcnow()
        ),
        "the killed worker's lease ran out",
    )

    # An erasure's answer (its certificate) goes out with the run: delivered, it completes it.
    finished = Status.COMPLETED if request_type is RequestType.ERASURE else Status.READY_TO_SEND
    with running_worker(app, tmp_path / "second.log"):
        wait_until(
            lambda: status_of(engine, request.id) is finished,
            "the second worker took the run over and finished it",
        )

    actions = actions_of(engine, request.id)
    assert actions.count(Action.START_PROCESSING.value) == 1
    assert actions.count(RESUMED_ACTION) == 1
    assert actions.count(Action.FINISH_PROCESSING.value) == 1
    assert progress_of(engine, request.id) == {
        system: ("done", rows) for system, (_, rows) in progress_of(engine, request.id).items()
    }
    if request_type is RequestType.ERASURE:
        # The system erased before the kill was not erased again; certified and answered once.
        assert erased_before and erasure_runs(engine, request.id) == erased_before
        assert actions.count("erasure_applied") == 1
        assert answer_emails(engine, request.id) == 1
        [answer] = smtp_server.wait_for(1)  # delivered by the worker that finished the run
        assert "/certificate/" in answer.text
        assert len(smtp_server.messages) == 1
        with db.open_session(engine) as session:
            certificates = session.exec(
                select(func.count())
                .select_from(ErasureCertificate)
                .where(ErasureCertificate.request_id == request.id)
            ).one()
        assert certificates == 1


def erasure_runs(engine: Engine, request_id: int) -> list[tuple[str, str, int, int, object]]:
    with db.open_session(engine) as session:
        runs = session.exec(
            select(ErasureSystemRun)
            .where(ErasureSystemRun.request_id == request_id)
            .order_by(col(ErasureSystemRun.system))
        ).all()
        return [
            (run.system, run.status.value, run.rows_deleted, run.rows_anonymized, run.updated_at)
            for run in runs
            if run.status is SystemRunStatus.DONE
        ]


def answer_emails(engine: Engine, request_id: int) -> int:
    with db.open_session(engine) as session:
        count = session.exec(
            select(func.count())
            .select_from(OutboxMessage)
            .where(
                OutboxMessage.request_id == request_id,
                col(OutboxMessage.dedup_key).startswith("erasure-done:"),
            )
        ).one()
        return int(count)


@pytest.mark.databases("postgresql")
def test_two_workers_on_one_redis_queue_share_the_runs_and_run_each_once(
    make_app: MakeApp, migrated_url: str, tmp_path: Path
) -> None:
    app = make_app(
        DATABASE_URL=migrated_url,
        QUEUE_URL="redis://127.0.0.1:6379/0",
        QUEUE_NAME=f"dsr-test-{uuid.uuid4().hex}",  # keys of this test alone, flushed after
    )
    engine = db.get_engine(app)
    huey = queue_for(app.config, app.instance_path)
    try:
        with db.transaction(engine) as session:
            requests = [
                make_request(session, status=Status.APPROVED, email=SAMPLE_LEARNER_EMAIL)
                for _ in range(6)
            ]
        ids = [request.id for request in requests if request.id is not None]
        with (
            running_worker(app, tmp_path / "first.log"),
            running_worker(app, tmp_path / "second.log"),
        ):
            for request_id in ids * 2:  # each run queued twice: the workers race for it
                enqueue_job(huey, "run_request", request_id, None)
            wait_until(
                lambda: all(status_of(engine, i) is Status.READY_TO_SEND for i in ids),
                "every request was run",
            )
        for request_id in ids:
            actions = actions_of(engine, request_id)
            assert actions.count(Action.START_PROCESSING.value) == 1, actions
            assert actions.count(Action.FINISH_PROCESSING.value) == 1, actions
    finally:
        huey.flush()


def test_the_verification_email_of_a_form_reaches_the_mail_server_through_a_worker(
    app: Flask, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    answer = file_request(app.test_client(), "someone@example.org")

    assert answer.status_code == 302
    assert smtp_server.transactions == 0  # nothing sent by the web process
    with running_worker(app, tmp_path / "worker.log") as worker:
        [mail] = smtp_server.wait_for(1)
        worker.send_signal(signal.SIGTERM)  # as a service manager stops it
        assert worker.wait(STOP_GRACE_SECONDS) == 0
    assert mail.envelope_recipients == ("someone@example.org",)
    assert "/verify/" in mail.text
    log = (tmp_path / "worker.log").read_text()
    assert "Worker stopped." in log and "someone@example.org" not in log


def test_a_worker_logs_each_email_it_sends_but_no_line_per_job(
    app: Flask, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    file_request(app.test_client(), "someone@example.org")

    with running_worker(app, tmp_path / "worker.log") as worker:
        smtp_server.wait_for(1)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(STOP_GRACE_SECONDS) == 0
    log = (tmp_path / "worker.log").read_text()
    assert "Huey consumer started" in log and "Worker stopped." in log
    assert re.search(r"outbox message \d+ sent", log)
    assert "Executing" not in log and "executed in" not in log


def test_a_callback_endpoint_that_never_answers_holds_up_no_email_of_the_worker(
    make_app: MakeApp, smtp_server: SmtpServer, silent_peer: SilentPeer, tmp_path: Path
) -> None:
    app = make_app(CALLBACK_ALLOWED_NETWORKS="127.0.0.0/8", API_CALLBACK_TIMEOUT_SECONDS=600)
    platform = ApiCaller(app.test_client(), issue_token(app, "platform"))
    hook = f"http://127.0.0.1:{silent_peer.port}/hook"
    created = platform.post(new_request(status_callback_urls=[hook]))
    assert created.status_code == 201, created.get_json()
    cancelled = platform.delete(f"/api/v1/requests/{created.get_json()['reference']}")
    assert cancelled.status_code == 200  # a status change: its callback is queued

    with running_worker(app, tmp_path / "worker.log", threads=2):
        waiting = silent_peer.wait_for_a_client()  # one thread hangs on the callback...
        assert file_request(app.test_client(), "someone@example.org").status_code == 302
        wait_until(  # ...the other sends the emails meanwhile
            lambda: (
                ("someone@example.org",)
                in [mail.envelope_recipients for mail in smtp_server.messages]
            ),
            "the form's email sent while the callback hangs",
        )
        assert SilentPeer.still_waiting(waiting)


def niceness_of_threads(pid: int) -> list[int]:
    """The niceness of each thread of process `pid` (Linux: field 19 of /proc/PID/task/TID/stat,
    counted after the command name, which may hold spaces)."""
    values = []
    for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
        after_name = stat.read_text().rpartition(")")[2].split()
        values.append(int(after_name[16]))
    return values


def test_a_worker_and_every_thread_it_starts_run_at_a_lower_cpu_priority_than_the_web(
    make_app: MakeApp, tmp_path: Path
) -> None:
    """The web processes keep the CPU priority they started with; a worker lowers its own by
    DSR_WORKER_NICE before it starts its threads (a thread's priority is its own on Linux)."""
    app = make_app(WORKER_NICE=7)
    started_at = os.getpriority(os.PRIO_PROCESS, 0)  # what the worker inherits from this test
    log = tmp_path / "worker.log"
    with running_worker(app, log, threads=3) as worker:
        wait_until(lambda: "Worker started" in log.read_text(), "the worker to start")
        wait_until(lambda: len(niceness_of_threads(worker.pid)) >= 4, "its 3 job threads")
        assert set(niceness_of_threads(worker.pid)) == {min(started_at + 7, 19)}
        assert os.getpriority(os.PRIO_PROCESS, 0) == started_at  # the web's, unchanged


def test_on_a_redis_queue_one_waiting_wake_up_delivers_every_email_committed_before_it(
    make_app: MakeApp, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    app = make_app(
        QUEUE_URL="redis://127.0.0.1:6379/0",
        QUEUE_NAME=f"dsr-test-{uuid.uuid4().hex}",  # keys of this test alone, flushed after
    )
    huey = queue_for(app.config, app.instance_path)
    try:
        addresses = [f"learner{number}@example.org" for number in range(3)]
        for address in addresses:
            assert file_request(app.test_client(), address).status_code == 302
        assert [task.name for task in huey.pending()] == ["dsr.deliver_mail"]  # one for three
        with running_worker(app, tmp_path / "worker.log"):
            mails = smtp_server.wait_for(3)
        assert sorted(mail.envelope_recipients[0] for mail in mails) == addresses
    finally:
        huey.flush()
