"""Sign-in throttling (django-axes): lock-out by user and by client on both
login pages, the cool-off, the page a locked-out client sees, the log line of
every failed sign-in, and the commands an operator unlocks with."""

import io
import ipaddress
import logging
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from links.auth import issue_token

LOGIN_PAGES = ["/accounts/login/", "/admin/login/"]
WRONG = "not the password"
ALICE_PASSWORD = "correct horse 1"
CLIENT = "203.0.113.9"
OTHER_CLIENT = "198.51.100.20"


@pytest.fixture(autouse=True)
def _small_limit(settings):
    # Small numbers keep the tests short; the 100-attempt test below shows
    # that the configured defaults hold as well.
    settings.AXES_FAILURE_LIMIT = 5
    settings.AXES_COOLOFF_TIME = timedelta(minutes=30)


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user(
        "alice", password=ALICE_PASSWORD, is_staff=True
    )


@pytest.fixture
def signin_clock(monkeypatch):
    """Pins the time django-axes stamps on every attempt (and that the
    lock-out page counts from); `advance` moves it on."""
    from axes.handlers import proxy

    class Clock:
        now = timezone.now().replace(microsecond=0)

        def advance(self, delta):
            self.now += delta

    clock = Clock()
    monkeypatch.setattr(proxy, "now", lambda: clock.now)
    return clock


def sign_in(client, username, password, *, path="/accounts/login/", ip=CLIENT, **kw):
    return client.post(
        path, {"username": username, "password": password}, REMOTE_ADDR=ip, **kw
    )


def signed_in(client):
    return "_auth_user_id" in client.session


def fail(client, times, username="alice", **kwargs):
    for _ in range(times):
        sign_in(client, username, WRONG, **kwargs)


@pytest.mark.parametrize("path", LOGIN_PAGES)
def test_100_wrong_passwords_then_the_right_one_is_refused(
    client, staff, settings, path
):
    # The finding, with the configured limit and cool-off.
    settings.AXES_FAILURE_LIMIT = 10
    fail(client, 100, path=path)
    response = sign_in(client, "alice", ALICE_PASSWORD, path=path)
    assert response.status_code == 429
    assert not signed_in(client)
    assert b"Too many failed sign-ins" in response.content


@pytest.mark.parametrize("path", LOGIN_PAGES)
def test_failures_below_the_limit_do_not_lock(client, staff, path):
    fail(client, 4, path=path)
    response = sign_in(client, "alice", ALICE_PASSWORD, path=path)
    assert response.status_code == 302
    assert signed_in(client)


def test_failures_on_one_page_count_on_the_other(client, staff):
    fail(client, 3, path="/accounts/login/")
    fail(client, 2, path="/admin/login/")
    assert sign_in(client, "alice", ALICE_PASSWORD).status_code == 429


def test_another_user_from_the_same_client_is_refused(client, staff, other_user):
    # Password spraying: one client trying many accounts is stopped too.
    fail(client, 5)
    response = sign_in(client, "bob", "correct horse 2")
    assert response.status_code == 429
    assert not signed_in(client)


def test_the_same_user_from_another_client_is_refused(client, staff):
    # A guessing attack spread over many addresses still counts per user.
    fail(client, 5)
    response = sign_in(client, "alice", ALICE_PASSWORD, ip=OTHER_CLIENT)
    assert response.status_code == 429
    assert not signed_in(client)


def test_other_users_on_other_clients_still_sign_in(client, staff, other_user):
    fail(client, 5)
    response = sign_in(client, "bob", "correct horse 2", ip=OTHER_CLIENT)
    assert response.status_code == 302
    assert signed_in(client)


def test_failures_spread_over_users_lock_the_client(client, staff, db):
    for name in ("carol", "dave", "erin", "frank", "grace"):
        sign_in(client, name, WRONG)
    assert sign_in(client, "alice", ALICE_PASSWORD).status_code == 429


def test_the_lock_lifts_after_the_cool_off(client, staff, signin_clock):
    fail(client, 5)
    signin_clock.advance(timedelta(minutes=29, seconds=59))
    assert sign_in(client, "alice", ALICE_PASSWORD).status_code == 429
    # That refused attempt did not restart the wait: the page's promise holds.
    signin_clock.advance(timedelta(seconds=2))
    response = sign_in(client, "alice", ALICE_PASSWORD)
    assert response.status_code == 302
    assert signed_in(client)


def test_old_failures_stop_counting_after_the_cool_off(client, staff, signin_clock):
    fail(client, 4)
    signin_clock.advance(timedelta(minutes=31))
    fail(client, 4)
    assert sign_in(client, "alice", ALICE_PASSWORD).status_code == 302


