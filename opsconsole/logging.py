"""JSON log lines for the app and for gunicorn, one object per line.

Fields: time, level, logger, message, request_id, method, path, status,
duration_ms, user_id, and exc_info for errors. Nothing here imports Django
models: gunicorn's master process uses this module too.
"""

import contextvars
import json
import logging
import os
import threading
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
    # Neither format shows the source line, thread or process of a record;
    # finding them costs every line (the Logging HOWTO's "Optimization").
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {"()": "opsconsole.logging.JsonFormatter"},
            "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        },
        "handlers": {
            "stdout": {
                "class": "opsconsole.logging.BatchingStreamHandler",
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


class BatchingStreamHandler(logging.StreamHandler):
    """Lines written in batches, as nginx's buffered access log does.

    A line per request written and flushed on its own cost the redirect a
    system call and a lock held across it, more than the rest of its work.
    Lines gather here and go out when WRITE_BYTES have gathered, at a
    WARNING or worse (at once, with what came before it, so order is kept),
    at least every FLUSH_SECONDS (a thread), and at exit (logging.shutdown
    flushes handlers). Each write is whole lines of at most PIPE_BUF bytes,
    which a pipe shared by several processes never interleaves. `kill -9`
    loses at most the last FLUSH_SECONDS of INFO lines.
    """

    WRITE_BYTES = 4096  # PIPE_BUF on Linux
    FLUSH_SECONDS = 0.5

    def __init__(self, stream=None):
        super().__init__(stream)
        self._lines = []
        self._size = 0
        self._timer_pid = None
        # Nothing pending may be copied into a forked child, to be written
        # twice (gunicorn's preload_app sets logging up before it forks).
        os.register_at_fork(before=self.flush)

    def emit(self, record):
        try:
            line = self.format(record) + self.terminator
        except Exception:  # noqa: BLE001 - logging's own contract
            self.handleError(record)
            return
        # Handler.handle holds self.lock around emit. Bytes, not characters:
        # the lines are UTF-8, and a write over PIPE_BUF may interleave.
        self._lines.append(line)
        self._size += len(line) if line.isascii() else len(line.encode())
        if self._size >= self.WRITE_BYTES or record.levelno >= logging.WARNING:
            self._write_out()
        elif self._timer_pid != os.getpid():
            self._start_timer()

    def flush(self):
        self.acquire()
        try:
            self._write_out()
        finally:
            self.release()

    def _write_out(self):
        lines, self._lines, self._size = self._lines, [], 0
        if not lines or not self.stream:
            return
        chunk, size = [], 0
        for line in lines:
            length = len(line) if line.isascii() else len(line.encode())
            if chunk and size + length > self.WRITE_BYTES:
                self.stream.write("".join(chunk))
                chunk, size = [], 0
            chunk.append(line)
            size += length
        self.stream.write("".join(chunk))
        if hasattr(self.stream, "flush"):
            self.stream.flush()

    def _start_timer(self):
        # One per process: gunicorn forks workers after logging is set up.
        self._timer_pid = os.getpid()
        threading.Thread(
            target=self._flush_every, name="tinylink-log-flusher", daemon=True
        ).start()

    def _flush_every(self):
        while True:
            time.sleep(self.FLUSH_SECONDS)
            try:
                self.flush()
            except Exception:  # noqa: BLE001, S112 - the thread must go on
                # A closed or full stream: those lines are lost (as they
                # would be unbuffered), later ones are tried again; logging
                # it would only come back here.
                continue
