"""Clicks counted in memory and written in batches: the redirect's only write.

A redirect adds its click here (a dict update under a lock); a thread of the
process writes what has gathered every CLICK_FLUSH_SECONDS, in one
transaction: one UPDATE per link (click_count + n, last_access_at) and one
upsert per link and day. Increments are added in the database, never
read-modify-written, so any number of processes and hosts can flush at once.

Nothing is lost on a graceful stop: gunicorn's worker_exit hook (graceful
shutdown, max_requests recycling, reload) and atexit flush what is pending.
A failed write keeps the clicks pending for the next try. `kill -9` of a
process loses at most the clicks of its last CLICK_FLUSH_SECONDS.

While a restore holds clicks (links.click_hold) nothing is written: the
clicks wait here, and are written into the restored data once it is done,
only to links that it has with the same id and code.

Links with a click limit are not counted here: links.clicks.record_click
counts them in the database at once, so the limit is never overshot.
CLICK_FLUSH_SECONDS = 0 writes every click before the redirect answers.
"""

import atexit
import logging
import os
import threading
import time
from collections import defaultdict

from django.conf import settings
from django.db import DatabaseError, connection, transaction

from links import click_hold
from links.driver import DriverCursor
from links.metrics import CLICK_FLUSH_FAILURES, CLICKS_DROPPED, CLICKS_WRITTEN
from links.models import LinkDailyClicks

logger = logging.getLogger("tinylink.clicks")
WARN_EVERY_SECONDS = 60
EXIT_ATTEMPTS = 5
_lock = threading.Lock()  # guards _pending
_flush_lock = threading.Lock()  # one flush at a time per process
# (link id, short code) -> [clicks, last click time, {day: clicks}]
_pending = {}
# The process whose thread runs, and that thread's token: a thread ends when
# the token is no longer its own (tests stop one by setting pid to None).
_flusher = {"pid": None, "token": None, "warned_at": None}


def add(link, now):
    """Count one click of `link` (anything with .pk and .short_code)."""
    key = (link.pk, link.short_code)
    with _lock:
        entry = _pending.get(key)
        if entry is None:
            entry = _pending[key] = [0, now, defaultdict(int)]
        entry[0] += 1
        if now > entry[1]:
            entry[1] = now
        entry[2][now.date()] += 1
    if settings.CLICK_FLUSH_SECONDS <= 0:
        flush()
    # Also with write-through: clicks held back by a restore need the thread.
    if _pending and _flusher["pid"] != os.getpid():
        _start_flusher()


def pending():
    """Clicks counted but not yet written, in this process."""
    with _lock:
        return sum(entry[0] for entry in _pending.values())


def flush():
    """Write the pending clicks; returns (written, dropped). While a restore
    holds clicks, or when the database fails, they stay pending."""
    with _flush_lock:
        if not _pending or click_hold.holding():
            return 0, 0
        batch = _take()
        try:
            written, dropped = _write(batch)
        except Exception as exc:  # noqa: BLE001 - see below
            # Whatever failed, the clicks are kept: a database error passes,
            # and a bug must not cost the clicks it met (its traceback is
            # logged, at most once a minute).
            _put_back(batch)
            CLICK_FLUSH_FAILURES.inc()
            _warn(exc)
            return 0, 0
    CLICKS_WRITTEN.inc(written)
    if dropped:
        CLICKS_DROPPED.inc(dropped)
        logger.warning(
            "%s click(s) were of links that no longer exist (deleted, or not "
            "in restored data); they were not counted",
            dropped,
        )
    return written, dropped


def _take():
    global _pending
    with _lock:
        batch, _pending = _pending, {}
    return batch


def _put_back(batch):
    with _lock:
        for key, (count, last_at, days) in batch.items():
            entry = _pending.setdefault(key, [0, last_at, defaultdict(int)])
            entry[0] += count
            entry[1] = max(entry[1], last_at)
            for day, clicks in days.items():
                entry[2][day] += clicks


CHUNK = 500  # links per statement: 1,500 parameters, well within both limits


def _write(batch):
    """One transaction; per chunk of links three statements: lock (and find)
    the links, one UPDATE of their counters, one upsert of their days."""
    ops = connection.ops
    daily = ops.quote_name(LinkDailyClicks._meta.db_table)
    # In id order, locked first: flushes of other processes then wait for
    # each other instead of deadlocking. SQLite has one writer anyway.
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    keys = sorted(batch)
    written = 0
    with transaction.atomic(), _cursor() as cursor:
        for start in range(0, len(keys), CHUNK):
            ids = [pk for pk, _ in keys[start : start + CHUNK]]
            cursor.execute(
                "SELECT id, short_code FROM links_link "  # noqa: S608
                f"WHERE id IN ({', '.join(['%s'] * len(ids))}) ORDER BY id{lock}",
                ids,
            )
            # Only to the link with this id AND code: after a restore or a
            # delete an id may belong to another link, which must not get
            # its clicks.
            kept = [
                (key, batch[key])
                for key in map(tuple, cursor.fetchall())
                if key in batch
            ]
            if not kept:
                continue
            counts, params = _values(
                [("id", "bigint"), ("n", "bigint"), ("at", "timestamptz")],
                [
                    (pk, count, ops.adapt_datetimefield_value(last_at))
                    for (pk, _), (count, last_at, _) in kept
                ],
            )
            cursor.execute(
                "UPDATE links_link SET click_count = links_link.click_count + v.n, "  # noqa: S608
                "last_access_at = CASE WHEN links_link.last_access_at IS NULL "
                "OR links_link.last_access_at < v.at THEN v.at "
                "ELSE links_link.last_access_at END "
                f"FROM ({counts}) AS v WHERE links_link.id = v.id",
                params,
            )
            days, params = _values(
                [("id", "bigint"), ("day", "date"), ("n", "bigint")],
                [
                    (pk, ops.adapt_datefield_value(day), by_day[day])
                    for (pk, _), (_, _, by_day) in kept
                    for day in sorted(by_day)
                ],
            )
            # The same statement on SQLite (>= 3.24) and PostgreSQL; the
            # WHERE is what SQLite needs to read ON CONFLICT as the upsert's.
            cursor.execute(
                f"INSERT INTO {daily} (link_id, day, clicks) "  # noqa: S608
                f"SELECT v.id, v.day, v.n FROM ({days}) AS v "
                "WHERE true ON CONFLICT (link_id, day) DO UPDATE SET "
                f"clicks = {daily}.clicks + excluded.clicks",
                params,
            )
            written += sum(entry[0] for _, entry in kept)
    return written, sum(entry[0] for entry in batch.values()) - written


