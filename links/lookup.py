"""Finding the link behind a short code: a per-process cache in front of the
database, for the redirect.

Each process keeps up to LINK_CACHE_SIZE codes (found or not) with what a
redirect needs to know. Every change to a link that matters to a redirect
(create, delete, or a change to its code, target, state, expiry or limit)
stores a new random version in LinkVersion once its transaction commits:
Link.save, LinkQuerySet.update and bulk_create, and the post_delete signal
(which cascades and QuerySet.delete send too) call links_changed(); a restore
calls bump_version(). Code that writes links with raw SQL must do the same.
Each process reads the version at most once every LINK_CACHE_CHECK_SECONDS
and empties its cache when it changed, so an edit takes effect on every
worker of every host within that time. Expiry needs no version: the
redirect compares expires_at with the clock itself.

After the commit, not before: a process that saw the new version before the
change was visible would cache the old link under it, for good.

When the database goes away, a cached link keeps redirecting until the
process's next look at the version (at most LINK_CACHE_CHECK_SECONDS; its
click waits in links.clickbuffer). That look fails, and from then on `find`
raises as a database read would, until the version can be read again.
"""

import secrets
import threading
import time
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import NamedTuple
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connections, models, transaction
from django.utils.dateparse import parse_datetime
from django.utils.encoding import iri_to_uri
from django.utils.http import MAX_URL_REDIRECT_LENGTH

from links.driver import DriverCursor
from links.targets import ascii_target_url, points_at_this_service

_MISSING = object()
# Written by the clicks, not by edits: a save of these alone changes nothing
# a redirect reads (links.models keeps the same list for Link.save).
COUNTER_FIELDS = frozenset({"click_count", "last_access_at"})
# A backstop for a change no hook saw (raw SQL, a failed bump): every cache
# starts over at least this often.
MAX_AGE_SECONDS = 60
_lock = threading.Lock()
_cache = {}
# (target URL, request host) -> does a redirect there loop back here?
_loops = {}
_state = {"checked_at": None, "version": _MISSING, "cleared_at": 0.0}


class LinkVersion(models.Model):
    """One row: a random number that changes whenever links change."""

    value = models.BigIntegerField()

    class Meta:
        db_table = "links_linkversion"

    def __str__(self):
        return f"links version {self.value}"


class CachedLink(NamedTuple):
    """What a redirect reads of a link; `location` is the Location header."""

    pk: int
    short_code: str
    target_url: str
    location: str
    is_active: bool
    expires_at: datetime | None
    max_clicks: int | None
    # Would HttpResponseRedirect take `location`? (http/https, not too long;
    # else Django answers 400, and the fast path leaves it to Django.)
    followable: bool = True

    @classmethod
    def of(cls, link):
        """From a Link instance (or a database row's values)."""
        # As HttpResponseRedirect writes it: ASCII host, IRI quoted.
        location = iri_to_uri(ascii_target_url(link.target_url))
        return cls(
            link.pk,
            link.short_code,
            link.target_url,
            location,
            bool(link.is_active),
            _as_datetime(link.expires_at),
            link.max_clicks,
            len(location) <= MAX_URL_REDIRECT_LENGTH
            and urlsplit(location).scheme in ("http", "https"),
        )

    def redirects_at(self, now):
        """Active at `now`, for a link without a click limit (a limited link's
        state depends on its count, which only the database knows)."""
        return self.is_active and (self.expires_at is None or self.expires_at > now)


def _query(sql, params):
    """One row of `sql`, through the driver (links.driver): the redirect's
    two reads, the version and a missed code, prepared on PostgreSQL."""
    with DriverCursor() as cursor:
        cursor.execute(sql, params, prepare=True)
        return cursor.fetchone()


def _read_version():
    row = _query("SELECT value FROM links_linkversion WHERE id = %s", [1])
    return row[0] if row else None


