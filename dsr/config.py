"""The application's settings: their defaults, overridden by `DSR_...` environment variables.

Read once, by `create_app` (web) or by the `dsr` commands' options (command line), both of which
take the same defaults from here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask.sansio.scaffold import find_package

from dsr.links import InvalidPublicUrl, parse_public_url

log = logging.getLogger(__name__)

DATABASE_FILE = "dsr.sqlite3"
DEFAULT_SECRET_KEY = "dev"  # noqa: S105  (the development default, refused in production)
MIN_SECRET_LENGTH = 32
DEVELOPMENT = "development"
PRODUCTION = "production"
ENVIRONMENTS = (DEVELOPMENT, PRODUCTION)


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
        "SECRET_KEY": DEFAULT_SECRET_KEY,
        "DATABASE_URL": default_database_url(instance_path),
        # DSR_ENV=production refuses unsafe settings (see `check_production`).
        "ENV": DEVELOPMENT,
        # json or text: one line per record on stderr; unset, logging is left as it is (the
        # default is json in production).
        "LOG_FORMAT": None,
        # Reverse proxies in front of the desk whose X-Forwarded-For and -Proto are trusted.
        "TRUSTED_PROXIES": 0,
        # Also take the host from their X-Forwarded-Host (only when the proxy sets it itself).
        "TRUST_FORWARDED_HOST": False,
        # The desk's address as people reach it: every link it writes starts with it; in
        # production, requests for another host are refused (unless named in ALLOWED_HOSTS).
        "PUBLIC_URL": None,
        # Other host names the desk answers to in production (comma-separated), e.g. the name a
        # load balancer's health probe uses.
        "ALLOWED_HOSTS": "",
        # Strict-Transport-Security in production: seconds browsers keep to HTTPS (0: no header).
        "HSTS_MAX_AGE": 365 * 24 * 3600,
        "HSTS_INCLUDE_SUBDOMAINS": False,
        # Internal networks that API status callbacks may reach (CIDR blocks separated by
        # commas, e.g. 10.0.0.0/8,127.0.0.0/8); every other non-public address is refused.
        "CALLBACK_ALLOWED_NETWORKS": "",
    }


class InsecureConfiguration(RuntimeError):
    """A setting that must not be used in production; the message names the variable to set."""


def is_production(config: Mapping[str, Any]) -> bool:
    """Tell whether the settings ask for production (DSR_ENV=production); refuse unknown names."""
    environment = str(config.get("ENV") or DEVELOPMENT).strip().lower()
    if environment not in ENVIRONMENTS:
        raise InsecureConfiguration(
            f"DSR_ENV must be {' or '.join(ENVIRONMENTS)}, not {environment!r}."
        )
    return environment == PRODUCTION


def allowed_hosts(config: Mapping[str, Any]) -> list[str]:
    """Return the extra host names of ALLOWED_HOSTS (a comma- or space-separated text, or a
    list), lower-cased."""
    value = config.get("ALLOWED_HOSTS") or ""
    names = value.replace(",", " ").split() if isinstance(value, str) else list(value)
    return [str(name).strip().lower() for name in names if str(name).strip()]


def check_settings(config: Mapping[str, Any]) -> None:
    """Refuse what the settings cannot run with: in production, every unsafe setting
    (`check_production`); elsewhere, a PUBLIC_URL that is set but malformed."""
    if is_production(config):
        check_production(config)
    else:
        check_public_url(config)


def check_public_url(config: Mapping[str, Any]) -> None:
    """Refuse a PUBLIC_URL that is set but not an absolute http(s) address."""
    if config.get("PUBLIC_URL"):
        try:
            parse_public_url(str(config["PUBLIC_URL"]))
        except InvalidPublicUrl as error:
            raise InsecureConfiguration(str(error)) from None


def _public_url_problems(config: Mapping[str, Any]) -> list[str]:
    value = config.get("PUBLIC_URL")
    if not value:
        return [
            "DSR_PUBLIC_URL is not set: set it to the desk's address as people reach it, e.g. "
            "https://privacy.example.org; every link sent by email starts with it."
        ]
    try:
        parts = parse_public_url(str(value))
    except InvalidPublicUrl as error:
        return [str(error)]
    if parts.scheme != "https":
        return [f"DSR_PUBLIC_URL must start with https:// in production, not {value!r}."]
    return []


def check_production(config: Mapping[str, Any]) -> None:
    """Refuse production settings that would let anyone forge links and sessions or read the
    session cookie over plain HTTP; warn about those that merely work less well."""
    problems: list[str] = []
    secret = config.get("SECRET_KEY")
    if not isinstance(secret, str | bytes) or secret in ("", DEFAULT_SECRET_KEY):
        problems.append(
            "DSR_SECRET_KEY is not set: set it to a long random value, e.g. the output of "
            "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`."
        )
    elif len(secret) < MIN_SECRET_LENGTH:
        problems.append(
            f"DSR_SECRET_KEY is too short: use at least {MIN_SECRET_LENGTH} random characters."
        )
    for name in ("PSEUDONYMISATION_KEY", "SUPPRESSION_KEY", "TOTP_ENCRYPTION_KEY"):
        key = config.get(name)
        if key is not None and len(str(key)) < MIN_SECRET_LENGTH:
            problems.append(
                f"DSR_{name} is too short: use at least {MIN_SECRET_LENGTH} random characters "
                "(or leave it unset to use DSR_SECRET_KEY)."
            )
    problems.extend(_public_url_problems(config))
    if not config.get("SESSION_COOKIE_SECURE", True):
        problems.append(
            "DSR_SESSION_COOKIE_SECURE is false: in production the session cookie is sent over "
            "HTTPS only (serve the desk behind HTTPS and remove the setting)."
        )
    if problems:
        raise InsecureConfiguration(
            "The desk refuses to start in production (DSR_ENV=production): " + " ".join(problems)
        )
    if str(config.get("DATABASE_URL", "")).startswith("sqlite"):
        log.warning(
            "the store is a SQLite file: fine for one small server, but PostgreSQL or MariaDB "
            "(DSR_DATABASE_URL) is advised in production"
        )
    if str(config.get("RATELIMIT_STORAGE_URI", "")).startswith("memory://"):
        log.warning(
            "rate limits are counted in memory, by each worker on its own: with several workers "
            "set DSR_RATELIMIT_STORAGE_URI to a shared storage such as redis://127.0.0.1:6379"
        )
