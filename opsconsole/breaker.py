"""Fail fast while the database server is known to be down: a circuit
breaker per process.

Without it, every request of an outage waited DATABASE_POOL_TIMEOUT (10 s)
for a connection that was not coming before its 503. After a failure to
reach the server the breaker opens: requests answer 503 at once for
DATABASE_BREAKER_SECONDS, then one caller (a request or a probe) is the
trial and asks the database with the readiness probe's short timeout; its
answer closes the breaker or keeps it open for another interval.

Only a server that cannot be reached opens it (the engine tells): a lock
timeout or a busy SQLite file is one request's bad luck, not an outage.
"""

import logging
import threading
from time import monotonic

from django.conf import settings

logger = logging.getLogger("tinylink.breaker")

CLOSED = "closed"  # go ahead
OPEN = "open"  # known down: answer 503 without asking the database
TRIAL = "trial"  # this caller asks the database for everyone


class Breaker:
    def __init__(self, clock=monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._retry_at = None  # None while closed
        self._opened_at = None

    def admit(self, seconds):
        """CLOSED, OPEN, or TRIAL for one caller per `seconds` while open
        (and not one caller only: a trial that hangs must not keep the
        breaker open for good)."""
        if self._retry_at is None:  # the hot path takes no lock
            return CLOSED
        with self._lock:
            now = self._clock()
            if self._retry_at is None:
                return CLOSED
            if now < self._retry_at:
                return OPEN
            self._retry_at = now + seconds
            return TRIAL

    def failed(self, seconds):
        """Open (again) for `seconds`; True when this failure opened it."""
        with self._lock:
            now = self._clock()
            opened = self._retry_at is None
            if opened:
                self._opened_at = now
            self._retry_at = now + seconds
            return opened

    def succeeded(self):
        """Close; the seconds it was open, or None when it was closed."""
        if self._retry_at is None:
            return None
        with self._lock:
            if self._retry_at is None:
                return None
            down = self._clock() - self._opened_at
            self._retry_at = self._opened_at = None
            return down


database = Breaker()


def closed():
    """Nothing known to be wrong with the database (no lock, no side effect)."""
    return database._retry_at is None


def admit():
    return database.admit(settings.DATABASE_BREAKER_SECONDS)


def record_failure(exc, engine):
    """After the database error `exc`: opens the breaker when `engine` says
    the server cannot be reached, and drops the pooled connections, which
    were lost with it."""
    if not engine.is_unreachable(exc):
        return
    seconds = settings.DATABASE_BREAKER_SECONDS
    if database.failed(seconds):
        logger.warning(
            "database unreachable (%s): requests answer 503 at once, one tries "
            "again every %ss",
            exc.__class__.__name__,
            seconds,
        )
        engine.drop_pooled_connections()


def record_success():
    down = database.succeeded()
    if down is not None:
        logger.warning("database reachable again after %.1fs", down)


def answers_without_database(view):
    """Marks a view the breaker lets through while the database is down
    (it reports what it can without it, like /metrics)."""
    view.answers_without_database = True
    return view
