"""A peer that accepts connections and never answers, like a mail server or a callback endpoint
that hangs (moved here from tests/test_background.py when deliveries became worker jobs)."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.waiting import WAIT_SECONDS

CONDITION_TIMEOUT = WAIT_SECONDS


@dataclass
class SilentPeer:
    """A TCP server on loopback that accepts connections and never says a word, like a mail
    server or a callback endpoint that hangs; it tells whether a client is still waiting."""

    listener: socket.socket
    accepted: list[socket.socket] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    @property
    def port(self) -> int:
        port: int = self.listener.getsockname()[1]
        return port

    def serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return  # closed at the end of the test
            with self.changed:
                self.accepted.append(connection)
                self.changed.notify_all()

    def wait_for_a_client(self) -> socket.socket:
        with self.changed:
            if not self.changed.wait_for(lambda: self.accepted, CONDITION_TIMEOUT):
                raise AssertionError("nobody connected")
            return self.accepted[0]

    @staticmethod
    def still_waiting(connection: socket.socket) -> bool:
        """True while the client keeps the connection open without having sent a thing."""
        connection.setblocking(False)
        try:
            return connection.recv(1, socket.MSG_PEEK) != b""  # data: it did not wait
        except BlockingIOError:
            return True  # open, nothing sent
        except OSError:
            return False
        finally:
            connection.setblocking(True)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() of `serve`
        self.listener.close()
        with self.changed:
            for connection in self.accepted:
                connection.close()


@pytest.fixture
def silent_peer() -> Iterator[SilentPeer]:
    listener = socket.create_server(("127.0.0.1", 0))
    peer = SilentPeer(listener)
    thread = threading.Thread(target=peer.serve, daemon=True)
    thread.start()
    yield peer
    peer.close()
    thread.join(CONDITION_TIMEOUT)
