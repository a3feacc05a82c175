"""The Flask application factory: settings, the store, and (as they come) extensions and
blueprints are registered here and nowhere else."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from dsr import db
from dsr.config import default_instance_path, default_settings


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Create the application; refuse to start on a database whose schema is behind.

    Settings come from the defaults, then `instance/config.py`, then `DSR_...` environment
    variables (e.g. DSR_DATABASE_URL, DSR_SECRET_KEY); `test_config` replaces the last two.
    Raise `db.DatabaseNotUpToDate`, naming the command to run, when the store needs migrating.
    """
    instance_path = default_instance_path()
    app = Flask(__name__, instance_path=str(instance_path), instance_relative_config=True)
    app.config.from_mapping(default_settings(instance_path))
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env("DSR")
    else:
        app.config.from_mapping(test_config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    db.import_models()
    db.init_app(app)
    try:
        db.ensure_database_is_current(db.get_engine(app))
    except db.DatabaseNotUpToDate:
        db.get_engine(app).dispose()
        raise
    return app
