"""A real gunicorn running the desk for a test, and a small HTTP client that keeps cookies and
follows no redirect, so the tests see each response as a server sends it.

Gunicorn listens on a socket the test binds to a free port first and hands over (`fd://N`): no
race for the port with other workers. It always stops when the block ends, even on failure.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from tests import processes

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DATA_MAP = PROJECT_ROOT / "data_map.yaml"
START_TIMEOUT = 120.0
"""Seconds to wait for two workers to import the app on a loaded two-core machine."""
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def dsr_command(*arguments: str) -> list[str]:
    """The `dsr` command of this virtual environment, run as a separate process."""
    return [sys.executable, "-c", "from dsr.cli import main; main()", *arguments]


def production_environment(**settings: str) -> dict[str, str]:
    """This process's environment without any DSR_ or map setting of the developer's, plus
    `settings`: what an operator's service file would set."""
    kept = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DSR_", "POINT3_", "GUNICORN_", "WEB_CONCURRENCY"))
    }
    return {**kept, **settings}


def run_dsr(
    environment: Mapping[str, str], *arguments: str, cwd: Path
) -> subprocess.CompletedProcess[str]:
    return processes.run(
        dsr_command(*arguments),
        env=dict(environment),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
    )


@dataclass
class Response:
    status: int
    headers: Message
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self) -> Any:
        return json.loads(self.body)

    def csrf_token(self) -> str:
        found = CSRF_FIELD.search(self.text)
        assert found is not None, "no CSRF token on the page"
        return found.group(1)


@dataclass
class Browser:
    """Requests to one server with a cookie jar; cookies marked Secure are sent back over
    plain HTTP too, as a browser does for localhost."""

    host: str
    port: int
    cookies: dict[str, str] = field(default_factory=dict)
    set_cookie_headers: list[str] = field(default_factory=list)

    def request(self, method: str, path: str, form: Mapping[str, str] | None = None) -> Response:
        headers = {"Accept-Language": "en"}
        body = None
        if form is not None:
            body = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            connection.request(method, path, body=body, headers=headers)
            answer = connection.getresponse()
            response = Response(answer.status, answer.headers, answer.read())
        finally:
            connection.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            self.set_cookie_headers.append(header)
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.coded_value
        return response

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post(self, path: str, form: Mapping[str, str]) -> Response:
        return self.request("POST", path, form)

    def submit(self, path: str, form: Mapping[str, str]) -> Response:
        """Load the page at `path`, then post `form` with its CSRF token, as a browser does."""
        page = self.get(path)
        assert page.status == 200, f"GET {path}: {page.status}"
        return self.post(path, {"csrf_token": page.csrf_token(), **form})


@dataclass
class Gunicorn:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    def browser(self) -> Browser:
        return Browser("127.0.0.1", self.port)

    def send_raw(self, data: bytes) -> bytes:
        """Send `data` as is (e.g. a malformed request) and return the start of the answer."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=60) as connection:
            connection.sendall(data)
            return connection.recv(4096)

    def log_lines(self) -> list[str]:
        """The lines gunicorn and the app wrote on stderr and stdout so far."""
        return [line for line in self.log_path.read_text().splitlines() if line.strip()]


def gunicorn_command(fd: int, *, workers: int, with_config: bool) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"fd://{fd}",
        "--workers",
        str(workers),
        "--no-control-socket",  # several servers at once must not share $HOME/.gunicorn
        "--graceful-timeout",
        "10",
    ]
    if with_config:
        command += ["-c", "python:dsr.gunicorn_conf"]
    return [*command, "dsr.app:create_app()"]


@contextmanager
def started_gunicorn(
    environment: Mapping[str, str],
    folder: Path,
    *,
    workers: int = 2,
    with_config: bool = True,
    wait_until_ready: bool = True,
) -> Iterator[Gunicorn]:
    """Run gunicorn on the desk with `environment` until the block ends; its stderr and stdout
    go to a file in `folder`. Wait until it answers /healthz unless told not to."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    log_path = folder / f"gunicorn-{port}.log"
    with log_path.open("ab") as log_file:
        try:
            # In a process group of its own: its workers are ended with it, whatever happens.
            process: subprocess.Popen[bytes] = processes.spawn(
                gunicorn_command(listener.fileno(), workers=workers, with_config=with_config),
                env=dict(environment),
                cwd=folder,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
                pass_fds=(listener.fileno(),),
            )
        finally:
            listener.close()  # gunicorn holds its own copy
    server = Gunicorn(process, port, log_path)
    try:
        if wait_until_ready:
            _wait_until_answering(server)
        yield server
    finally:
        stop(process)


def _wait_until_answering(server: Gunicorn) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(
                f"gunicorn exited with {server.process.returncode}:\n"
                + "\n".join(server.log_lines()[-40:])
            )
        try:
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
            try:
                connection.request("GET", "/healthz")
                connection.getresponse().read()
                return
            finally:
                connection.close()
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"gunicorn did not answer within {START_TIMEOUT:.0f} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop gunicorn gracefully (SIGTERM), then its whole process group if it lingers."""
    processes.stop(process, signum=signal.SIGTERM)


def wait_for_exit(process: subprocess.Popen[bytes], timeout: float = START_TIMEOUT) -> int:
    """Return the exit code of a server expected to stop on its own."""
    return process.wait(timeout=timeout)
