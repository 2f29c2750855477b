"""A client cannot choose its own address with X-Forwarded-For.

The attack: with TRUSTED_PROXY_COUNT=1 and the app reachable directly, a
client that sends `X-Forwarded-For: 127.0.0.1` read /metrics, and one that
sends a new address each time was never rate-limited. Forwarded addresses
are believed only when the direct peer is in TRUSTED_PROXIES.
"""

import http.client
import ipaddress
import os

import pytest
import redis

from links.models import Link
from tests.servers import GunicornServer

ATTACKER = "203.0.113.66"
PROXY = "10.0.0.2"
JSON = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture
def exposed_with_a_proxy_count(settings):
    """The attacked configuration: one proxy trusted by count, app reachable."""
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXIES = []
    settings.RATE_LIMIT_REDIRECTS = "3/minute"


@pytest.fixture
def behind_a_configured_proxy(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("10.0.0.0/24")]
    settings.RATE_LIMIT_REDIRECTS = "3/minute"


@pytest.fixture
def link(db):
    return Link.objects.create(short_code="go", target_url="https://example.com/")


pytestmark = pytest.mark.usefixtures("_clean_counters", "clock")


def test_a_direct_client_cannot_open_metrics_with_forwarded_for(
    client, db, exposed_with_a_proxy_count
):
    response = client.get(
        "/metrics", REMOTE_ADDR=ATTACKER, HTTP_X_FORWARDED_FOR="127.0.0.1", **JSON
    )
    assert response.status_code == 403


def test_a_direct_client_cannot_rotate_past_the_redirect_limit(
    client, link, exposed_with_a_proxy_count
):
    statuses = [
        client.get(
            "/go", REMOTE_ADDR=ATTACKER, HTTP_X_FORWARDED_FOR=f"198.51.100.{n}"
        ).status_code
        for n in range(6)
    ]
    assert statuses == [302, 302, 302, 429, 429, 429]


def test_behind_a_configured_proxy_each_real_client_has_its_own_limit(
    client, link, behind_a_configured_proxy
):
    first = {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": "198.51.100.7"}
    second = {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": "198.51.100.8"}
    assert [client.get("/go", **first).status_code for _ in range(4)] == [
        302,
        302,
        302,
        429,
    ]
    # The real client, not the proxy, is counted.
    assert client.get("/go", **second).status_code == 302
    # What the client wrote left of the proxy's entry is not believed.
    spoof = {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": "6.6.6.6, 198.51.100.7"}
    assert client.get("/go", **spoof).status_code == 429


def test_behind_a_configured_proxy_metrics_see_the_real_client(
    client, db, settings, behind_a_configured_proxy
):
    # The proxy itself is on a network allowed to read metrics; the client
    # it forwards for is not.
    settings.METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("10.0.0.0/24")]
    forwarded = {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": ATTACKER}
    assert client.get("/metrics", **forwarded, **JSON).status_code == 403
    assert client.get("/metrics", REMOTE_ADDR=PROXY).status_code == 200


# --- the production entry point: gunicorn, 3 workers, Redis, DEBUG off ------

REDIS_URL = "redis://127.0.0.1:6379/13"
# Loopback has room for several "machines": the server listens on 127.0.0.1,
# the attacker and the proxy connect from addresses of their own.
DIRECT_CLIENT = "127.0.0.5"
PROXY_HOST = "127.0.0.6"


@pytest.fixture
def redis_db_13():
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
def attacked_server(transactional_db, tmp_path, redis_db_13):
    Link.objects.create(short_code="go", target_url="https://example.com/")
    server = GunicornServer(
        tmp_path,
        workers=3,
        extra_env={
            "DJANGO_DEBUG": "false",
            "CACHE_URL": REDIS_URL,
            # The attacked configuration, and the proxy that is really there.
            "TRUSTED_PROXY_COUNT": "1",
            "TRUSTED_PROXIES": f"{PROXY_HOST}/32",
            "TRUSTED_PROXY_NETWORKS": "",
            "METRICS_ALLOWED_NETWORKS": "127.0.0.1/32",
            "METRICS_TOKEN": "",
            # A day: the tests send a handful of requests, so at most one
            # window boundary (midnight UTC) can fall among them.
            "RATE_LIMIT_REDIRECTS": "3/day",
        },
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def status_from(server, source, path, forwarded=None):
    """GET `path` over a connection made from the address `source`."""
    connection = http.client.HTTPConnection(
        "127.0.0.1", server.port, timeout=30, source_address=(source, 0)
    )
    try:
        headers = {"X-Forwarded-For": forwarded} if forwarded else {}
        connection.request("GET", path, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.mark.slow
def test_gunicorn_ignores_forwarded_for_from_a_direct_client(attacked_server):
    server = attacked_server
    assert status_from(server, DIRECT_CLIENT, "/metrics", "127.0.0.1") == 403
    assert status_from(server, "127.0.0.1", "/metrics") == 200
    statuses = [
        status_from(server, DIRECT_CLIENT, "/go", f"198.51.100.{n}") for n in range(8)
    ]
    # One window holds 3; should midnight UTC fall among them, two hold 6.
    assert statuses.count(302) <= 6, server.log()[-3000:]
    assert statuses[-1] == 429


@pytest.mark.slow
def test_gunicorn_counts_the_real_client_behind_a_configured_proxy(attacked_server):
    server = attacked_server
    first = [status_from(server, PROXY_HOST, "/go", "198.51.100.7") for _ in range(8)]
    assert first.count(302) <= 6
    assert first[-1] == 429
    # Another client behind the same proxy has a limit of its own.
    assert status_from(server, PROXY_HOST, "/go", "198.51.100.8") == 302
    # The proxy forwards for an outsider: metrics stay closed.
    assert status_from(server, PROXY_HOST, "/metrics", ATTACKER) == 403
