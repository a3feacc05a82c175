"""`dsr demo run` as a newcomer starts it: it migrates the store, serves the learner form and the
demo mailbox on loopback with its own SMTP sink, and stops cleanly on Ctrl-C (SIGINT)."""

from __future__ import annotations

import os
import re
import signal
import smtplib
import socket
import stat
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlmodel import Session

from dsr.accounts.models import StaffRole
from dsr.accounts.service import find_staff, password_matches
from dsr.demo.run import (
    DEMO_STAFF_EMAIL,
    KEY_FILE_NAME,
    STAFF_FILE_NAME,
    demo_secret_key,
    served_url,
)
from tests import processes
from tests.waiting import WAIT_SECONDS, wait_until

DSR = Path(sys.executable).with_name("dsr")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def port_is_free(port: int) -> bool:
    """Tell whether nothing listens on `port` any more (connections in TIME_WAIT don't count:
    the servers themselves rebind with SO_REUSEADDR, and so does this probe)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=WAIT_SECONDS) as response:  # noqa: S310  (http on loopback)
        return response.status, response.read().decode()


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int, int, Path]]:
    """`dsr demo run` on free ports with its own store and folder, once it says it is ready."""
    port, smtp_port = free_port(), free_port()
    folder = tmp_path / "instance"
    errors = (tmp_path / "stderr.txt").open("w")
    process: subprocess.Popen[str] = processes.spawn(
        [
            str(DSR),
            "demo",
            "run",
            "--port",
            str(port),
            "--smtp-port",
            str(smtp_port),
            "--folder",
            str(folder),
            "--database-url",
            f"sqlite:///{(tmp_path / 'store.sqlite3').as_posix()}",
        ],  # fmt: skip
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
        # aiosmtpd gives the mail sink 5 s to answer, too little on a loaded machine; the port is
        # free here, so the longer bound only matters if it hangs.
        env={**os.environ, "AIOSMTPD_CONTROLLER_TIMEOUT": "60"},
    )
    try:
        assert process.stdout is not None
        output: list[str] = []
        for line in process.stdout:
            output.append(line)
            if "Ctrl-C" in line:
                break
        else:
            errors.flush()
            problem = (tmp_path / "stderr.txt").read_text()
            pytest.fail(f"the demo stopped before it was ready: {''.join(output)}{problem}")
        assert f"http://127.0.0.1:{port}/" in "".join(output)
        assert f"http://127.0.0.1:{port}/demo/mail" in "".join(output)
        assert "Demo worker: " in "".join(output)  # its emails go out through the worker
        assert "Demo scheduler: " in "".join(output)  # reminders, expiry, sweeps beside it
        assert "Public form limits relaxed for the demo: 200/hour" in "".join(output)
        assert f"http://127.0.0.1:{port}/dashboard/ (log in as dpo@demo.example, " in "".join(
            output
        )
        yield process, port, smtp_port, folder
    finally:
        processes.stop(process)  # its whole process group, reaped, even when the test failed
        if process.stdout is not None:
            process.stdout.close()
        errors.close()


def test_the_demo_serves_the_form_and_the_mailbox_and_stops_on_ctrl_c(
    demo: tuple[subprocess.Popen[str], int, int, Path],
) -> None:
    process, port, smtp_port, folder = demo
    status, page = get(f"http://127.0.0.1:{port}/")
    assert status == 200 and "<form" in page
    try:  # a path that holds a token (unknown here: 404)
        get(f"http://127.0.0.1:{port}/status/a-secret-status-token")
    except urllib.error.HTTPError as refused:
        refused.close()

    message = EmailMessage()
    message["From"] = "privacy-desk@localhost"
    message["To"] = "zoe@example.org"
    message["Subject"] = "Confirm your address"
    message.set_content("Click http://127.0.0.1/verify/x")
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=WAIT_SECONDS) as client:
        client.send_message(message)
    status, mailbox = get(f"http://127.0.0.1:{port}/demo/mail")
    assert status == 200 and "Confirm your address" in mailbox
    assert stat.S_IMODE((folder / KEY_FILE_NAME).stat().st_mode) == 0o600
    # The printed demo DPO account exists with the password kept owner-only beside the key.
    password_file = folder / STAFF_FILE_NAME
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    engine = create_engine(f"sqlite:///{(folder.parent / 'store.sqlite3').as_posix()}")
    try:
        with Session(engine) as session:
            staff = find_staff(db_session=session, email=DEMO_STAFF_EMAIL)
            assert staff is not None and staff.role == StaffRole.DPO
            assert password_matches(staff, password_file.read_text().strip())
    finally:
        engine.dispose()

    process.send_signal(signal.SIGINT)
    assert process.wait(processes.STOP_GRACE_SECONDS) == 0
    assert process.stdout is not None and "Stopping the demo." in process.stdout.read()
    # The server's own lines keep paths (tokens) out of the terminal.
    logged = (folder.parent / "stderr.txt").read_text()
    assert "GET" in logged and "a-secret-status-token" not in logged
    wait_until(
        lambda: port_is_free(port) and port_is_free(smtp_port),
        "the demo's ports free after it stopped",
    )


def test_the_demos_links_are_on_the_address_it_serves(
    demo: tuple[subprocess.Popen[str], int, int, Path],
) -> None:
    _, port, _, _ = demo
    base = f"http://127.0.0.1:{port}"
    with urllib.request.urlopen(f"{base}/", timeout=10) as page:  # noqa: S310  (loopback)
        form = page.read().decode()
        # The session cookie is Secure: a browser sends it back to 127.0.0.1, urllib's jar not.
        cookie = page.headers["Set-Cookie"].split(";", 1)[0]
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None
    body = urllib.parse.urlencode(
        {
            "csrf_token": token.group(1),
            "email": "zoe@example.org",
            "request_type": "access",
            "language": "en",
        }
    ).encode()
    filing = urllib.request.Request(f"{base}/", data=body, headers={"Cookie": cookie})  # noqa: S310
    with urllib.request.urlopen(filing, timeout=WAIT_SECONDS) as filed:  # noqa: S310  (loopback)
        assert filed.status == 200  # the "sent" page, after the redirect
    found: list[str] = []

    def mailbox_lists_a_message() -> bool:
        _, mailbox = get(f"{base}/demo/mail")
        found[:] = re.findall(r'href="(/demo/mail/[^"]+)"', mailbox)
        return bool(found)

    wait_until(mailbox_lists_a_message, "a verification email in the demo's mailbox")
    _, shown = get(f"{base}{found[0]}")
    assert f"{base}/verify/" in shown


def test_the_signing_key_is_made_once_and_kept_owner_only(tmp_path: Path) -> None:
    key = demo_secret_key(tmp_path)
    assert len(key) >= 64
    assert demo_secret_key(tmp_path) == key
    assert stat.S_IMODE((tmp_path / KEY_FILE_NAME).stat().st_mode) == 0o600
    (tmp_path / KEY_FILE_NAME).write_text("")
    assert demo_secret_key(tmp_path) not in ("", key)


def test_the_served_address_is_one_a_browser_can_open() -> None:
    assert served_url("127.0.0.1", 5000) == "http://127.0.0.1:5000"
    assert served_url("::1", 8080) == "http://[::1]:8080"
    assert served_url("0.0.0.0", 5000) == "http://127.0.0.1:5000"  # noqa: S104
