"""Holding clicks while the database is being replaced (a restore).

Between a restore's safety backup and the end of its load, a click written
to the database would be written into data that is about to be thrown away.
So for that window the restore raises a flag that every process checks (at
most once every CLICK_HOLD_CHECK_SECONDS), and redirects keep working but
count their clicks in this process's memory; once the flag is down, the
first request (or the process's exit) adds them to the restored data. A
link with a click limit answers 503 meanwhile: it can only be counted
exactly in the database. `kill -9` of a process loses what it held.

The flag: a file beside the SQLite database; on PostgreSQL an advisory lock
that the restore holds exclusively, so every host sees it.
"""

import atexit
import logging
import threading
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

import psycopg
from django.conf import settings
from django.db import DatabaseError, connections, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce, Greatest

from links.clicks import add_daily_clicks
from links.models import Link

logger = logging.getLogger("tinylink.clicks")
# "TinyLink is replacing the database": shared by the restore (exclusive)
# and every process that checks (a shared try-lock, released at once).
_ADVISORY_KEY = 0x71A7_C11C
_lock = threading.Lock()
_state = {"checked_at": None, "holding": False}
# (link id, short code) -> [clicks, last click time, {day: clicks}]
_held = {}


def _flag_file(alias):
    return Path(f"{connections[alias].settings_dict['NAME']}.hold-clicks")


def _conninfo(alias):
    s = connections[alias].settings_dict
    params = {
        "dbname": s["NAME"],
        "user": s["USER"] or None,
        "password": s["PASSWORD"] or None,
        "host": s["HOST"] or None,
        "port": s["PORT"] or None,
        "connect_timeout": 5,
    }
    return {key: value for key, value in params.items() if value is not None}


def _flag_is_up(alias="default"):
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return _flag_file(alias).exists()
    with connection.cursor() as cursor:
        # Session-level and let go at once: a transaction-level lock would be
        # kept by a request that runs in a transaction, and block the restore.
        cursor.execute("SELECT pg_try_advisory_lock_shared(%s)", [_ADVISORY_KEY])
        got = cursor.fetchone()[0]
        if got:
            cursor.execute("SELECT pg_advisory_unlock_shared(%s)", [_ADVISORY_KEY])
        return not got


def holding():
    """True while a restore replaces the database. Checked at most once every
    CLICK_HOLD_CHECK_SECONDS; the first check that finds the flag down adds
    what this process held to the restored data."""
    now = time.monotonic()
    checked_at = _state["checked_at"]
    if checked_at is not None and now - checked_at < settings.CLICK_HOLD_CHECK_SECONDS:
        return _state["holding"]
    try:
        up = _flag_is_up()
    except DatabaseError:
        # The database is down: the click will fail on its own; nothing is
        # being replaced that this process could know of.
        up = False
    _state["checked_at"], _state["holding"] = now, up
    if not up and _held:
        release()
    return up


def hold(link, now):
    """Count a click of `link` in memory; False (nothing counted) for a link
    with a click limit, which only the database can count exactly."""
    if link.max_clicks is not None:
        return False
    with _lock:
        entry = _held.setdefault((link.pk, link.short_code), [0, now, defaultdict(int)])
        entry[0] += 1
        entry[1] = max(entry[1], now)
        entry[2][now.date()] += 1
    return True


def release():
    """Add the held clicks to the database; returns (applied, dropped).
    Clicks of a link that the restored data does not have (by id and code)
    are dropped and logged, never given to another link."""
    with _lock:
        held = dict(_held)
        _held.clear()
    applied = dropped = 0
    for (link_id, code), (count, last_at, days) in held.items():
        with transaction.atomic():
            updated = Link.objects.filter(pk=link_id, short_code=code).update(
                click_count=F("click_count") + count,
                # GREATEST is NULL on SQLite when an argument is.
                last_access_at=Greatest(
                    Coalesce(F("last_access_at"), Value(last_at)), Value(last_at)
                ),
            )
            if not updated:
                dropped += count
                continue
            for day, clicks in days.items():
                add_daily_clicks(link_id, day, clicks)
        applied += count
    if dropped:
        logger.warning(
            "%s click(s) held during a restore were of links the restored data "
            "does not have; they were not counted",
            dropped,
        )
    if applied:
        logger.info("%s click(s) held during a restore were counted", applied)
    return applied, dropped


def _release_at_exit():
    if _held:
        try:
            release()
        except DatabaseError as exc:
            logger.error("%s held click(s) lost at exit: %s", len(_held), exc)


atexit.register(_release_at_exit)


@contextmanager
def hold_clicks(alias="default"):
    """Raise the flag for the block (the restore), after giving every process
    time to see it, so that no click is written into the data the block
    replaces."""
    connection = connections[alias]
    if connection.vendor == "postgresql":
        with psycopg.connect(**_conninfo(alias), autocommit=True) as flag:
            flag.execute("SELECT pg_advisory_lock(%s)", [_ADVISORY_KEY])
            try:
                _wait_until_seen()
                yield
            finally:
                flag.execute("SELECT pg_advisory_unlock(%s)", [_ADVISORY_KEY])
        return
    flag_file = _flag_file(alias)
    flag_file.touch()
    try:
        _wait_until_seen()
        yield
    finally:
        flag_file.unlink(missing_ok=True)


def _wait_until_seen():
    # Every process looks at least once per check interval; a click counted
    # just before its look has committed well within half an interval more.
    time.sleep(settings.CLICK_HOLD_CHECK_SECONDS * 1.5)