def _cursor():
    """Django's cursor; on PostgreSQL the driver's (links.driver), binding on
    the server: Django's ClientCursor spells every value into the SQL text in
    Python, which for a batch of 500 links cost the worker more than the
    database its work. Same connection, same transaction."""
    if connection.vendor != "postgresql":
        return connection.cursor()
    return DriverCursor()


def _values(columns, rows):
    """A subquery of `rows` with `columns` ((name, PostgreSQL type), ...),
    and its parameters. PostgreSQL: unnest() of one array per column, one
    parameter per column whatever the number of rows. SQLite, whose VALUES
    cannot name its columns: SELECT %s AS a, ... UNION ALL SELECT %s, ..."""
    if connection.vendor == "postgresql":
        arrays = ", ".join(f"%s::{kind}[]" for _, kind in columns)
        names = ", ".join(name for name, _ in columns)
        params = [list(column) for column in zip(*rows, strict=True)]
        return f"SELECT * FROM unnest({arrays}) AS t({names})", params  # noqa: S608
    first = "SELECT " + ", ".join(f"%s AS {name}" for name, _ in columns)
    rest = " UNION ALL SELECT " + ", ".join(["%s"] * len(columns))
    return first + rest * (len(rows) - 1), [value for row in rows for value in row]


def _warn(exc):
    now = time.monotonic()
    warned_at = _flusher["warned_at"]
    if warned_at is None or now - warned_at >= WARN_EVERY_SECONDS:
        _flusher["warned_at"] = now
        logger.error(
            "%s click(s) could not be written yet and wait in memory: %s: %s",
            pending(),
            exc.__class__.__name__,
            exc,
            exc_info=None if isinstance(exc, DatabaseError) else exc,
        )


def _start_flusher():
    with _lock:
        if _flusher["pid"] == os.getpid():
            return
        token = object()
        _flusher["pid"], _flusher["token"] = os.getpid(), token
    threading.Thread(
        target=_run, args=(token,), name="tinylink-click-flusher", daemon=True
    ).start()


def _run(token):
    while _flusher["token"] is token and _flusher["pid"] == os.getpid():
        interval = settings.CLICK_FLUSH_SECONDS or settings.CLICK_HOLD_CHECK_SECONDS
        time.sleep(max(interval, 0.05))
        if _flusher["token"] is not token:
            return
        try:
            flush()
        except Exception:
            logger.exception("writing clicks failed")
        finally:
            # Back to the pool between flushes; SQLite reopens cheaply.
            connection.close()


def flush_at_exit():
    """The last flush of a process (gunicorn's worker_exit, atexit)."""
    # A restore that still holds clicks would keep them from being written;
    # this process is going away, so they are written to whatever data is
    # there rather than lost (and only to links with the same id and code).
    with _flush_lock:
        # Looked at under the lock: a flush under way in the thread has taken
        # its batch out of _pending already, and that daemon thread dies with
        # the process; so its write is waited for, not taken for "nothing
        # left" (and what it puts back after a failure is written here).
        if not _pending:
            return
        batch = _take()
        for attempt in range(EXIT_ATTEMPTS):
            try:
                written, dropped = _write(batch)
                break
            except Exception as exc:  # noqa: BLE001 - nothing after this
                if attempt + 1 == EXIT_ATTEMPTS or not isinstance(exc, DatabaseError):
                    logger.error(
                        "%s click(s) lost at exit: %s",
                        sum(e[0] for e in batch.values()),
                        exc,
                    )
                    return
                # A lock conflict or a blip passes; there is no next flush.
                time.sleep(0.2 * (attempt + 1))
    if written:
        logger.info("%s pending click(s) written at exit", written)
    if dropped:
        logger.warning("%s pending click(s) of deleted links dropped at exit", dropped)


def _after_fork():
    # A forked child starts with its own, empty buffer and its own flusher.
    global _lock, _flush_lock, _pending
    _lock, _flush_lock, _pending = threading.Lock(), threading.Lock(), {}
    _flusher["pid"] = None


os.register_at_fork(after_in_child=_after_fork)
atexit.register(flush_at_exit)