def _checked():
    """Empty the cache if the version moved; at most once per interval."""
    now = time.monotonic()
    checked_at = _state["checked_at"]
    if checked_at is not None and now - checked_at < settings.LINK_CACHE_CHECK_SECONDS:
        return
    version = _read_version()
    with _lock:
        if version != _state["version"] or now - _state["cleared_at"] > MAX_AGE_SECONDS:
            _cache.clear()
            _loops.clear()
            _state["version"] = version
            _state["cleared_at"] = now
        _state["checked_at"] = now


def _as_datetime(value):
    # Raw SQLite rows hold naive UTC (or text); PostgreSQL's are aware.
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = parse_datetime(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _load(code):
    # Raw SQL: for a million links most lookups miss the cache, and the ORM
    # would spend more building this query than the database answering it.
    row = _query(
        "SELECT id, target_url, is_active, expires_at, max_clicks "
        "FROM links_link WHERE short_code = %s",
        [code],
    )
    if row is None:
        return None
    pk, target_url, is_active, expires_at, max_clicks = row
    return CachedLink.of(
        SimpleNamespace(
            pk=pk,
            short_code=code,
            target_url=target_url,
            is_active=is_active,
            expires_at=expires_at,
            max_clicks=max_clicks,
        )
    )


def find(code):
    """The link with this short code (a CachedLink) or None. Raises
    DatabaseError when the database cannot be read."""
    _checked()
    found = _cache.get(code, _MISSING)
    if found is not _MISSING:
        return found
    version = _state["version"]
    found = _load(code)
    if settings.LINK_CACHE_SIZE <= 0:
        return found
    with _lock:
        # Stored only if no newer version emptied the cache meanwhile.
        if _state["version"] == version:
            if len(_cache) >= settings.LINK_CACHE_SIZE:
                # Oldest first: dicts keep insertion order.
                _cache.pop(next(iter(_cache)), None)
            _cache[code] = found
    return found


def loops_back(found, host):
    """links.targets.points_at_this_service for a cached link, remembered
    with it (it parses the URL and compares hosts on every redirect)."""
    if settings.LINK_CACHE_SIZE <= 0:
        return points_at_this_service(found.target_url, host)
    key = (found.target_url, host)
    answer = _loops.get(key)
    if answer is None:
        answer = points_at_this_service(found.target_url, host)
        if len(_loops) >= settings.LINK_CACHE_SIZE:
            _loops.clear()
        _loops[key] = answer
    return answer


def forget_all():
    """Empty this process's cache and make it look at the version again."""
    with _lock:
        _cache.clear()
        _loops.clear()
        _state["checked_at"] = None
        _state["version"] = _MISSING


def bump_version(using="default"):
    """Store a new version now (a restore: its data may carry a version that
    some process has seen). Random, not a counter, so that no restored or
    emptied table can bring back a value a process saw before."""
    value = secrets.randbits(62)
    with connections[using].cursor() as cursor:
        cursor.execute(
            "INSERT INTO links_linkversion (id, value) VALUES (1, %s) "
            "ON CONFLICT (id) DO UPDATE SET value = excluded.value",
            [value],
        )


_bumps = {}


def links_changed(using="default"):
    """Links changed in the current transaction: bump the version once it
    commits (at once outside a transaction); once per transaction."""
    bump = _bumps.get(using)
    if bump is None:

        def bump():
            bump_version(using)

        _bumps[using] = bump
    queued = connections[using].run_on_commit
    if not any(func is bump for _, func, _ in queued):
        # robust: the change is committed whatever this write meets (a
        # locked SQLite file); a failed bump is logged, and every cache
        # forgets everything after MAX_AGE_SECONDS anyway.
        transaction.on_commit(bump, using=using, robust=True)


def link_deleted(sender, instance, using, **kwargs):
    """post_delete receiver for Link (links.apps)."""
    links_changed(using)


def link_saved(sender, instance, using, update_fields=None, **kwargs):
    """post_save receiver for Link (links.apps): every save, loaddata's raw
    ones too, except one that writes the click counters only."""
    if update_fields is None or not COUNTER_FIELDS.issuperset(update_fields):
        links_changed(using)
