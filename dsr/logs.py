"""Logs without personal data: one line per request (its route *pattern*, never the path, which
may hold a token), JSON or text records on stderr, and the servers' own lines made safe.

`init_app` logs every request on the `dsr.access` logger and gives it an id (X-Request-ID);
`configure` sends every record to stderr as JSON (production's default) or text. Exceptions are
logged by class and stack frames only: their messages may quote SQL parameters or form values.
Client addresses are never logged in clear, only as a keyed hash (the same address gives the
same hash, so abuse can be followed without keeping the address).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import sys
import time
import traceback
import uuid
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TextIO

from flask import Flask, Response, current_app, g, has_request_context, request

access_log = logging.getLogger("dsr.access")

JSON = "json"
TEXT = "text"
FORMATS = (JSON, TEXT)

REQUEST_ID_HEADER = "X-Request-ID"
_INCOMING_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
"""A proxy's request id is kept when it looks like one (a UUID, a hex string); anything else
could carry text that does not belong in logs, and is replaced by our own."""

REQUEST_FIELDS = (
    "request_id",
    "method",
    "endpoint",
    "route",
    "status",
    "duration_ms",
    "client",
)
"""The extra fields a record may carry into the JSON line, in this order."""

_STARTED_KEY = "dsr_log_started"
_REQUEST_ID_KEY = "dsr_request_id"


# --- the request line ---------------------------------------------------------------------------


def client_hash(address: str | None, secret: str | bytes) -> str | None:
    """Return a short keyed hash of a client address: unlike a plain hash it cannot be reversed
    by hashing the 2^32 IPv4 addresses, without the secret key."""
    if not address:
        return None
    key = secret if isinstance(secret, bytes) else str(secret).encode()
    return hmac.new(key, b"client-address:" + address.encode(), hashlib.sha256).hexdigest()[:16]


def current_request_id() -> str | None:
    """Return the id of the request being handled, if any."""
    if not has_request_context():
        return None
    value = g.get(_REQUEST_ID_KEY)
    return value if isinstance(value, str) else None


def route_pattern() -> str | None:
    """Return the matched route as declared (/verify/<token>), never the requested path."""
    rule = request.url_rule
    return rule.rule if rule is not None else None


def _start_request() -> None:
    g.setdefault(_STARTED_KEY, time.perf_counter())
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    request_id = incoming if _INCOMING_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
    g.setdefault(_REQUEST_ID_KEY, request_id)


def _log_request(response: Response) -> Response:
    started = g.get(_STARTED_KEY)
    duration = (time.perf_counter() - started) * 1000 if isinstance(started, float) else None
    request_id = current_request_id()
    if request_id is not None:
        response.headers.setdefault(REQUEST_ID_HEADER, request_id)
    route = route_pattern()
    access_log.info(
        "%s %s %s",
        request.method,
        route or "(no route)",
        response.status_code,
        extra={
            "request_id": request_id,
            "method": request.method,
            "endpoint": request.endpoint,
            "route": route,
            "status": response.status_code,
            "duration_ms": round(duration, 1) if duration is not None else None,
            "client": client_hash(request.remote_addr, current_app.config["SECRET_KEY"]),
        },
    )
    return response


def log_exception(
    app: Flask,
    exc_info: tuple[type, BaseException, TracebackType] | tuple[None, None, None],
) -> None:
    """Log an unhandled exception as Flask does, but name the route, not the path."""
    route = route_pattern()
    app.logger.error(
        "Exception on %s [%s]",
        route or "(no route)",
        request.method,
        exc_info=exc_info,
        extra={"request_id": current_request_id(), "method": request.method, "route": route},
    )


def init_app(app: Flask) -> None:
    """Time and log every request; call first, so that the clock starts before other hooks."""
    app.before_request(_start_request)
    app.after_request(_log_request)


# --- formatting ---------------------------------------------------------------------------------


def safe_exception(exc_info: Any) -> dict[str, Any] | None:
    """Return an exception's class and stack frames (file, line, function), without its message
    or the source lines, which may quote personal data."""
    if not exc_info or exc_info is True or exc_info[0] is None:
        return None
    kind, _value, trace = exc_info
    frames = [
        f"{frame.filename}:{frame.lineno} in {frame.name}" for frame in traceback.extract_tb(trace)
    ]
    return {"type": f"{kind.__module__}.{kind.__qualname__}", "frames": frames}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, the request's
    fields when there are some, and an exception's class and frames."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in REQUEST_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        exception = safe_exception(record.exc_info)
        if exception is not None:
            entry["exception"] = exception
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """A line for people: time, level, logger, message, request id; exceptions by class."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        exc_info, record.exc_info, record.exc_text = record.exc_info, None, None
        try:
            line = super().format(record)
        finally:
            record.exc_info = exc_info
        request_id = getattr(record, "request_id", None)
        duration = getattr(record, "duration_ms", None)
        if duration is not None:
            line += f" {duration} ms"
        if request_id:
            line += f" [{request_id}]"
        exception = safe_exception(exc_info)
        if exception is not None:
            line += f" ({exception['type']} at {exception['frames'][-1:]})"
        return line


