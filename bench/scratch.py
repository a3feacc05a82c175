"""What every bench sets up the same way: a scratch PostgreSQL database on the local server,
dropped afterwards whatever happens, and a free loopback port."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
"""The local server's superuser (trust authentication, as on the machines the benches run on)."""


@contextmanager
def scratch_database(name: str) -> Iterator[str]:
    """Yield the URL of an empty PostgreSQL database `name` (one a crashed run left is dropped
    first), dropped afterwards even if a connection is still open on it (`WITH (FORCE)`)."""
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on at this moment, for a server the bench starts."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def smtp_server(handler: object, host: str = "127.0.0.1") -> Iterator[int]:
    """Run an SMTP server on loopback whose messages go to `handler` (aiosmtpd's handler
    methods); yield its port; stop it afterwards."""
    from aiosmtpd.controller import Controller  # the benches that send no email never need it

    port = free_port(host)
    controller = Controller(handler, hostname=host, port=port, ready_timeout=30)
    controller.start()
    try:
        yield port
    finally:
        with contextlib.suppress(RuntimeError, asyncio.CancelledError):
            controller.stop()
