"""The sign-in lock-out on the production entry point: gunicorn with three
workers, the configured limit, and each attempt a new connection, so the
failures land on different workers and only a shared count stops them."""

import urllib.error
import urllib.request
from urllib.parse import urlencode

import pytest

from tests.servers import _opener, form_csrf

pytestmark = pytest.mark.slow


def _sign_in(server, path, password, csrf):
    cookie, token = csrf
    body = urlencode(
        {"csrfmiddlewaretoken": token, "username": "alice", "password": password}
    ).encode()
    request = urllib.request.Request(
        server.url + path,
        data=body,
        method="POST",
        headers={
            "Cookie": cookie,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    try:
        with _opener.open(request, timeout=30) as response:
            return response.status, response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.headers


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_100_wrong_passwords_then_the_right_one_is_refused_by_gunicorn(
    gunicorn_server, django_user_model, settings, path
):
    # Hashed as the server checks it: MD5, which the other tests use to be
    # fast, is not among the server's hashers.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    django_user_model.objects.create_user(
        "alice", password="correct horse 1", is_staff=True
    )
    csrf = form_csrf(gunicorn_server, path)
    # The password works on this server before the attack.
    assert _sign_in(gunicorn_server, path, "correct horse 1", csrf)[0] == 302
    csrf = form_csrf(gunicorn_server, path)
    statuses = [
        _sign_in(gunicorn_server, path, f"guess {n}", csrf)[0] for n in range(100)
    ]
    assert statuses[0] == 200  # the form again, with its error bar
    assert statuses[-1] == 429
    status, headers = _sign_in(gunicorn_server, path, "correct horse 1", csrf)
    assert status == 429
    assert int(headers["Retry-After"]) > 0
    assert "sessionid" not in (headers.get("Set-Cookie") or "")
