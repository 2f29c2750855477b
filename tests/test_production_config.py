"""The README's production configuration, taken from the README itself:
`check --deploy` is clean with exactly that environment, and gunicorn started
with it redirects to https, sends HSTS and only secure cookies, and ends a
sign-in after SESSION_COOKIE_AGE."""

import os
import re
import secrets
import shlex
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from django.conf import global_settings
from django.contrib.auth import get_user_model

from tests.servers import GunicornServer, _opener, database_url, http_request

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = re.compile(r"^([A-Z][A-Z0-9_]*)=(.*)$", re.DOTALL)


def readme_production_env():
    """The variables of the README's production example, with a real key for
    its SECRET_KEY placeholder."""
    readme = (ROOT / "README.md").read_text()
    _, _, after = readme.partition("A production configuration that passes")
    block = re.search(r"```sh\n(.*?)```", after, re.DOTALL).group(1)
    words = shlex.split(block.replace("\\\n", " "), comments=True)
    env = dict(ASSIGNMENT.match(w).groups() for w in words if ASSIGNMENT.match(w))
    assert [w for w in words if not ASSIGNMENT.match(w)] == ["make", "serve"]
    assert env.pop("SECRET_KEY") == "..."  # a placeholder, never a key
    return {**env, "SECRET_KEY": secrets.token_urlsafe(50)}


def test_check_deploy_is_clean_with_the_readme_production_configuration():
    # Nothing from this process's environment: only what the README sets.
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root")}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "DEBUG"],
        cwd=ROOT,
        env={**env, **readme_production_env()},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


@pytest.fixture(scope="module")
def production_server(django_db_setup, tmp_path_factory):
    """gunicorn with the README's environment, on this machine: the test
    database for the README's `db`, Redis database 12 for its cache."""
    env = readme_production_env()
    env.update(DATABASE_URL=database_url(), CACHE_URL="redis://127.0.0.1:6379/12")
    server = GunicornServer(tmp_path_factory.mktemp("production"), extra_env=env)
    try:
        # The health probe answers over plain http; every page redirects.
        server.start(wait_path="/health/live")
        yield server
    finally:
        server.stop()


def get(server, path, **headers):
    return http_request(server.url + path, headers={"Host": "sho.rt", **headers})


def cookie(headers, name):
    return next(
        value for value in headers.get_all("Set-Cookie") if value.startswith(name)
    )


def test_plain_http_is_redirected_to_https(production_server, transactional_db):
    status, headers, _ = get(production_server, "/accounts/login/")
    assert status == 301
    assert headers["Location"] == "https://sho.rt/accounts/login/"


def test_https_pages_send_hsts_and_secure_cookies(
    production_server, transactional_db, settings
):
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    get_user_model().objects.create_user("alice", password="correct horse 1")
    # TLS ends at the proxy in front (127.0.0.1, which gunicorn trusts).
    https = {"X-Forwarded-Proto": "https"}
    status, headers, body = get(production_server, "/accounts/login/", **https)
    assert status == 200
    assert headers["Strict-Transport-Security"] == (
        "max-age=31536000; includeSubDomains; preload"
    )
    csrf_cookie = cookie(headers, "csrftoken=")
    assert "Secure" in csrf_cookie
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1)

    form = urllib.parse.urlencode(
        {
            "csrfmiddlewaretoken": token.decode(),
            "username": "alice",
            "password": "correct horse 1",
        }
    ).encode()
    request = urllib.request.Request(
        production_server.url + "/accounts/login/",
        data=form,
        method="POST",
        headers={
            "Host": "sho.rt",
            "Origin": "https://sho.rt",
            "Cookie": csrf_cookie.split(";", 1)[0],
            "Content-Type": "application/x-www-form-urlencoded",
            **https,
        },
    )
    try:
        with _opener.open(request, timeout=30) as response:
            status, headers = response.status, response.headers
    except urllib.error.HTTPError as error:  # 3xx too: redirects are not followed
        status, headers = error.code, error.headers
    assert status == 302, headers
    session = cookie(headers, "sessionid=")
    assert "Secure" in session
    assert "HttpOnly" in session
    assert "SameSite=Lax" in session
    # A week, not Django's two (docs/security/hardening.md says why).
    assert "Max-Age=604800" in session
