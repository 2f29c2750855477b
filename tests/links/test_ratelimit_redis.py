"""Rate limits on the Redis cache."""

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache

from links.ratelimit import Rate, hit
from tests.links.ratelimit_helpers import (
    JSON,
    REDIS_URL,
    T0,
    use_up_redirects,
)

pytestmark = pytest.mark.usefixtures("_clean_counters", "clock", "_no_trusted_proxies")


@pytest.fixture
def redis_client():
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        client.close()
        reason = f"Redis is not reachable at {REDIS_URL}: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: Redis is required)")
        pytest.skip(reason)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def redis_cache(settings, redis_client):
    """django.core.cache.cache on Redis db 15 for one test.

    Changing settings.CACHES sends setting_changed, on which Django drops
    its cached cache connections; restoring the setting does the same, so
    the next test is back on the local-memory cache.
    """
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
    assert isinstance(caches["default"], RedisCache)
    return redis_client


def test_redirect_limit_holds_on_redis(client, link, three_per_minute, redis_cache):
    use_up_redirects(client)
    response = client.get("/go", **JSON)
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "throttled"
    assert response["Retry-After"] == "30"
    # The counter lives in Redis, not in this process.
    keys = redis_cache.keys("*rl:redirect:127.0.0.1:*")
    assert len(keys) == 1
    assert int(redis_cache.get(keys[0])) == 4
    assert 0 < redis_cache.ttl(keys[0]) <= 65


def test_concurrent_hits_on_redis_are_counted_exactly(redis_cache):
    rate = Rate(30, 60)
    start = threading.Barrier(10)

    def burst(_):
        start.wait(timeout=10)
        return [hit("burst", "192.0.2.1", rate, now=T0 + 1) for _ in range(5)]

    with ThreadPoolExecutor(max_workers=10) as pool:
        waits = [w for batch in pool.map(burst, range(10)) for w in batch]
    assert len(waits) == 50
    assert waits.count(0) == 30
    assert sum(1 for w in waits if w > 0) == 20
