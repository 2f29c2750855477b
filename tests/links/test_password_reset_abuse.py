"""Issue 15, item 2, as a reviewer attacked it: the reset link's host, what a
refused message tells about an address, how often a reset can be asked for,
and whose sign-in lock a reset lifts."""

import logging
import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.cache import cache

from tests.links.smtp_helpers import refusing_smtp_server

CONSOLE = "django.core.mail.backends.console.EmailBackend"
SMTP = "django.core.mail.backends.smtp.EmailBackend"
PASSWORD = "correct horse 1"
NEW = "a brand new passphrase 7"


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    # The limiter counts in the cache, which outlives a test.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def alice(db):
    return get_user_model().objects.create_user(
        "alice", email="alice@example.com", password=PASSWORD
    )


def request_reset(client, email="alice@example.com", **extra):
    return client.post("/accounts/password_reset/", {"email": email}, **extra)


# --- The link's host (finding 1) -------------------------------------------


def test_item2_without_public_base_url_no_email_takes_the_request_host(
    client, alice, settings
):
    # With ALLOWED_HOSTS=* anyone could make alice's email link to their host.
    settings.PUBLIC_BASE_URL = ""
    settings.ALLOWED_HOSTS = ["*"]
    response = request_reset(client, HTTP_HOST="evil.example")
    assert mail.outbox == []
    assert response.status_code == 200
    page = response.content.decode()
    assert "PUBLIC_BASE_URL" in page
    assert "Check your email" not in page
    login = client.get("/accounts/login/").content.decode()
    assert "Forgot password?" not in login


def test_item2_the_link_keeps_the_path_of_public_base_url(client, alice, settings):
    settings.PUBLIC_BASE_URL = "https://example.com/s"
    settings.ALLOWED_HOSTS = ["*"]
    request_reset(client, HTTP_HOST="evil.example")
    body = mail.outbox[0].body
    assert re.search(r"https://example\.com/s/accounts/reset/\S+/", body)
    assert "evil.example" not in body


def test_item2_development_console_may_use_the_request_host(
    client, alice, settings, capsys
):
    settings.DEBUG = True
    settings.EMAIL_BACKEND = CONSOLE
    settings.PUBLIC_BASE_URL = ""
    response = request_reset(client)
    assert response["Location"] == "/accounts/password_reset/done/"
    assert "http://testserver/accounts/reset/" in capsys.readouterr().out


# --- A refused message (finding 3) -----------------------------------------


@pytest.mark.parametrize("email", ["alice@example.com", "nobody@example.com"])
def test_item2_a_refused_message_answers_as_for_an_unknown_address(
    client, alice, settings, caplog, email
):
    settings.PUBLIC_BASE_URL = "https://sho.rt"
    with refusing_smtp_server() as server:
        settings.EMAIL_BACKEND = SMTP
        settings.EMAIL_HOST, settings.EMAIL_PORT = server.server_address
        with caplog.at_level(logging.INFO, logger="tinylink.email"):
            response = request_reset(client, email)
    # 302 to "done" for both: the refusal says nothing about the account.
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password_reset/done/"
    records = [r for r in caplog.records if r.name == "tinylink.email"]
    if email == "alice@example.com":
        assert server.refused == 1
        [record] = records
        assert record.levelno == logging.ERROR
        assert f"user {alice.pk}" in record.getMessage()
        assert "SMTPRecipientsRefused" in record.getMessage()
    else:
        assert server.refused == 0
        assert records == []
    assert "alice@example.com" not in caplog.text


# --- Rate limits (finding 4) -----------------------------------------------


def test_item2_a_sixth_reset_for_one_address_sends_nothing(
    client, alice, settings, caplog
):
    settings.PUBLIC_BASE_URL = "https://sho.rt"
    for n in range(5):
        response = request_reset(client, REMOTE_ADDR=f"198.51.100.{n + 1}")
        assert response["Location"] == "/accounts/password_reset/done/"
    assert len(mail.outbox) == 5
    with caplog.at_level(logging.WARNING, logger="tinylink.email"):
        response = request_reset(client, REMOTE_ADDR="198.51.100.99")
    # The same answer as any other request: nothing about the account.
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password_reset/done/"
    assert len(mail.outbox) == 5
    [record] = [r for r in caplog.records if r.name == "tinylink.email"]
    assert "over the limit" in record.getMessage()
    assert "alice@example.com" not in caplog.text


def test_item2_a_sixth_reset_from_one_client_sends_nothing(client, db, settings):
    settings.PUBLIC_BASE_URL = "https://sho.rt"
    for n in range(6):
        get_user_model().objects.create_user(
            f"u{n}", email=f"u{n}@example.com", password=PASSWORD
        )
    for n in range(5):
        request_reset(client, f"u{n}@example.com", REMOTE_ADDR="203.0.113.7")
    assert len(mail.outbox) == 5
    response = request_reset(client, "u5@example.com", REMOTE_ADDR="203.0.113.7")
    assert response["Location"] == "/accounts/password_reset/done/"
    assert len(mail.outbox) == 5
    # Another client may still ask for that address.
    request_reset(client, "u5@example.com", REMOTE_ADDR="203.0.113.8")
    assert mail.outbox[-1].to == ["u5@example.com"]


# --- Whose lock a reset lifts (finding 5) ----------------------------------


def sign_in(client, username, password, ip):
    return client.post(
        "/accounts/login/",
        {"username": username, "password": password},
        REMOTE_ADDR=ip,
    )


def test_item2_a_reset_keeps_the_lock_on_the_attackers_address(
    client, alice, other_user, settings
):
    settings.PUBLIC_BASE_URL = "http://testserver"
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_COOLOFF_TIME = timedelta(minutes=30)
    attacker, alices_ip = "198.51.100.66", "192.0.2.10"
    for _ in range(3):
        sign_in(client, "alice", "wrong", attacker)
    # The address is locked for every user name, bob's too.
    assert sign_in(client, "bob", "correct horse 2", attacker).status_code == 429

    request_reset(client, REMOTE_ADDR=alices_ip)
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", mail.outbox[0].body)
    form_url = client.get(link.group(1), REMOTE_ADDR=alices_ip)["Location"]
    response = client.post(
        form_url,
        {"new_password1": NEW, "new_password2": NEW},
        REMOTE_ADDR=alices_ip,
    )
    assert response.status_code == 302

    # Alice's user name is free again, from her own address ...
    assert sign_in(client, "alice", NEW, alices_ip).status_code == 302
    # ... but the attacker's address stays locked, for bob too.
    assert sign_in(client, "bob", "correct horse 2", attacker).status_code == 429
