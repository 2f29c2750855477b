"""What TinyLink keeps in Redis: JSON, never a pickle; over AUTH and TLS.

Django's Redis cache unpickles what it reads, and unpickling runs code: a
pickle planted in a key the app reads ran in the worker that read it.
"""

import json
import os
import pickle
import time
import urllib.error
import urllib.request

import pytest
import redis
from django.test import Client

from config.cache import JSONSerializer
from links.auth import issue_token
from links.models import Link
from tests.servers import GunicornServer, http_request

# Redis database 14 is this module's: other tests use 0, 1 and 15.
REDIS_URL = "redis://127.0.0.1:6379/14"


class CreatesFile:
    """Unpickled, this creates `path`: proof that a read ran code."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.fixture
def redis_db():
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        client.close()
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is required on CI: {exc}")
        pytest.skip(f"Redis is not reachable at {REDIS_URL}: {exc}")
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


# --- the serializer ------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [0, 41, -7, 2.5, "text", "12", True, None, [1, "a"], {"as_of": "2026-01-01"}],
)
def test_values_come_back_as_they_went_in(value):
    serializer = JSONSerializer()
    assert serializer.loads(serializer.dumps(value)) == value


def test_integers_are_stored_raw_so_that_redis_can_increment_them():
    assert JSONSerializer().dumps(41) == 41


def test_a_pickle_is_refused_without_being_run(tmp_path):
    marker = tmp_path / "ran"
    with pytest.raises(ValueError, match="not JSON"):
        JSONSerializer().loads(pickle.dumps(CreatesFile(marker)))
    assert not marker.exists()


def test_a_value_json_cannot_hold_is_refused_when_stored():
    with pytest.raises(TypeError):
        JSONSerializer().dumps({"at": time})


# --- the app, with the production settings ---------------------------------------


def visit(server, *, token, session):
    """Every endpoint that touches the cache: the redirect and the API write
    (rate limits), the admin index (its summary) and the deep probes."""
    api = {
        "Authorization": f"Token {token}",
        "Content-Type": "application/json",
        "Accept": "application/json",
    }
    body = json.dumps({"target_url": "https://example.com/new"}).encode()
    admin = {"Cookie": f"sessionid={session}"}
    return {
        "redirect": http_request(f"{server.url}/up")[0],
        "api write": _post(f"{server.url}/api/links", body, api)[0],
        "admin index": http_request(f"{server.url}/admin/", headers=admin)[0],
        "ready": http_request(f"{server.url}/health/ready")[0],
        "full": http_request(f"{server.url}/health/full")[0],
    }


def _post(url, body, headers):
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.mark.slow
def test_a_pickle_planted_in_every_key_the_app_reads_never_runs(
    transactional_db, tmp_path, redis_db, admin_user
):
    Link.objects.create(short_code="up", target_url="https://example.com/")
    _, token = issue_token(admin_user)
    browser = Client()
    browser.force_login(admin_user)
    session = browser.cookies["sessionid"].value
    marker = tmp_path / "ran"
    server = GunicornServer(
        tmp_path,
        workers=1,
        threads=2,
        extra_env={
            "CACHE_URL": REDIS_URL,
            "RATE_LIMIT_REDIRECTS": "1000/hour",
            "RATE_LIMIT_WRITES": "1000/hour",
            "BACKUP_DIR": str(tmp_path / "backups"),
        },
    )
    server.start()
    try:
        # With an empty cache the app writes the keys it reads.
        first = visit(server, token=token, session=session)
        written = set(redis_db.keys("*"))
        planted = written | {b":1:tinylink:health:probe"}
        for key in planted:
            redis_db.set(key, pickle.dumps(CreatesFile(marker)), keepttl=True)
        second = visit(server, token=token, session=session)
    finally:
        server.stop()

    assert first == {
        "redirect": 302,
        "api write": 201,
        "admin index": 200,
        "ready": 200,
        "full": 200,
    }, server.log()[-3000:]
    # The rate-limit counters and the admin summary were in Redis.
    assert {key.split(b":")[2] for key in written} == {b"rl", b"links"}
    assert not marker.exists()
    assert second == first, server.log()[-3000:]
    # The summary that was not JSON was counted again and written over.
    summary = json.loads(redis_db.get(b":1:links:admin-summary"))
    # "up" and the two links the API writes created.
    assert (summary["total"], summary["active"]) == (3, 3)


def test_the_admin_summary_goes_through_redis_as_json(
    admin_client, db, settings, redis_db
):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"serializer": "config.cache.JSONSerializer"},
        }
    }
    Link.objects.create(short_code="one", target_url="https://example.com/")
    assert 'id="link-summary-active">1<' in admin_client.get("/admin/").text
    Link.objects.create(short_code="two", target_url="https://example.com/")
    # Read back from Redis: a minute old at most, so still one link.
    assert 'id="link-summary-active">1<' in admin_client.get("/admin/").text
    stored = json.loads(redis_db.get(b":1:links:admin-summary"))
    assert stored["active"] == 1