def test_the_lock_out_page_says_when_to_try_again(client, staff, signin_clock):
    fail(client, 4)
    signin_clock.advance(timedelta(minutes=10))
    last = signin_clock.now
    response = sign_in(client, "alice", WRONG)
    assert response.status_code == 429
    until = last + timedelta(minutes=30)
    page = response.content.decode()
    assert "Too many failed sign-ins" in page
    assert f"{until:%H:%M} UTC" in page
    assert "in 30 minutes" in page
    assert 'href="/static/css/tinylink.css"' in page  # the TinyLink look
    assert "alice" not in page  # says nothing about which account is locked
    assert response["Retry-After"] == str(30 * 60)
    # Ten minutes on, the page counts down from the same failure.
    signin_clock.advance(timedelta(minutes=10))
    response = sign_in(client, "alice", ALICE_PASSWORD)
    assert f"{until:%H:%M} UTC" in response.content.decode()
    assert response["Retry-After"] == str(20 * 60)


def test_a_json_client_gets_the_error_envelope(client, staff):
    fail(client, 5)
    response = sign_in(client, "alice", ALICE_PASSWORD, HTTP_ACCEPT="application/json")
    assert response.status_code == 429
    body = response.json()["error"]
    assert body["code"] == "locked_out"
    assert body["details"]["retry_after"] == int(response["Retry-After"])


def test_the_client_address_comes_from_the_trusted_proxy(client, staff, settings):
    proxy = "10.0.0.2"
    settings.TRUSTED_PROXIES = [ipaddress.ip_network(f"{proxy}/32")]
    fail(client, 5, ip=proxy, HTTP_X_FORWARDED_FOR=CLIENT)
    # Another client behind the same proxy is not locked out by the first ...
    other = sign_in(client, "bob", WRONG, ip=proxy, HTTP_X_FORWARDED_FOR=OTHER_CLIENT)
    assert other.status_code == 200
    # ... and the locked client cannot get out by writing an address of its
    # own into X-Forwarded-For (the proxy appends the real one).
    spoofed = sign_in(
        client,
        "bob",
        WRONG,
        ip=proxy,
        HTTP_X_FORWARDED_FOR=f"{OTHER_CLIENT}, {CLIENT}",
    )
    assert spoofed.status_code == 429


def test_each_failed_sign_in_is_logged_once_without_the_password(client, staff, caplog):
    secret = "hunter2-secret-guess"
    with caplog.at_level(logging.DEBUG):
        for _ in range(7):
            sign_in(client, "alice", secret, path="/admin/login/")
    lines = [r for r in caplog.records if r.name == "tinylink.signin"]
    assert len(lines) == 7
    for record in lines:
        message = record.getMessage()
        assert "'alice'" in message
        assert CLIENT in message
        assert record.path == "/admin/login/"
    assert [("locked out" in r.getMessage()) for r in lines] == [False] * 4 + [True] * 3
    assert secret not in caplog.text
    # django-axes says the same in several lines of its own; one is enough.
    assert not [r for r in caplog.records if r.name.startswith("axes")]


def test_a_successful_sign_in_logs_no_failure(client, staff, caplog):
    with caplog.at_level(logging.INFO):
        sign_in(client, "alice", ALICE_PASSWORD)
    assert not [r for r in caplog.records if r.name == "tinylink.signin"]


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("axes_reset_username", ["alice"]),
        ("axes_reset_ip", [CLIENT]),
        ("axes_reset_ip_username", [CLIENT, "alice"]),
        ("axes_reset", []),
    ],
)
def test_an_operator_unlocks_with_a_command(client, staff, command, args):
    fail(client, 5)
    assert sign_in(client, "alice", ALICE_PASSWORD).status_code == 429
    out = io.StringIO()
    call_command(command, *args, stdout=out)
    assert "1 attempts removed" in out.getvalue()
    assert sign_in(client, "alice", ALICE_PASSWORD).status_code == 302


def test_api_tokens_are_not_sign_ins(client, staff):
    from rest_framework.test import APIClient

    _, key = issue_token(staff)
    api = APIClient(REMOTE_ADDR=CLIENT)
    for _ in range(20):
        api.get("/api/links", HTTP_AUTHORIZATION="Token tl_wrong")
    # Wrong tokens lock nobody out of the login page ...
    assert sign_in(client, "alice", ALICE_PASSWORD).status_code == 302
    # ... and a locked-out client's valid token still works.
    fail(client, 5)
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/links").status_code == 200
