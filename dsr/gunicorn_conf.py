"""Gunicorn settings for the desk: `gunicorn -c python:dsr.gunicorn_conf "dsr.app:create_app()"`.

Gunicorn's own lines (start, workers, errors) become JSON like the application's, with no path
or client address; its access log stays off whatever the command line says, because the desk
logs every request itself with the route pattern instead of the path (paths hold tokens).
Bind address and workers come from the command line (`--bind`, `--workers`) or WEB_CONCURRENCY.
Each worker prepares itself (`dsr.warm_up`) before it takes its first request.
"""

from __future__ import annotations

import logging
from typing import Any

from gunicorn import glogging  # type: ignore[import-untyped]

from dsr import logs
from dsr.warm_up import warm_up

_WITHHELD_PREFIXES = ("Error handling request", "Invalid request from ip=")
"""Gunicorn messages that quote the requested URI or the client's address (and the bad request
line): only their first words are kept."""


class _WithholdRequestDetails(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.msg if isinstance(record.msg, str) else ""
        for prefix in _WITHHELD_PREFIXES:
            if message.startswith(prefix):
                record.msg = prefix.removesuffix(" from ip=") + " (details not logged)"
                record.args = ()
        return True


class JsonLogger(glogging.Logger):  # type: ignore[misc]
    """Gunicorn's logger, writing JSON lines on stderr and no access log."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        logs.configure(logs.JSON, level=self.loglevel)
        for handler in self.error_log.handlers:
            handler.setFormatter(logs.JsonFormatter())
            if not any(isinstance(each, _WithholdRequestDetails) for each in handler.filters):
                handler.addFilter(_WithholdRequestDetails())
        self.access_log.handlers.clear()

    @property
    def access_log_enabled(self) -> bool:
        return False

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        """Log nothing: the application logs each request without its path."""


logger_class = JsonLogger
accesslog = None


def post_worker_init(worker: Any) -> None:
    """Warm the worker's application up before it accepts a connection (`dsr.warm_up`)."""
    warm_up(worker.wsgi)
