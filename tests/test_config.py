"""The one settings object: its defaults, how it reads the environment (as Flask's
`from_prefixed_env` does), `instance/config.py` between the two, and the messages on bad values."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Config

from dsr.app import create_app
from dsr.cli import main
from dsr.config import (
    DEFAULTS,
    InsecureConfiguration,
    Settings,
    check_settings,
    current_settings,
    report_rows_per_category,
)
from dsr.datamap import DEFAULT_MAP_PATH as MAP
from dsr.outbox.smtp import SmtpSettings, SmtpSettingsError
from dsr.scheduler.runs import DEFAULT_CLOSED_RETENTION_DAYS, SchedulerSettings


def _load(environ: dict[str, str], folder: Path) -> Settings:
    return Settings.load(environ, instance_path=folder)


def test_the_defaults_come_from_the_one_table(tmp_path: Path) -> None:
    settings = _load({}, tmp_path)
    assert {name: settings.values[name] for name in DEFAULTS} == dict(DEFAULTS)
    assert settings.database_url == f"sqlite:///{(tmp_path / 'dsr.sqlite3').as_posix()}"
    assert settings.values["SYSTEM_ENVIRONMENT"] == {}
    assert settings.instance_path == tmp_path
    assert not settings.production
    assert settings.log_format == "text"
    scheduler = SchedulerSettings.from_settings(settings)
    assert (scheduler.secret_key, scheduler.unverified_expiry_days) == ("dev", 7)
    assert scheduler.closed_request_retention_days == DEFAULT_CLOSED_RETENTION_DAYS
    assert scheduler.smtp == SmtpSettings()
    assert scheduler.run["INSTANCE_PATH"] == str(tmp_path)


def test_the_environment_is_parsed_as_flask_parses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    environ = {
        "DSR_DELIVERY_DAYS": "14",
        "DSR_SMTP_STARTTLS": "true",
        "DSR_PUBLIC_URL": "https://privacy.example.org",
        "DSR_ALLOWED_HOSTS": "probe.internal",
        "DSR_LIMITS__LOGIN": "5",
        "POINT3_PLATFORM_URL": "sqlite:///platform.sqlite3",
    }
    settings = _load(environ, tmp_path)
    assert settings.values["DELIVERY_DAYS"] == 14
    assert settings.values["SMTP_STARTTLS"] is True
    assert settings.values["PUBLIC_URL"] == "https://privacy.example.org"
    assert settings.values["LIMITS"] == {"LOGIN": 5}
    assert settings.values["SYSTEM_ENVIRONMENT"] == environ
    assert "POINT3_PLATFORM_URL" not in settings.values  # only DSR_... variables are settings
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    flask_config = Config(str(tmp_path))
    flask_config.from_prefixed_env("DSR")
    assert {name: settings.values[name] for name in flask_config} == dict(flask_config)


def test_instance_config_is_read_between_the_defaults_and_the_environment(tmp_path: Path) -> None:
    (tmp_path / "config.py").write_text('DELIVERY_DAYS = 9\nREPORTS_DIR = "/srv/reports"\n')
    settings = _load({"DSR_DELIVERY_DAYS": "10"}, tmp_path)
    assert settings.values["DELIVERY_DAYS"] == 10
    assert settings.values["REPORTS_DIR"] == "/srv/reports"
    unread = Settings.load({}, instance_path=tmp_path, config_file=False)
    assert unread.values["REPORTS_DIR"] is None


def test_production_logs_json_and_changes_are_new_objects(tmp_path: Path) -> None:
    settings = _load({"DSR_ENV": "production"}, tmp_path)
    assert settings.production
    assert settings.log_format == "json"
    assert _load({"DSR_ENV": "production", "DSR_LOG_FORMAT": "text"}, tmp_path).log_format == "text"
    chosen = settings.replace(DATA_MAP="other.yaml")
    assert chosen.values["DATA_MAP"] == "other.yaml"
    assert settings.values["DATA_MAP"] is None
    with pytest.raises(TypeError):
        settings.values["DATA_MAP"] = "x"  # type: ignore[index]


@pytest.mark.parametrize(
    ("environ", "error", "message"),
    [
        ({"DSR_UNVERIFIED_EXPIRY_DAYS": "0"}, ValueError, "DSR_UNVERIFIED_EXPIRY_DAYS must be a "),
        ({"DSR_STUCK_PROCESSING_HOURS": "soon"}, ValueError, "invalid literal for int()"),
        ({"DSR_SMTP_PORT": "smtp"}, SmtpSettingsError, "SMTP_PORT must be a whole number"),
        ({"DSR_SMTP_SSL": "maybe"}, SmtpSettingsError, "SMTP_SSL must be true or false"),
        ({"DSR_CALLBACK_ALLOWED_NETWORKS": "intranet"}, ValueError, "DSR_CALLBACK_ALLOWED_NET"),
        ({"DSR_STAFF_LANGUAGE": "de"}, ValueError, "'de' is not a valid Language"),
    ],
)
def test_a_bad_value_is_refused_with_the_variable_named(
    tmp_path: Path, environ: dict[str, str], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        SchedulerSettings.from_settings(_load(environ, tmp_path))


def test_an_unknown_environment_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InsecureConfiguration, match="DSR_ENV must be development or production"):
        _ = _load({"DSR_ENV": "prod"}, tmp_path).production


def test_given_settings_replace_the_environment(tmp_path: Path) -> None:
    settings = Settings.from_mapping({"DELIVERY_DAYS": 3}, instance_path=tmp_path)
    assert settings.values["DELIVERY_DAYS"] == 3
    assert settings.values["SECRET_KEY"] == DEFAULTS["SECRET_KEY"]
    assert "SYSTEM_ENVIRONMENT" not in settings.values


def test_a_command_runs_under_an_application_carrying_the_settings(tmp_path: Path) -> None:
    copy = tmp_path / "copy.yaml"
    copy.write_bytes(MAP.read_bytes())
    seen: list[Settings] = []

    @main.command("settings-probe")
    def probe() -> None:
        seen.append(current_settings())

    try:
        result = CliRunner().invoke(
            main, ["map", "check"], env={"DSR_DATA_MAP": str(copy)}, catch_exceptions=False
        )
        assert result.exit_code == 0
        assert result.output.startswith(f"{copy}: ")
        env = {"DSR_DELIVERY_DAYS": "21", "DSR_DATA_MAP": str(copy)}
        result = CliRunner().invoke(
            main, ["--map", "other.yaml", "settings-probe"], env=env, catch_exceptions=False
        )
        assert result.exit_code == 0
    finally:
        main.commands.pop("settings-probe")
    [settings] = seen
    assert settings.values["DELIVERY_DAYS"] == 21
    assert settings.values["DATA_MAP"] == "other.yaml"  # the option beats the environment


def test_a_command_run_needs_a_secret_key_that_was_set(tmp_path: Path) -> None:
    assert "SECRET_KEY" not in _load({}, tmp_path).for_run()
    run = _load({"DSR_SECRET_KEY": "set-for-the-run"}, tmp_path).for_run()
    assert (run["SECRET_KEY"], run["INSTANCE_PATH"]) == ("set-for-the-run", str(tmp_path))
    assert Settings.from_mapping({"SECRET_KEY": "given"}).for_run()["SECRET_KEY"] == "given"


def test_a_command_checks_its_secrets_not_the_web_servers_defaults(tmp_path: Path) -> None:
    settings = _load({"DSR_ENV": "production", "DSR_REPORTS_DIR": "/srv/reports"}, tmp_path)
    checked = settings.signing()
    assert {"ENV", "SECRET_KEY", "PSEUDONYMISATION_KEY", "PUBLIC_URL"} <= set(checked)
    assert "DATABASE_URL" not in checked  # a SQLite store is the web server's concern
    assert settings.signing(with_given=True)["REPORTS_DIR"] == "/srv/reports"
    with pytest.raises(InsecureConfiguration, match="DSR_SECRET_KEY is not set"):
        check_settings(checked)


def test_a_time_zone_of_the_pages_apart_from_the_maps_is_refused() -> None:
    with pytest.raises(InsecureConfiguration, match="organisation.timezone"):
        check_settings({"BABEL_DEFAULT_TIMEZONE": "UTC"})
    assert "BABEL_DEFAULT_TIMEZONE" not in DEFAULTS


@pytest.mark.parametrize("value", ["abc", "0", "-5", "2.5", "10001"])
def test_a_bad_number_of_report_rows_is_refused_at_start(
    tmp_path: Path, store_url: str, value: str
) -> None:
    settings = _load({"DSR_REPORT_ROWS_PER_CATEGORY": value}, tmp_path)
    with pytest.raises(InsecureConfiguration, match="DSR_REPORT_ROWS_PER_CATEGORY must be"):
        check_settings(settings.values)
    with pytest.raises(InsecureConfiguration, match="DSR_REPORT_ROWS_PER_CATEGORY"):
        create_app({"TESTING": True, "DATABASE_URL": store_url, "REPORT_ROWS_PER_CATEGORY": value})


def test_the_report_rows_come_from_the_environment(tmp_path: Path) -> None:
    assert report_rows_per_category(_load({}, tmp_path).values) == 100
    given = _load({"DSR_REPORT_ROWS_PER_CATEGORY": "25"}, tmp_path).values
    assert report_rows_per_category(given) == 25
