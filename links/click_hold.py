"""Holding clicks while the database is being replaced (a restore).

Between a restore's safety backup and the end of its load, a click written
to the database would be written into data that is about to be thrown away.
So for that window the restore raises a flag that every process checks (at
most once every CLICK_HOLD_CHECK_SECONDS). Redirects keep working; their
clicks wait in links.clickbuffer, which writes nothing while the flag is up
and adds them to the restored data once it is down. A link with a click
limit answers 503 meanwhile: it can only be counted exactly in the database.

The flag: a file beside the SQLite database; on PostgreSQL an advisory lock
that the restore holds exclusively, so every host sees it.
"""

import time
from contextlib import contextmanager
from pathlib import Path

import psycopg
from django.conf import settings
from django.db import DatabaseError, connections

# "TinyLink is replacing the database": shared by the restore (exclusive)
# and every process that checks (a shared try-lock, released at once).
_ADVISORY_KEY = 0x71A7_C11C
_state = {"checked_at": None, "holding": False}


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
    CLICK_HOLD_CHECK_SECONDS."""
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
    return up


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
