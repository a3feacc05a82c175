"""The application factory: it refuses a store that is behind and commits once per request."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import make_url, text
from sqlalchemy.engine import Engine
from sqlmodel import select

from dsr import db
from dsr.accounts.access import public_endpoint
from dsr.app import create_app
from dsr.config import default_database_url, default_instance_path
from dsr.requests.models import ReferenceCounter


def _app(url: str) -> Flask:
    # These tests post to routes they add themselves, without a form: no CSRF token to send.
    return create_app({"TESTING": True, "DATABASE_URL": url, "WTF_CSRF_ENABLED": False})


def test_it_refuses_a_database_that_was_never_migrated(engine_url: str) -> None:
    shown = make_url(engine_url).render_as_string(hide_password=True)
    with pytest.raises(db.DatabaseNotUpToDate) as refused:
        _app(engine_url)
    assert str(refused.value) == (
        f"The database at {shown} is not up to date: run `dsr db upgrade`."
    )


def test_it_refuses_a_database_one_revision_behind(migrated_url: str) -> None:
    engine = db.make_engine(migrated_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'older'"))
    with pytest.raises(db.DatabaseNotUpToDate, match="newer version"):
        _app(migrated_url)


def test_a_missing_sqlite_file_is_refused_and_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "nothing-here.sqlite3"
    with pytest.raises(db.DatabaseNotUpToDate, match="run `dsr db upgrade`"):
        _app(f"sqlite:///{missing}")
    assert not missing.exists()


@pytest.mark.databases("postgresql")
def test_the_password_never_shows_in_the_message(engine_url: str) -> None:
    with_password = make_url(engine_url).set(password="s3cret")
    with pytest.raises(db.DatabaseNotUpToDate) as refused:
        _app(with_password.render_as_string(hide_password=False))
    assert "s3cret" not in str(refused.value)


def test_it_starts_on_an_upgraded_database(migrated_url: str) -> None:
    app = _app(migrated_url)
    with app.app_context():
        assert db.get_session() is db.get_session()
        assert db.get_engine().url == make_url(migrated_url)


def test_the_database_url_comes_from_the_environment(
    migrated_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DSR_DATABASE_URL", migrated_url)
    app = create_app()
    assert app.config["DATABASE_URL"] == migrated_url


def test_the_default_store_is_a_file_in_the_instance_folder() -> None:
    app = Flask("dsr.app", instance_relative_config=True)
    expected = Path(app.instance_path) / "dsr.sqlite3"
    assert default_instance_path() == Path(app.instance_path)
    assert make_url(default_database_url()).database == expected.as_posix()


def _counter_years(engine: Engine) -> list[int]:
    with db.open_session(engine) as session:
        return list(session.exec(select(ReferenceCounter.year)).all())


def test_a_request_commits_once_on_success_and_rolls_back_on_error(migrated_url: str) -> None:
    app = _app(migrated_url)

    @app.post("/counter/<int:year>/<int:status>")
    @public_endpoint  # a test route: the staff guard is not under test
    def add_counter(year: int, status: int) -> tuple[str, int]:
        db.get_session().add(ReferenceCounter(year=year, last_number=1))
        db.get_session().flush()
        return "", status

    @app.post("/boom")
    @public_endpoint  # a test route: the staff guard is not under test
    def boom() -> str:
        db.get_session().add(ReferenceCounter(year=1999, last_number=1))
        db.get_session().flush()
        raise RuntimeError("a bug")

    client = app.test_client()
    assert client.post("/counter/2001/303").status_code == 303
    assert client.post("/counter/2002/422").status_code == 422
    app.testing = False  # let Flask turn the exception into a 500, as in production
    assert client.post("/boom").status_code == 500

    assert _counter_years(db.get_engine(app)) == [2001]
