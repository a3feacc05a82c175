"""The application's settings: their defaults, overridden by `DSR_...` environment variables.

Read once into a `Settings` object, by `create_app` (web) and by the `dsr` command group
(command line), both from the one table `DEFAULTS`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

from flask import Config, current_app
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


DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {
        # Signs sessions and links; set DSR_SECRET_KEY to a long random value in production.
        "SECRET_KEY": DEFAULT_SECRET_KEY,
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
        # --- the web application
        "MAX_CONTENT_LENGTH": 128 * 1024,  # the longest form, all in 4-byte characters, fits
        "SESSION_COOKIE_SAMESITE": "Lax",
        "RATELIMIT_STORAGE_URI": "memory://",
        # Said for every application: Flask-Limiter's one `limiter` would otherwise keep the last
        # application's choice (an app made with limits off would leave them off for the next).
        "RATELIMIT_ENABLED": True,
        # --- the learner's side
        "PUBLIC_LIMIT_PER_ADDRESS": "10/hour",
        "PUBLIC_LIMIT_PER_EMAIL": "5/hour",
        "VERIFICATION_LINK_MAX_AGE_HOURS": 48,
        "DELIVER_AFTER_COMMIT": True,
        # --- staff sessions (DSR_SESSION_COOKIE_SECURE=false only to serve over plain HTTP on
        # a development machine)
        "TOTP_REQUIRED": False,
        "STAFF_IDLE_TIMEOUT_MINUTES": 30,
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=8),
        "SESSION_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        # --- staff logins
        "STAFF_LOGIN_LIMIT_PER_ADDRESS": "20/15 minutes",
        # Failed logins per account and address, then per address, before a wait that doubles.
        "STAFF_LOGIN_MAX_FAILURES": 5,
        "STAFF_LOGIN_MAX_FAILURES_PER_ADDRESS": 20,
        "STAFF_LOGIN_DELAY_SECONDS": 60,
        "STAFF_LOGIN_LONGEST_DELAY_MINUTES": 60,
        "STAFF_SECOND_FACTOR_MINUTES": 5,
        "INVITATION_LINK_MAX_AGE_HOURS": 72,
        "PASSWORD_RESET_LINK_MAX_AGE_MINUTES": 60,
        "TOTP_ISSUER": "Privacy desk",
        # Encrypts the stored TOTP secrets; SECRET_KEY is used when it is not set (changing it
        # then makes staff use a recovery code and enrol again).
        "TOTP_ENCRYPTION_KEY": None,
        # --- the API and its status callbacks
        "API_RATE_LIMIT": "300/minute",  # per token (per address for calls without one)
        "API_CALLBACK_TIMEOUT_SECONDS": 5.0,
        # --- execution of requests and delivery of their reports
        "EXECUTE_AFTER_APPROVAL": True,
        # Apply an objection to marketing as soon as the address is verified.
        "OBJECTION_IMMEDIATE": True,
        "REPORTS_DIR": None,  # None: <instance>/reports
        "DELIVERY_DAYS": 7,
        "DOWNLOADS_ALLOWED": 3,
        "DOWNLOAD_LIMIT_PER_ADDRESS": "30/hour",
        "DOWNLOAD_CODES_PER_LINK": "5/hour",
        # Rows of a category printed in the access report's PDF; all of them are in the export.
        "REPORT_ROWS_PER_CATEGORY": 100,
        # The largest document a request keeps (a letter received, a mandate, an identity
        # document), in bytes: from 1 KiB to 50 MiB (dsr.documents).
        "DOCUMENT_MAX_BYTES": 10 * 1024 * 1024,
        # --- the data map (None: data_map.yaml of the checkout, see dsr.datamap)
        "DATA_MAP": None,
        # Seconds between two comparisons of a system's schema with the reflection the process
        # keeps (readers; an erasure or a sweep compares first), see inventory.systems.
        "SCHEMA_CHECK_SECONDS": 5,
        # --- the demo learner platform that `dsr demo seed` fills
        "DEMO_PLATFORM_URL": "sqlite:///instance/demo-platform.sqlite3",
        # --- the retention sweeps
        "RETENTION_WARNING_DAYS": 30,
        "RETENTION_BATCH_SIZE": 5000,
        "RETENTION_WARNING_LANGUAGE": "fr",
        # A nightly sweep that would delete or anonymise more than this share of any table
        # waits for a person's approval on the dashboard (0 < share <= 1; 1: only map changes).
        "RETENTION_APPROVAL_SHARE": 0.10,
        # --- the scheduler's jobs
        "UNVERIFIED_EXPIRY_DAYS": 7,
        "CLOSED_REQUEST_RETENTION_DAYS": 5 * 365 + 1,  # R32: five years
        "STUCK_PROCESSING_HOURS": 24,
        "STAFF_LANGUAGE": "fr",
        # Email the audit chain's anchor to the DPOs and admins every week (dsr.audit.anchor).
        "AUDIT_ANCHOR_EMAIL": True,
        # --- how long the desk keeps its own records, in days (dsr.records, README)
        "UNVERIFIED_RETENTION_DAYS": 30,  # a request never verified, after its receipt
        "JOB_RUN_RETENTION_DAYS": 90,  # the scheduler's runs and the workers' runs of requests
        "OUTBOX_RETENTION_DAYS": 90,  # an email once sent
        "CALLBACK_RETENTION_DAYS": 90,  # an API status callback once delivered
        "SECURITY_LOG_RETENTION_DAYS": 365,  # R43: 6 to 12 months
        # --- the workers (`dsr worker`): the queue that carries their jobs (unset: a SQLite file
        # queue.sqlite3 in the instance folder; redis://host:6379/0 for workers on several
        # machines; immediate runs each job at once in the process that queues it, for the test
        # suite only), the threads of one worker, how long a run's lease lasts unless renewed,
        # and how long an approved request may wait for its run before the recovery queues it again
        "QUEUE_URL": None,
        "QUEUE_NAME": "dsr",
        "WORKER_THREADS": 4,
        "WORKER_LEASE_SECONDS": 60,
        "WORKER_RECOVERY_GRACE_MINUTES": 5,
        # how much lower than the web's a `dsr worker`'s CPU priority is (added to its niceness)
        "WORKER_NICE": 10,
        # --- the default language of the pages (Flask-Babel); their time zone is the map's
        # organisation.timezone
        "BABEL_DEFAULT_LOCALE": "fr",
    }
)
"""The one table of the desk's settings and their defaults; each can be set as DSR_<NAME> (or in
`instance/config.py`). DATABASE_URL, whose default depends on the instance folder, is added by
`Settings.load`."""


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


TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})
FLAG_SETTINGS = (
    "TRUST_FORWARDED_HOST",
    "HSTS_INCLUDE_SUBDOMAINS",
    "DELIVER_AFTER_COMMIT",
    "EXECUTE_AFTER_APPROVAL",
    "AUDIT_ANCHOR_EMAIL",
)
"""Yes/no settings the application checks at start (SMTP_SSL and SMTP_STARTTLS: the outbox)."""


def flag(value: object, name: str) -> bool:
    """Read the yes/no setting `name`, given as a bool or as text (true/false, yes/no, on/off,
    1/0; unset is no); raise ValueError naming it for anything else, so that a typo never
    silently turns a setting off."""
    if value is None or isinstance(value, bool):
        return bool(value)
    text = str(value).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise ValueError(f"{name} must be true or false, not {value!r}")


def setting_on(config: Mapping[str, Any], name: str) -> bool:
    """Read the yes/no setting `name` (without its DSR_ prefix) strictly, its default when unset."""
    return flag(config.get(name, DEFAULTS[name]), f"DSR_{name}")


def check_settings(config: Mapping[str, Any]) -> None:
    """Refuse what the settings cannot run with: a yes/no setting that is neither; in
    production, every unsafe setting (`check_production`); elsewhere, a PUBLIC_URL that is set
    but malformed."""
    for name in FLAG_SETTINGS:
        try:
            setting_on(config, name)
        except ValueError as error:
            raise InsecureConfiguration(str(error)) from None
    seconds = config.get("SCHEMA_CHECK_SECONDS", 0)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds >= 0:
        raise InsecureConfiguration(
            f"DSR_SCHEMA_CHECK_SECONDS must be a number of seconds, 0 or more, not {seconds!r}"
        )
    report_rows_per_category(config)
    document_max_bytes(config)
    retention_approval_share(config)
    if config.get("BABEL_DEFAULT_TIMEZONE") is not None:
        raise InsecureConfiguration(
            "DSR_BABEL_DEFAULT_TIMEZONE is not read: the desk shows dates in the organisation's "
            "time zone, `organisation.timezone` in the data map. Unset it."
        )
    check_worker_settings(config)
    check_record_periods(config)
    if is_production(config):
        check_production(config)
    else:
        check_public_url(config)


WORKER_NUMBERS = ("WORKER_THREADS", "WORKER_LEASE_SECONDS", "WORKER_RECOVERY_GRACE_MINUTES")


def check_worker_settings(config: Mapping[str, Any]) -> None:
    """Refuse a QUEUE_URL that names no queue the workers can use, and a worker setting that is
    not a positive number, at start rather than at the first job or run."""
    from dsr.worker.queue import QueueSettingError, queue_address

    try:
        queue_address(config, default_instance_path())
    except QueueSettingError as error:
        raise InsecureConfiguration(str(error)) from None
    for name in WORKER_NUMBERS:
        value = config.get(name)
        value = DEFAULTS[name] if value is None or value == "" else value
        try:
            positive = not isinstance(value, bool) and float(value) > 0
        except (TypeError, ValueError):
            positive = False
        if not positive:
            raise InsecureConfiguration(f"DSR_{name} must be a positive number, not {value!r}.")
    worker_nice(config)


MAX_WORKER_NICE = 19
"""The lowest CPU priority there is (niceness 19)."""


def worker_nice(config: Mapping[str, Any]) -> int:
    """Return how much a `dsr worker` lowers its CPU priority (DSR_WORKER_NICE, a whole number
    from 0, unchanged, to MAX_WORKER_NICE); raise InsecureConfiguration naming the variable
    otherwise."""
    return whole_number(
        config, "WORKER_NICE", 0, MAX_WORKER_NICE, f"a whole number from 0 to {MAX_WORKER_NICE}"
    )


def whole_number(config: Mapping[str, Any], name: str, low: int, high: int, must: str) -> int:
    """Return the setting `name` (its default when unset), a whole number from `low` to `high`;
    raise InsecureConfiguration saying "DSR_<name> must be <must>" otherwise."""
    value = config.get(name)
    if value is None or value == "":
        value = DEFAULTS[name]
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or not low <= int(text) <= high:
        raise InsecureConfiguration(f"DSR_{name} must be {must}, not {value!r}.")
    return int(text)


def check_record_periods(config: Mapping[str, Any]) -> None:
    """Refuse a period of the desk's own records that is not a whole number of days in its
    bounds (dsr.records), at start rather than at the scheduler's first run."""
    from dsr.records import RecordPeriods

    try:
        RecordPeriods.from_config(config)
    except ValueError as error:
        raise InsecureConfiguration(str(error)) from None


