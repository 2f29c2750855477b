"""Fixed-window rate limits kept in the Django cache.

cache.add + cache.incr are atomic on Redis and on the local-memory cache, so
concurrent requests across gunicorn workers (with Redis) count exactly; DRF's
own throttles read-modify-write a timestamp list and lose hits under load.
"""

import logging
import re
import time
from dataclasses import dataclass
from functools import lru_cache
from time import monotonic  # tests pin `time`; the outage clock stays real

from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

_RATE_RE = re.compile(
    r"^\s*(\d+)\s*/\s*(\d*)\s*(s|sec|second|m|min|minute|h|hour|d|day)\s*$"
)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
logger = logging.getLogger("links.ratelimit")
# After a cache failure the limiter stays off for a while without asking the
# cache again: a Redis that hangs costs each call the socket timeout, which
# must not be added to every redirect. One warning per process per minute at
# most, so the hot path cannot flood the log.
RETRY_CACHE_AFTER_SECONDS = 10
WARN_EVERY_SECONDS = 60
_outage = {"skip_until": 0.0, "warned_at": None}


@dataclass(frozen=True)
class Rate:
    limit: int
    period: int  # seconds


@lru_cache(maxsize=16)
def parse_rate(text):
    """'100/min', '10/5s', '1000/hour'; empty means no limit (None)."""
    if not text or not text.strip():
        return None
    match = _RATE_RE.match(text)
    multiplier = int(match[2]) if match and match[2] else 1
    if not match or int(match[1]) < 1 or multiplier < 1:
        raise ImproperlyConfigured(
            f"A rate looks like '100/minute' or '10/5s', got {text!r}."
        )
    return Rate(int(match[1]), multiplier * _UNITS[match[3][0]])


def hit(scope, key, rate, now=None):
    """Count one request; returns seconds to wait when over the limit, else 0.

    Fails open: when the cache cannot be reached the request is let through.
    A limiter that turned a Redis outage into an outage of every redirect
    would do more harm than the abuse it guards against.
    """
    if monotonic() < _outage["skip_until"]:
        return 0
    now = time.time() if now is None else now
    try:
        return _count(scope, key, rate, now)
    except Exception as exc:  # noqa: BLE001 - any cache backend's error
        _cache_failed(exc)
        return 0


def _cache_failed(exc):
    failed_at = monotonic()
    _outage["skip_until"] = failed_at + RETRY_CACHE_AFTER_SECONDS
    warned_at = _outage["warned_at"]
    if warned_at is None or failed_at - warned_at >= WARN_EVERY_SECONDS:
        _outage["warned_at"] = failed_at
        logger.warning(
            "rate limits are off for %ss: the cache cannot be reached (%s: %s)",
            RETRY_CACHE_AFTER_SECONDS,
            exc.__class__.__name__,
            exc,
        )


def _count(scope, key, rate, now):
    window = int(now // rate.period)
    cache_key = f"rl:{scope}:{key}:{window}"
    # The key outlives its window a little, so clock skew between workers
    # cannot resurrect a stale counter.
    cache.add(cache_key, 0, timeout=rate.period + 5)
    try:
        count = cache.incr(cache_key)
    except ValueError:  # evicted between add and incr: start the window over
        cache.add(cache_key, 1, timeout=rate.period + 5)
        count = 1
    if count > rate.limit:
        return max(1, int((window + 1) * rate.period - now + 0.999))
    return 0
