"""Make a freshly started web process ready before its first request.

A gunicorn worker builds what the pages need lazily: the data map is parsed, each Jinja template
(pages and emails) compiled, each language's catalogue loaded, the ORM's mappers configured, the
email address validator imported and the workers' queue built (Huey and the jobs imported) by the
first request that needs them. A restarted process paid for all of it in its first public
submission (bench/cold_start.py: the first GET + POST 235 ms against 9 ms for the next ones; 49 ms
after the warm-up, which delays the worker's first request by 0.8-1.2 s), so that a deploy, or
a worker recycled under load, left a backlog behind its first requests. `warm_up` does that work
once, before the process accepts a connection (`dsr.gunicorn_conf` calls it from gunicorn's
`post_worker_init`), then moves everything made so far out of the garbage collector's reach
(`gc.freeze`): what a process keeps for its whole life is no longer walked by every full
collection during the requests.

It serves no request: nothing is written to the store (only the queue's SQLite file is created,
as the first job would), nothing is counted against a rate limit, one line is logged. A map or a
queue setting that does not load is left for the requests to report, as without the warm-up.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import time
from dataclasses import dataclass

import flask_babel  # type: ignore[import-untyped]
from flask import Flask
from sqlalchemy.orm import configure_mappers

from dsr.datamap import desk_map
from dsr.i18n import LANGUAGES
from dsr.languages import Language
from dsr.outbox.emails import EMAIL_FOLDER, email_environment
from dsr.worker.queue import QueueSettingError, queue_for
from inventory.loader import MapError

log = logging.getLogger("dsr.warm_up")


@dataclass(frozen=True)
class WarmUp:
    """What `warm_up` prepared."""

    templates: int
    map_loaded: bool
    frozen_objects: int
    seconds: float


def warm_up(app: Flask) -> WarmUp:
    """Parse the desk's map, compile every template of `app` and of the emails, load every
    language's catalogue, configure the mappers, import the address validator and build the
    queue (a setting that names none is left for the requests to report), then freeze
    the garbage collector's view of what exists; return what was done."""
    started = time.perf_counter()
    with app.app_context():
        try:
            desk_map(app.config)
            map_loaded = True
        except MapError:
            map_loaded = False  # each request that needs it says what is wrong, as before
    templates = 0
    for name in app.jinja_env.list_templates():
        if not name.startswith(f"{EMAIL_FOLDER}/"):  # the emails have environments of their own
            app.jinja_env.get_template(name)
            templates += 1
    for language in Language:
        environment = email_environment(language)
        for name in environment.list_templates():
            environment.get_template(name)
            templates += 1
    for code in LANGUAGES:
        with app.test_request_context("/", headers={"Accept-Language": code}):
            flask_babel.get_translations()
    configure_mappers()
    with contextlib.suppress(QueueSettingError):  # each request that queues a job says so
        queue_for(app.config, app.instance_path)
    import email_validator  # noqa: F401, PLC0415 (what the forms' Email validator imports lazily)

    gc.collect()
    gc.freeze()
    done = WarmUp(
        templates=templates,
        map_loaded=map_loaded,
        frozen_objects=gc.get_freeze_count(),
        seconds=time.perf_counter() - started,
    )
    log.info("web process warmed up", extra={"duration_ms": round(done.seconds * 1000)})
    return done
