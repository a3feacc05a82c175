"""The application's settings: their defaults, overridden by `DSR_...` environment variables.

Read once, by `create_app` (web) or by the `dsr` commands' options (command line), both of which
take the same defaults from here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask.sansio.scaffold import find_package

DATABASE_FILE = "dsr.sqlite3"


def default_instance_path() -> Path:
    """Return the folder for the instance's own files, as Flask finds it for this package.

    From a checkout (or an editable install) it is `instance/` beside the `dsr` package; from an
    installed package, `<prefix>/var/dsr-instance`.
    """
    prefix, package_path = find_package("dsr")
    if prefix is None:
        return Path(package_path) / "instance"
    return Path(prefix) / "var" / "dsr-instance"


def default_database_url(instance_path: Path | None = None) -> str:
    """Return the URL of the SQLite store used when DSR_DATABASE_URL is not set."""
    folder = instance_path if instance_path is not None else default_instance_path()
    return f"sqlite:///{(folder / DATABASE_FILE).as_posix()}"


def default_settings(instance_path: Path) -> dict[str, Any]:
    """Return the settings an application starts from, before the environment overrides them."""
    return {
        # Signs sessions and links; set DSR_SECRET_KEY to a long random value in production.
        "SECRET_KEY": "dev",
        "DATABASE_URL": default_database_url(instance_path),
    }
