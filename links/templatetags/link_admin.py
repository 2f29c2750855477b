"""The links summary on the admin index: {% link_summary as summary %}."""

import contextlib
import logging
from datetime import datetime, timedelta

from django import template
from django.core.cache import cache
from django.db.models import Q, Sum
from django.utils import timezone

from links.admin_changelist import table_row_count
from links.models import Link, LinkDailyClicks

register = template.Library()
logger = logging.getLogger("links.admin")

WEEK_DAYS = 7
CACHE_KEY = "links:admin-summary"
# Counting active links reads every link (about 200 ms per million on
# PostgreSQL, 1 s on SQLite): done at most once a minute per cache, not on
# every visit to the admin index.
CACHE_SECONDS = 60
SUMMARY_KEYS = {
    "as_of",
    "total",
    "total_is_estimate",
    "active",
    "clicks_today",
    "clicks_week",
}


@register.simple_tag
def link_summary():
    """The numbers of the admin index's link summary, up to a minute old."""
    try:
        summary = _from_cache(cache.get(CACHE_KEY))
    except ValueError:
        # Not JSON (planted, or pickled by an older TinyLink): a miss, and
        # overwritten below.
        summary = None
    except Exception as exc:  # noqa: BLE001 - any cache backend's error
        # The admin is where operators go during an incident: a Redis outage
        # must not take its index page down. Count without the cache.
        logger.warning("admin summary computed without the cache: %s", exc)
        return compute_summary()
    if summary is None:
        summary = compute_summary()
        with contextlib.suppress(Exception):
            cache.set(CACHE_KEY, _to_cache(summary), CACHE_SECONDS)
    return summary


def _to_cache(summary):
    # The cache holds JSON (config.cache): the time as ISO 8601.
    return {**summary, "as_of": summary["as_of"].isoformat()}


def _from_cache(value):
    """The summary a cached value holds, or None when it is not one (whoever
    can write to the cache must not be able to break the admin index)."""
    if not isinstance(value, dict) or value.keys() != SUMMARY_KEYS:
        return None
    try:
        as_of = datetime.fromisoformat(value["as_of"])
    except (TypeError, ValueError):
        return None
    return {**value, "as_of": as_of}


def compute_summary():
    """Total links (PostgreSQL's estimate when the table is large), active
    links, and clicks on the current UTC day and the last seven UTC days
    (today included), summed from the daily counters, not from the links."""
    now = timezone.now()
    total, total_is_estimate = table_row_count(Link.objects.all())
    clicks = recent_clicks(now.date())
    return {
        "as_of": now,
        "total": total,
        "total_is_estimate": total_is_estimate,
        "active": Link.objects.active(now).count(),
        "clicks_today": clicks["today"] or 0,
        "clicks_week": clicks["week"] or 0,
    }


def recent_clicks(today):
    """{"today": n, "week": n}: one range over the daily counters' days."""
    return LinkDailyClicks.objects.filter(
        day__gte=today - timedelta(days=WEEK_DAYS - 1), day__lte=today
    ).aggregate(today=Sum("clicks", filter=Q(day=today)), week=Sum("clicks"))
