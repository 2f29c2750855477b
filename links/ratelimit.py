"""Fixed-window rate limits kept in the Django cache.

cache.add + cache.incr are atomic on Redis and on the local-memory cache, so
concurrent requests across gunicorn workers (with Redis) count exactly; DRF's
own throttles read-modify-write a timestamp list and lose hits under load.
"""

import re
import time
from dataclasses import dataclass
from functools import lru_cache

from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

_RATE_RE = re.compile(
    r"^\s*(\d+)\s*/\s*(\d*)\s*(s|sec|second|m|min|minute|h|hour|d|day)\s*$"
)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


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
    """Count one request; returns seconds to wait when over the limit, else 0."""
    now = time.time() if now is None else now
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
