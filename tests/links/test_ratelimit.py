"""Rate limits: links.ratelimit itself, then the redirect and the API through
the whole stack, on the local-memory cache and on Redis."""

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import ImproperlyConfigured
from rest_framework.test import APIClient

from links import ratelimit
from links.models import Link, LinkDailyClicks
from links.ratelimit import Rate, hit, parse_rate

JSON = {"HTTP_ACCEPT": "application/json"}
HTML = {"HTTP_ACCEPT": "text/html,application/xhtml+xml,*/*;q=0.8"}
REDIS_URL = "redis://127.0.0.1:6379/15"

# The start of a window for every unit (divisible by a day), so that windows
# in the tests below never straddle a boundary by accident.
T0 = 1_728_000_000.0
# Requests through the stack happen 30 seconds into a minute: a minute limit
# then always asks to wait exactly 30 seconds.
NOW = T0 + 30


class Clock:
    def __init__(self, now):
        self.now = now

    def time(self):
        return self.now


@pytest.fixture(autouse=True)
def _clean_counters():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    """Pins the time the limiter reads, so no test can cross a window edge."""
    pinned = Clock(NOW)
    monkeypatch.setattr(ratelimit, "time", pinned)
    return pinned


@pytest.fixture(autouse=True)
def _no_trusted_proxies(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    settings.TRUSTED_PROXY_NETWORKS = []


# --- parse_rate -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("100/minute", Rate(100, 60)),
        ("100/min", Rate(100, 60)),
        ("100/m", Rate(100, 60)),
        ("10/5s", Rate(10, 5)),
        ("10/second", Rate(10, 1)),
        ("1/hour", Rate(1, 3600)),
        ("5/day", Rate(5, 86400)),
        ("30/15min", Rate(30, 900)),
        (" 20 / 2 h ", Rate(20, 7200)),
    ],
)
def test_parse_rate_reads_count_and_period(text, rate):
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["", "   ", None])
def test_parse_rate_of_nothing_means_no_limit(text):
    assert parse_rate(text) is None


@pytest.mark.parametrize(
    "text",
    ["abc", "0/min", "-1/min", "10", "/minute", "10/fortnight", "10/minutes"],
)
def test_parse_rate_refuses_malformed_rates(text):
    with pytest.raises(ImproperlyConfigured, match="100/minute"):
        parse_rate(text)


@pytest.mark.parametrize("text", ["10/0s", "10/0min", "10/000h"])
def test_parse_rate_refuses_a_zero_length_period(text):
    with pytest.raises(ImproperlyConfigured):
        parse_rate(text)


# --- hit --------------------------------------------------------------------


def test_hits_up_to_the_limit_pass_and_the_next_one_waits():
    rate = Rate(3, 60)
    assert [hit("s", "k", rate, now=T0 + 10) for _ in range(3)] == [0, 0, 0]
    wait = hit("s", "k", rate, now=T0 + 10)
    assert 0 < wait <= rate.period
    assert wait == 50


def test_every_hit_over_the_limit_keeps_waiting():
    rate = Rate(1, 60)
    hit("s", "k", rate, now=T0 + 1)
    assert [hit("s", "k", rate, now=T0 + 1) for _ in range(3)] == [59, 59, 59]


@pytest.mark.parametrize(
    ("offset", "wait"), [(0, 60), (0.5, 60), (59, 1), (59.5, 1), (59.999, 1)]
)
def test_wait_is_the_rest_of_the_window_rounded_up_and_never_zero(offset, wait):
    rate = Rate(1, 60)
    hit("s", "k", rate, now=T0 + offset)
    assert hit("s", "k", rate, now=T0 + offset) == wait


def test_a_new_window_starts_counting_again():
    rate = Rate(2, 60)
    for _ in range(3):
        hit("s", "k", rate, now=T0 + 59)
    assert hit("s", "k", rate, now=T0 + 59) > 0
    assert hit("s", "k", rate, now=T0 + 60) == 0
    assert hit("s", "k", rate, now=T0 + 61) == 0
    assert hit("s", "k", rate, now=T0 + 62) > 0


