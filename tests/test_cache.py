"""What TinyLink keeps in Redis: JSON, never a pickle; over AUTH and TLS.

Django's Redis cache unpickles what it reads, and unpickling runs code: a
pickle planted in a key the app reads ran in the worker that read it.
"""

import json
import os
import pickle
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
import redis
from django.test import Client

from config.cache import JSONSerializer
from links.auth import issue_token
from links.models import Link
from tests.servers import ROOT, GunicornServer, free_port, http_request

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


# --- AUTH and TLS ------------------------------------------------------------------

PASSWORD = "s3cr#t@/pw"  # characters a URL must percent-encode
PASSWORD_IN_URL = "s3cr%23t%40%2Fpw"


def _openssl(arguments, cwd):
    subprocess.run(
        ["openssl", *arguments.split()], cwd=cwd, check=True, capture_output=True
    )


@pytest.fixture
def private_redis(tmp_path):
    """A redis-server of this test's own, with a password, on plain TCP and
    on TLS (a certificate for 127.0.0.1 from a CA made here).
    Yields (port, tls_port, ca_file)."""
    if not (shutil.which("redis-server") and shutil.which("openssl")):
        pytest.skip("needs redis-server and openssl")
    _openssl(
        "req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=test-ca"
        " -keyout ca.key -out ca.crt",
        cwd=tmp_path,
    )
    _openssl(
        "req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1"
        " -keyout server.key -out server.csr",
        cwd=tmp_path,
    )
    (tmp_path / "san.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    _openssl(
        "x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial"
        " -days 1 -extfile san.cnf -out server.crt",
        cwd=tmp_path,
    )
    port, tls_port = free_port(), free_port()
    options = (
        f"--port {port} --tls-port {tls_port} --tls-auth-clients no"
        " --tls-cert-file server.crt --tls-key-file server.key"
        " --tls-ca-cert-file ca.crt --appendonly no"
    )
    server = subprocess.Popen(
        ["redis-server", *options.split(), "--requirepass", PASSWORD, "--save", ""],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis("127.0.0.1", port, password=PASSWORD, socket_timeout=1)
    deadline = time.monotonic() + 10
    try:
        while True:
            try:
                client.ping()
                break
            except redis.exceptions.ConnectionError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.skip("redis-server did not start (built without TLS?)")
                time.sleep(0.05)
        yield port, tls_port, tmp_path / "ca.crt"
    finally:
        client.close()
        server.terminate()
        server.wait(timeout=10)


def _through_the_settings(cache_url, tmp_path):
    """What manage.py, configured by CACHE_URL alone, reads back from the
    cache after writing to it; and the stored bytes."""
    snippet = (
        "from django.core.cache import cache; "
        "cache.set('probe', {'ok': True}, 30); "
        "raw = cache._cache.get_client().get(cache.make_key('probe')); "
        "print(cache.get('probe'), raw.decode())"
    )
    env = {
        **os.environ,
        "CACHE_URL": cache_url,
        "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
    }
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", snippet],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.slow
@pytest.mark.parametrize("scheme", ["redis", "rediss"])
def test_a_cache_url_with_a_password_and_tls_works(private_redis, tmp_path, scheme):
    port, tls_port, ca_file = private_redis
    if scheme == "redis":
        url = f"redis://:{PASSWORD_IN_URL}@127.0.0.1:{port}/0"
    else:
        url = (
            f"rediss://:{PASSWORD_IN_URL}@127.0.0.1:{tls_port}/0?ssl_ca_certs={ca_file}"
        )
    result = _through_the_settings(url, tmp_path)
    assert result.stdout.split() == ["{'ok':", "True}", '{"ok":true}'], result.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    "problem", ["wrong password", "certificate from an unknown CA"]
)
def test_a_redis_that_cannot_be_trusted_is_an_error_not_a_hang(
    private_redis, tmp_path, problem
):
    port, tls_port, _ = private_redis
    url = {
        "wrong password": f"redis://:wrong@127.0.0.1:{port}/0",
        # Verified against the system's CAs, which did not sign it.
        "certificate from an unknown CA": (
            f"rediss://:{PASSWORD_IN_URL}@127.0.0.1:{tls_port}/0"
        ),
    }[problem]
    result = _through_the_settings(url, tmp_path)
    assert result.returncode != 0
    expected = {
        "wrong password": "AuthenticationError",
        "certificate from an unknown CA": "CERTIFICATE_VERIFY_FAILED",
    }[problem]
    assert expected in result.stderr
