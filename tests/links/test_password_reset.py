"""Item 2 of issue 15: password reset by email only when email can be sent,
with the TinyLink look; an honest page without email; a send failure said on
the page and logged, never "we've emailed you"."""

import logging
import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

from config.mail import email_settings
from tests.servers import GunicornServer, form_csrf, free_port, http_request

OLD = "correct horse 1"
NEW = "a brand new passphrase 7"
DUMMY = "django.core.mail.backends.dummy.EmailBackend"
SMTP = "django.core.mail.backends.smtp.EmailBackend"


@pytest.fixture(autouse=True)
def _public_base_url(settings):
    # Reset by email needs the site's own address for the link
    # (tests/links/test_password_reset_abuse.py shows why); its rate limits
    # count in the cache, which outlives a test.
    settings.PUBLIC_BASE_URL = "http://testserver"
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def alice(db):
    return get_user_model().objects.create_user(
        "alice", email="alice@example.com", password=OLD
    )


@pytest.fixture
def no_email(settings):
    # What config/mail.py sets without EMAIL_URL outside development (the
    # tests' runner swaps in the local-memory backend otherwise).
    settings.EMAIL_BACKEND = DUMMY


def sign_in(client, password, ip="203.0.113.9"):
    return client.post(
        "/accounts/login/",
        {"username": "alice", "password": password},
        REMOTE_ADDR=ip,
    )


def request_reset(client, email="alice@example.com"):
    return client.post("/accounts/password_reset/", {"email": email})


def reset_link(message):
    return re.search(r"http://testserver(/accounts/reset/\S+/)", message.body).group(1)


def set_new_password(client, link, password=NEW):
    # Django swaps the token in the link for one in the session, then shows
    # the form at .../set-password/.
    response = client.get(link)
    assert response.status_code == 302
    form_url = response["Location"]
    assert "Set a new password" in client.get(form_url).content.decode()
    return client.post(form_url, {"new_password1": password, "new_password2": password})


def test_item2_reset_by_email_end_to_end(client, alice):
    login_page = client.get("/accounts/login/").content.decode()
    assert '<a href="/accounts/password_reset/">Forgot password?</a>' in login_page

    response = request_reset(client)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password_reset/done/"
    done = client.get(response["Location"]).content.decode()
    assert "Check your email" in done
    assert "for 72 hours" in done

    [message] = mail.outbox
    assert message.to == ["alice@example.com"]
    assert message.subject == "Reset your TinyLink password"
    assert "Your user name is: alice" in message.body

    response = set_new_password(client, reset_link(message))
    assert response.status_code == 302
    complete = client.get(response["Location"]).content.decode()
    assert "Password set" in complete

    assert sign_in(client, OLD).status_code == 200  # the form again
    response = sign_in(client, NEW)
    assert response.status_code == 302
    assert response["Location"] == "/links/"


def test_item2_a_used_link_says_it_does_not_work(client, alice):
    request_reset(client)
    link = reset_link(mail.outbox[0])
    set_new_password(client, link)
    page = client.get(link, follow=True).content.decode()
    assert "This reset link does not work" in page
    assert 'href="/accounts/password_reset/"' in page


def test_item2_an_unknown_address_gets_the_same_answer_and_no_email(client, alice):
    response = request_reset(client, "nobody@example.com")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password_reset/done/"
    assert mail.outbox == []


@pytest.mark.parametrize(
    "path",
    [
        "/accounts/password_reset/",
        "/accounts/password_reset/done/",
        "/accounts/reset/MQ/set-password/",
        "/accounts/reset/done/",
    ],
)
def test_item2_reset_pages_have_the_tinylink_look(client, alice, path):
    response = client.get(path)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'class="site-header"' in page
    assert "/static/css/tinylink.css" in page
    assert "Django administration" not in page


def test_item2_without_email_the_reset_page_is_honest(client, alice, no_email):
    assert "Forgot password?" not in client.get("/accounts/login/").content.decode()
    for path in ["/accounts/password_reset/", "/accounts/password_reset/done/"]:
        page = client.get(path).content.decode()
        assert "cannot send email" in page
        assert "manage.py changepassword" in page
        assert "Check your email" not in page
    response = request_reset(client)
    assert response.status_code == 200
    assert "cannot send email" in response.content.decode()
    assert mail.outbox == []