def test_short_windows_follow_their_own_period():
    rate = parse_rate("1/5s")
    assert hit("s", "k", rate, now=T0 + 1) == 0
    assert hit("s", "k", rate, now=T0 + 4.5) == 1
    assert hit("s", "k", rate, now=T0 + 5) == 0


def test_different_keys_are_counted_separately():
    rate = Rate(1, 60)
    assert hit("s", "192.0.2.1", rate, now=T0) == 0
    assert hit("s", "192.0.2.2", rate, now=T0) == 0
    assert hit("s", "192.0.2.1", rate, now=T0) > 0


def test_different_scopes_are_counted_separately():
    rate = Rate(1, 60)
    assert hit("redirect", "192.0.2.1", rate, now=T0) == 0
    assert hit("write-ip", "192.0.2.1", rate, now=T0) == 0
    assert hit("redirect", "192.0.2.1", rate, now=T0) > 0


def test_hit_without_now_reads_the_clock(clock):
    rate = Rate(1, 60)
    clock.now = T0 + 45
    hit("s", "k", rate)
    assert hit("s", "k", rate) == 15


# --- Redirects --------------------------------------------------------------


@pytest.fixture
def link(db):
    return Link.objects.create(short_code="go", target_url="https://example.com/")


@pytest.fixture
def three_per_minute(settings):
    settings.RATE_LIMIT_REDIRECTS = "3/minute"


def use_up_redirects(client, **extra):
    for _ in range(3):
        assert client.get("/go", **extra).status_code == 302


def test_fourth_redirect_in_a_minute_is_429_with_retry_after(
    client, link, three_per_minute
):
    use_up_redirects(client)
    response = client.get("/go")
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert response["Retry-After"] == "30"
    assert "Location" not in response


def test_rate_limited_redirect_is_a_json_envelope_for_json_clients(
    client, link, three_per_minute
):
    use_up_redirects(client, **JSON)
    response = client.get("/go", **JSON)
    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "throttled"
    assert error["message"]
    assert error["details"] == {"retry_after": 30}
    assert response["Retry-After"] == "30"
    assert "no-store" in response["Cache-Control"]


def test_rate_limited_redirect_is_an_html_page_for_browsers(
    client, link, three_per_minute
):
    use_up_redirects(client, **HTML)
    response = client.get("/go", **HTML)
    assert response.status_code == 429
    assert response["Content-Type"].startswith("text/html")
    assert "links/rate_limited.html" in [t.name for t in response.templates]
    assert b"Too many requests" in response.content
    assert b"30 seconds" in response.content
    assert response["Retry-After"] == "30"


def test_rate_limited_redirect_counts_no_click(client, link, three_per_minute):
    use_up_redirects(client)
    assert client.get("/go").status_code == 429
    assert client.get("/go").status_code == 429
    link.refresh_from_db()
    assert link.click_count == 3
    assert LinkDailyClicks.objects.get(link=link).clicks == 3


def test_another_client_address_is_not_limited(client, link, three_per_minute):
    use_up_redirects(client, REMOTE_ADDR="192.0.2.10")
    assert client.get("/go", REMOTE_ADDR="192.0.2.10").status_code == 429
    assert client.get("/go", REMOTE_ADDR="192.0.2.11").status_code == 302


