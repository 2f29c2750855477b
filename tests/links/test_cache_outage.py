"""Redis down: rate limits fail open, redirects and writes keep working.

A limiter that turned a cache outage into an outage of every redirect would
do more harm than the abuse it guards against. Readiness does not depend on
the cache, for the same reason; /health/full reports it, degraded.
"""

import json
import logging

import pytest
from django.core.cache import cache
from django.test import override_settings

from links import ratelimit
from links.models import Link
from tests.links.ratelimit_helpers import JSON, api_for
from tests.outages import DEAD_REDIS, silent_port
from tests.servers import GunicornServer, http_request

pytestmark = pytest.mark.usefixtures("_no_trusted_proxies")


@pytest.fixture
def dead_cache(settings):
    settings.CACHES = DEAD_REDIS
    settings.RATE_LIMIT_REDIRECTS = "3/minute"
    settings.RATE_LIMIT_WRITES = "3/minute"


@pytest.mark.usefixtures("dead_cache")
def test_redirects_pass_and_count_when_the_cache_is_unreachable(client, link, caplog):
    with caplog.at_level(logging.WARNING, logger="links.ratelimit"):
        statuses = [client.get("/go", **JSON).status_code for _ in range(5)]
    # Over the 3/minute limit, and still let through: the limit is off.
    assert statuses == [302] * 5
    link.refresh_from_db()
    assert link.click_count == 5
    # Warned once, not once per request.
    warnings = [r for r in caplog.records if r.name == "links.ratelimit"]
    assert len(warnings) == 1
    assert (
        warnings[0]
        .getMessage()
        .startswith(
            "rate limits are off for 10s: the cache cannot be reached (Connection"
        )
    )


@pytest.mark.usefixtures("dead_cache")
def test_api_writes_pass_when_the_cache_is_unreachable(user):
    api = api_for(user)
    for n in range(5):
        response = api.post(
            "/api/links", {"target_url": f"https://example.com/{n}"}, format="json"
        )
        assert response.status_code == 201, response.content
    assert Link.objects.owned_by(user).count() == 5


def test_after_a_failure_the_limiter_leaves_the_cache_alone_for_a_while(
    client, link, settings, monkeypatch, clock
):
    """A hung Redis costs each call its socket timeout: after one failure the
    limiter stops asking for RETRY_CACHE_AFTER_SECONDS, then tries again."""
    settings.RATE_LIMIT_REDIRECTS = "1/day"
    with override_settings(CACHES=DEAD_REDIS):
        assert client.get("/go").status_code == 302
    # The cache is back, but the limiter does not ask it yet: the limit of
    # one a day is not applied, and nothing is counted in the cache.
    cache.clear()
    assert [client.get("/go").status_code for _ in range(3)] == [302] * 3
    assert not [key for key in cache._cache if ":rl:redirect:" in key]
    # The pause over, the limiter counts again.
    monkeypatch.setitem(ratelimit._outage, "skip_until", 0.0)
    assert client.get("/go").status_code == 302
    assert client.get("/go", **JSON).status_code == 429
    link.refresh_from_db()
    assert link.click_count == 5


@pytest.mark.slow
def test_a_hung_redis_costs_a_bounded_wait_under_gunicorn(transactional_db, tmp_path):
    Link.objects.create(short_code="up", target_url="https://example.com/")
    # A hung Redis: without CACHE_SOCKET_TIMEOUT every request that touches
    # the cache would wait forever. A server of its own, for that CACHE_URL.
    with silent_port() as port:
        server = GunicornServer(
            tmp_path,
            workers=1,
            threads=2,
            extra_env={
                "CACHE_URL": f"redis://127.0.0.1:{port}/0",
                "CACHE_SOCKET_TIMEOUT": "0.5",
                "RATE_LIMIT_REDIRECTS": "600/minute",
            },
        )
        server.start()
        try:
            # Without CACHE_SOCKET_TIMEOUT this would wait until the client
            # gives up (TimeoutError fails the test).
            status, headers, _ = http_request(f"{server.url}/up", timeout=20)
            ready_status, _, _ = http_request(f"{server.url}/health/ready", timeout=20)
            full_status, _, full_body = http_request(
                f"{server.url}/health/full", timeout=20
            )
        finally:
            server.stop()
    assert status == 302
    assert headers["Location"] == "https://example.com/"
    assert Link.objects.get(short_code="up").click_count == 1
    # Still in service: redirects work. The cache is reported where people
    # look, not where the load balancer does.
    assert ready_status == 200
    assert full_status == 200
    full = json.loads(full_body)
    assert (full["status"], full["checks"]["cache"]) == ("degraded", "unavailable")
    assert "rate limits are off for 10s" in server.log()