MAX_REPORT_ROWS = 10_000
"""Beyond this many rows a category's pages are no longer read, and the printed rows are held in
memory while laid out: all of them are in the complete export anyway."""


def report_rows_per_category(config: Mapping[str, Any]) -> int:
    """Return how many rows of a category the access report prints (DSR_REPORT_ROWS_PER_CATEGORY,
    a whole number from 1 to MAX_REPORT_ROWS); raise InsecureConfiguration naming the variable
    otherwise, so that a typo stops the desk at start rather than failing every access request."""
    return whole_number(
        config,
        "REPORT_ROWS_PER_CATEGORY",
        1,
        MAX_REPORT_ROWS,
        f"a whole number from 1 to {MAX_REPORT_ROWS:,} (the rows of a category printed in the "
        "access report)",
    )


DOCUMENT_BYTES = (1024, 50 * 1024 * 1024)
"""The range DSR_DOCUMENT_MAX_BYTES may take."""


def document_max_bytes(config: Mapping[str, Any]) -> int:
    """Return the largest document a request may keep (DSR_DOCUMENT_MAX_BYTES, a whole number of
    bytes within DOCUMENT_BYTES); raise InsecureConfiguration naming the variable otherwise."""
    low, high = DOCUMENT_BYTES
    return whole_number(
        config,
        "DOCUMENT_MAX_BYTES",
        low,
        high,
        f"a whole number of bytes from {low:,} to {high:,} (the largest document kept with a "
        "request)",
    )