def test_forwarded_for_does_not_escape_the_limit_without_trusted_proxies(
    client, link, three_per_minute
):
    for n in range(3):
        response = client.get("/go", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")
        assert response.status_code == 302
    response = client.get("/go", HTTP_X_FORWARDED_FOR="198.51.100.99")
    assert response.status_code == 429


def test_clients_behind_a_trusted_proxy_are_limited_one_by_one(
    client, link, three_per_minute, settings
):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    use_up_redirects(client, HTTP_X_FORWARDED_FOR="198.51.100.7", **proxy)
    # Prepending a made-up address does not make the same client new.
    spoof = "6.6.6.6, 198.51.100.7"
    assert client.get("/go", HTTP_X_FORWARDED_FOR=spoof, **proxy).status_code == 429
    other = client.get("/go", HTTP_X_FORWARDED_FOR="198.51.100.8", **proxy)
    assert other.status_code == 302


def test_redirects_pass_again_in_the_next_window(client, link, three_per_minute, clock):
    use_up_redirects(client)
    assert client.get("/go").status_code == 429
    clock.now = T0 + 60
    assert client.get("/go").status_code == 302


def test_probing_unknown_codes_is_limited_too(client, db, three_per_minute):
    for n in range(3):
        assert client.get(f"/nope{n}").status_code == 404
    assert client.get("/nope3").status_code == 429


def test_redirects_are_not_limited_without_a_rate(client, link, settings):
    settings.RATE_LIMIT_REDIRECTS = ""
    for _ in range(10):
        assert client.get("/go").status_code == 302
    link.refresh_from_db()
    assert link.click_count == 10


# --- API writes -------------------------------------------------------------


@pytest.fixture
def two_writes_per_minute(settings):
    settings.RATE_LIMIT_WRITES = "2/minute"


def api_for(user):
    api = APIClient()
    api.force_authenticate(user)
    return api


def create(api, n, **extra):
    return api.post(
        "/api/links",
        {"target_url": f"https://example.com/{n}"},
        format="json",
        **extra,
    )


def assert_throttled(response):
    assert response.status_code == 429, response.content
    error = response.json()["error"]
    assert error["code"] == "throttled"
    assert error["details"] == {"retry_after": 30}
    assert response["Retry-After"] == "30"


def test_third_api_write_in_a_minute_is_throttled(user, two_writes_per_minute):
    api = api_for(user)
    assert create(api, 1).status_code == 201
    assert create(api, 2).status_code == 201
    assert_throttled(create(api, 3))
    assert Link.objects.count() == 2


def test_api_reads_are_not_limited(user, two_writes_per_minute):
    api = api_for(user)
    create(api, 1)
    create(api, 2)
    assert_throttled(create(api, 3))
    for _ in range(5):
        response = api.get("/api/links")
        assert response.status_code == 200
    assert response.json()["count"] == 2


def test_updates_and_deletes_share_the_write_limit(user, two_writes_per_minute):
    api = api_for(user)
    code = create(api, 1).json()["short_code"]
    patched = api.patch(f"/api/links/{code}", {"is_active": False}, format="json")
    assert patched.status_code == 200
    assert_throttled(api.delete(f"/api/links/{code}"))
    assert Link.objects.filter(short_code=code).exists()


def test_write_limit_follows_the_user_across_addresses(user, two_writes_per_minute):
    api = api_for(user)
    assert create(api, 1, REMOTE_ADDR="192.0.2.10").status_code == 201
    assert create(api, 2, REMOTE_ADDR="192.0.2.10").status_code == 201
    assert_throttled(create(api, 3, REMOTE_ADDR="198.51.100.20"))


def test_write_limit_follows_the_address_across_users(
    user, other_user, two_writes_per_minute
):
    assert create(api_for(user), 1, REMOTE_ADDR="192.0.2.10").status_code == 201
    assert create(api_for(user), 2, REMOTE_ADDR="192.0.2.10").status_code == 201
    assert_throttled(create(api_for(other_user), 3, REMOTE_ADDR="192.0.2.10"))
    # The same other user from an unspent address is welcome.
    other = create(api_for(other_user), 4, REMOTE_ADDR="198.51.100.20")
    assert other.status_code == 201


def test_api_writes_are_not_limited_without_a_rate(user, settings):
    settings.RATE_LIMIT_WRITES = ""
    api = api_for(user)
    assert [create(api, n).status_code for n in range(5)] == [201] * 5


# --- Redis ------------------------------------------------------------------


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