class RequestIdFilter(logging.Filter):
    """Give every record logged while a request is handled that request's id."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = current_request_id()
        return True


_WERKZEUG_ACCESS = '"%s" %s %s'
_METHOD = re.compile(r"[A-Z]{3,}")


class WerkzeugAccessFilter(logging.Filter):
    """Keep the development server's access lines out of the logs (they hold the client's
    address and the requested path, tokens included): drop them when the desk logs requests
    itself (`drop=True`), else keep only the method, status and size."""

    def __init__(self, *, drop: bool) -> None:
        super().__init__("werkzeug")
        self.drop = drop

    def filter(self, record: logging.LogRecord) -> bool:
        if not (
            record.name == "werkzeug"
            and isinstance(record.msg, str)
            and record.msg.endswith(_WERKZEUG_ACCESS)
            and isinstance(record.args, tuple)
            and len(record.args) == 3
        ):
            return True
        if self.drop:
            return False
        request_line, status, size = record.args
        method = _METHOD.search(str(request_line))  # after an ANSI colour code, if any
        record.msg = _WERKZEUG_ACCESS
        record.args = (f"{method[0] if method else '-'} (path not logged)", status, size)
        return True


def redact_werkzeug_access_lines() -> None:
    """Rewrite the development server's access lines without the address and path (for
    `flask run` when the desk's own logging is not configured)."""
    logger = logging.getLogger("werkzeug")
    if not any(isinstance(each, WerkzeugAccessFilter) for each in logger.filters):
        logger.addFilter(WerkzeugAccessFilter(drop=False))


class StderrHandler(logging.StreamHandler[TextIO]):
    """Write to the current `sys.stderr`, looked up at each record, so that a handler made
    before a stream is swapped (a test runner's capture, a daemon's redirection) still works."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def formatter_for(log_format: str) -> logging.Formatter:
    if log_format not in FORMATS:
        raise ValueError(f"DSR_LOG_FORMAT must be {' or '.join(FORMATS)}, not {log_format!r}")
    return JsonFormatter() if log_format == JSON else TextFormatter()


def configure(log_format: str, level: int = logging.INFO) -> None:
    """Send every record to stderr in `log_format` (json or text), once per process; the
    development server's access lines are dropped (each request is logged by `init_app`)."""
    formatter = formatter_for(log_format)
    root = logging.getLogger()
    ours = [each for each in root.handlers if isinstance(each, StderrHandler)]
    handler = ours[0] if ours else StderrHandler()
    handler.setFormatter(formatter)
    if not ours:
        handler.addFilter(RequestIdFilter())
        handler.addFilter(WerkzeugAccessFilter(drop=True))
        root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("alembic").setLevel(max(level, logging.WARNING))  # not its plugin list