@pytest.mark.parametrize("email", ["alice@example.com", "nobody@example.com"])
def test_item2_smtp_down_says_so_and_logs_it(client, alice, settings, caplog, email):
    settings.EMAIL_BACKEND = SMTP
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    with caplog.at_level(logging.ERROR, logger="tinylink.email"):
        response = request_reset(client, email)
    # The same for a known and an unknown address: nothing about accounts.
    assert response.status_code == 503
    page = response.content.decode()
    assert "The email could not be sent" in page
    assert "Check your email" not in page
    assert [r.getMessage() for r in caplog.records] == [
        "password reset email not sent: ConnectionRefusedError: "
        "[Errno 111] Connection refused"
    ]


def test_item2_the_link_points_at_public_base_url(client, alice, settings):
    settings.PUBLIC_BASE_URL = "https://sho.rt"
    request_reset(client)
    assert "https://sho.rt/accounts/reset/" in mail.outbox[0].body


def test_item2_a_reset_lifts_the_lock_out_of_the_user_name(client, alice, settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_COOLOFF_TIME = timedelta(minutes=30)
    for _ in range(3):
        sign_in(client, "wrong", ip="198.51.100.1")
    # Locked by user name, from any address.
    assert sign_in(client, OLD, ip="198.51.100.2").status_code == 429
    request_reset(client)
    set_new_password(client, reset_link(mail.outbox[0]))
    assert sign_in(client, NEW, ip="198.51.100.2").status_code == 302


@pytest.mark.parametrize(
    ("url", "debug", "expected"),
    [
        ("", False, {"EMAIL_BACKEND": DUMMY}),
        (
            "",
            True,
            {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"},
        ),
        (
            "smtp://me%40example.com:p%24ss@mail.example.com:587?tls",
            False,
            {
                "EMAIL_BACKEND": SMTP,
                "EMAIL_HOST": "mail.example.com",
                "EMAIL_PORT": 587,
                "EMAIL_HOST_USER": "me@example.com",
                "EMAIL_HOST_PASSWORD": "p$ss",
                "EMAIL_USE_TLS": True,
            },
        ),
        (
            "smtp+ssl://mail.example.com:465",
            False,
            {
                "EMAIL_BACKEND": SMTP,
                "EMAIL_HOST": "mail.example.com",
                "EMAIL_PORT": 465,
                "EMAIL_USE_SSL": True,
            },
        ),
        ("dummymail://", True, {"EMAIL_BACKEND": DUMMY}),
    ],
)
def test_item2_email_url_is_read_into_the_email_settings(url, debug, expected):
    assert email_settings(url, debug=debug) == expected


@pytest.mark.parametrize(
    "url",
    ["http://mail.example.com", "smtp://", "smtp://h?starttls", "smtp://h?tls&ssl"],
)
def test_item2_a_bad_email_url_is_a_start_up_error(url):
    with pytest.raises(ImproperlyConfigured, match="EMAIL_URL"):
        email_settings(url, debug=False)


def test_item2_the_error_never_shows_the_password():
    with pytest.raises(ImproperlyConfigured) as caught:
        email_settings("smtp://me:s3cret@mail.example.com:badport", debug=False)
    assert "s3cret" not in str(caught.value)


@pytest.mark.slow
def test_item2_smtp_down_on_gunicorn_says_the_email_failed(transactional_db, tmp_path):
    get_user_model().objects.create_user("alice", email="alice@example.com")
    # A port where nothing listens: every connection is refused.
    server = GunicornServer(
        tmp_path,
        workers=1,
        threads=2,
        extra_env={"EMAIL_URL": f"smtp://127.0.0.1:{free_port()}"},
    )
    server.extra_env["PUBLIC_BASE_URL"] = server.url
    server.start()
    try:
        cookie, token = form_csrf(server, "/accounts/password_reset/")
        status, _, body = http_request(
            server.url + "/accounts/password_reset/",
            method="POST",
            headers={
                "Cookie": cookie,
                "Content-Type": "application/x-www-form-urlencoded",
            },
            data=f"csrfmiddlewaretoken={token}&email=alice%40example.com".encode(),
        )
        page = body.decode()
        assert status == 503
        assert "The email could not be sent" in page
        assert "Check your email" not in page
        assert "password reset email not sent: ConnectionRefusedError" in server.log()
    finally:
        server.stop()