def retention_approval_share(config: Mapping[str, Any]) -> float:
    """Return the share of a table above which a nightly sweep waits for approval
    (DSR_RETENTION_APPROVAL_SHARE, a number above 0 and at most 1); raise InsecureConfiguration
    naming the variable otherwise, at start rather than at the first night's sweep."""
    value = config.get("RETENTION_APPROVAL_SHARE")
    if value is None or value == "":
        value = DEFAULTS["RETENTION_APPROVAL_SHARE"]
    try:
        share = float(value) if not isinstance(value, bool) else -1.0
    except (TypeError, ValueError):
        share = -1.0
    if not 0 < share <= 1:
        raise InsecureConfiguration(
            "DSR_RETENTION_APPROVAL_SHARE must be a number above 0 and at most 1 (e.g. 0.1: a "
            f"sweep that would change more than a tenth of a table waits for approval), "
            f"not {value!r}."
        )
    return share


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
    if str(config.get("QUEUE_URL") or "").strip().lower() == "immediate":
        problems.append(
            "DSR_QUEUE_URL is immediate: jobs would run inside web requests; unset it (a queue "
            "file in the instance folder) or set it to redis://... and run `dsr worker`."
        )
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


@dataclass(frozen=True, slots=True)
class Settings:
    """The desk's settings, read once per process: `DEFAULTS`, then `instance/config.py`, then the
    DSR_... environment variables. The web application's configuration and every `dsr` command
    are built from it; nothing else reads the environment.

    `values` holds every setting by its name without the prefix (SECRET_KEY, DATA_MAP...), and
    SYSTEM_ENVIRONMENT, the environment the map's systems read their URLs from; `given` names
    the settings set by `instance/config.py`, the environment or the caller, not by the defaults.
    """

    values: Mapping[str, Any]
    instance_path: Path
    given: frozenset[str] = frozenset()

    @classmethod
    def load(
        cls,
        environ: Mapping[str, str],
        *,
        instance_path: Path | None = None,
        config_file: bool = True,
    ) -> Settings:
        """Read the settings from `environ` (a process environment) over the defaults.

        DSR_<NAME> sets NAME, its value parsed as JSON when it is JSON and kept as text otherwise
        (as Flask's `from_prefixed_env`; DSR_A__B sets B in the dictionary A). With
        `config_file`, `instance/config.py` is read between the defaults and the environment.
        """
        folder = instance_path if instance_path is not None else default_instance_path()
        starting = _starting_values(folder)
        values = Config(str(folder), starting)
        if config_file:
            values.from_pyfile("config.py", silent=True)
        given = {
            name
            for name, value in values.items()
            if name not in starting or starting[name] is not value
        }
        for key in sorted(environ):
            if key.startswith(PREFIX):
                name = key.removeprefix(PREFIX)
                _set_from_text(values, name, environ[key])
                given.add(name.split("__")[0])
        values.setdefault("SYSTEM_ENVIRONMENT", dict(environ))
        return cls(MappingProxyType(dict(values)), folder, frozenset(given))

    @classmethod
    def from_process(cls, *, instance_path: Path | None = None) -> Settings:
        """Read the settings of this process: its environment, the only place the desk reads
        it (by `create_app` and by the `dsr` commands)."""
        return cls.load(os.environ, instance_path=instance_path)

    @classmethod
    def from_mapping(
        cls, given: Mapping[str, Any], *, instance_path: Path | None = None
    ) -> Settings:
        """Return the defaults overridden by `given` (settings by name, as tests pass them),
        without reading the environment or `instance/config.py`."""
        folder = instance_path if instance_path is not None else default_instance_path()
        return cls(
            MappingProxyType({**_starting_values(folder), **given}), folder, frozenset(given)
        )

    def replace(self, **changes: Any) -> Settings:
        """Return these settings with some values changed (e.g. DATA_MAP from `dsr --map`)."""
        return Settings(
            MappingProxyType({**self.values, **changes}),
            self.instance_path,
            self.given | frozenset(changes),
        )

    @property
    def database_url(self) -> str:
        """The URL of the desk's own store (DSR_DATABASE_URL)."""
        return str(self.values["DATABASE_URL"])

    @property
    def production(self) -> bool:
        """Whether DSR_ENV=production; raise InsecureConfiguration for an unknown name."""
        return is_production(self.values)

    @property
    def log_format(self) -> str:
        """How a command logs, as the web application does: DSR_LOG_FORMAT, else JSON with
        DSR_ENV=production and text otherwise."""
        chosen = str(self.values.get("LOG_FORMAT") or "").strip()
        production = str(self.values.get("ENV") or "").strip().lower() == PRODUCTION
        return chosen or ("json" if production else "text")

    def signing(self, *, with_given: bool = False) -> dict[str, Any]:
        """Return the settings a command checks before it signs links or hashes addresses
        (`check_settings`): ENV, the secrets and PUBLIC_URL, and with `with_given` every other
        setting that was set, but not the web server's defaults (its store, its rate limits),
        which are no concern of the command."""
        names = set(SIGNING_SETTINGS) | (self.given if with_given else set())
        names.discard("SYSTEM_ENVIRONMENT")
        return {name: self.values.get(name) for name in sorted(names)}

    def for_run(self) -> dict[str, Any]:
        """Return the settings a command's executor or sweep reads: the values and
        INSTANCE_PATH, without the development SECRET_KEY unless it was set: a command that
        pseudonymises or signs asks for DSR_SECRET_KEY instead of using the default."""
        run = {**self.values, "INSTANCE_PATH": str(self.instance_path)}
        if "SECRET_KEY" not in self.given:
            del run["SECRET_KEY"]
        return run


PREFIX = "DSR_"
SIGNING_SETTINGS = (
    "ENV",
    "SECRET_KEY",
    "PSEUDONYMISATION_KEY",
    "SUPPRESSION_KEY",
    "TOTP_ENCRYPTION_KEY",
    "PUBLIC_URL",
)
"""What a command that signs links and hashes addresses checks in production."""


def _starting_values(instance_path: Path) -> dict[str, Any]:
    return {**DEFAULTS, "DATABASE_URL": default_database_url(instance_path)}


def _set_from_text(values: dict[str, Any], key: str, text: str) -> None:
    value: Any = text
    with contextlib.suppress(ValueError):
        value = json.loads(text)
    if "__" not in key:
        values[key] = value
        return
    current = values
    *parts, tail = key.split("__")
    for part in parts:
        current = current.setdefault(part, {})
    current[tail] = value


SETTINGS_KEY = "dsr.settings"


def current_settings() -> Settings:
    """Return the settings of the current application (web or `dsr` command)."""
    settings: Settings = current_app.extensions[SETTINGS_KEY]
    return settings
