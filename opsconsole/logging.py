"""JSON log lines for the app and for gunicorn, one object per line.

Fields: time, level, logger, message, request_id, method, path, status,
duration_ms, user_id, and exc_info for errors. Nothing here imports Django
models: gunicorn's master process uses this module too.
"""

import contextvars
import json
import logging
import time
from datetime import UTC, datetime

from gunicorn.glogging import Logger as GunicornBaseLogger

# Set by the request middleware for the duration of one request.
request_id_var = contextvars.ContextVar("request_id", default=None)

_REQUEST_FIELDS = (
    "method",
    "path",
    "status",
    "duration_ms",
    "user_id",
    "remote_addr",
    "user_agent",
)


class JsonFormatter(logging.Formatter):
    def format(self, record):
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for field in _REQUEST_FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                entry[field] = value
        for field in ("sql_ms", "sql"):
            value = getattr(record, field, None)
            if value is not None:
                entry[field] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class GunicornLogger(GunicornBaseLogger):
    """gunicorn's error and access logs in the same JSON shape as the app's."""

    def setup(self, cfg):
        super().setup(cfg)
        for logger in (self.error_log, self.access_log):
            for handler in logger.handlers:
                handler.setFormatter(JsonFormatter())

    def access(self, resp, req, environ, request_time):
        if not (self.cfg.accesslog or self.cfg.logconfig or self.cfg.syslog):
            return
        status = (
            resp.status.split(None, 1)[0]
            if isinstance(resp.status, str)
            else (resp.status)
        )
        self.access_log.info(
            "access",
            extra={
                "method": environ.get("REQUEST_METHOD"),
                # The path only: query strings can carry secrets.
                "path": environ.get("PATH_INFO"),
                "status": int(status),
                "duration_ms": round(request_time.total_seconds() * 1000, 2),
                "remote_addr": environ.get("REMOTE_ADDR"),
                "request_id": environ.get("HTTP_X_REQUEST_ID"),
            },
        )


def monotonic_ms(start):
    return round((time.perf_counter() - start) * 1000, 2)


def logging_config(*, level, fmt):
    """Django's LOGGING: one stream of lines on stdout, JSON or text."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {"()": "opsconsole.logging.JsonFormatter"},
            "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        },
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": fmt,
            },
        },
        "root": {"handlers": ["stdout"], "level": level},
        "loggers": {
            # The request middleware logs every request once, with its id;
            # Django's own 4xx warnings would repeat them.
            "django.request": {"level": "ERROR"},
            "django.server": {"level": "WARNING"},
            # django-axes logs several lines per failed sign-in, the user
            # name masked; links.signin logs one, with the name and address.
            "axes": {"level": "ERROR"},
        },
    }
