"""Issue 15 items 2, 3 and 5 in Chromium: the password reset by email with the
TinyLink look, a stale create form after signing in again in another tab, and
GET on sign-out."""

import re
from datetime import UTC, datetime, time, timedelta

import pytest
from django.conf import global_settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from links.models import Link
from tests.servers import GunicornServer, poll

pytestmark = pytest.mark.slow
PASSWORD = "correct horse 1"
NEW_PASSWORD = "a brand new passphrase 7"
TARGET = "https://example.com/kept/after/expiry?q=1"


@pytest.fixture(scope="module")
def mail_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("mail")


@pytest.fixture(scope="module")
def ui_server(django_db_setup, tmp_path_factory, mail_dir):
    """tests/browser/conftest.py's server, with email: written to files in
    mail_dir, where the test reads what a mailbox would receive."""
    server = GunicornServer(
        tmp_path_factory.mktemp("ui"),
        workers=1,
        threads=8,
        extra_env={"EMAIL_URL": f"filemail:///{mail_dir}"},
    )
    # The emailed link's address: reset by email is offered only with it.
    server.extra_env["PUBLIC_BASE_URL"] = server.url
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def owner(transactional_db, settings):
    # The server checks passwords with the real hashers, not the tests' fast one.
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    return get_user_model().objects.create_user(
        "alice", email="alice@example.com", password=PASSWORD
    )


def sign_in(page, password=PASSWORD):
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/links/$"))


def assert_tinylink_look_header(page):
    assert page.locator("header.site-header .brand").inner_text() == "TinyLink"


def assert_tinylink_look(page):
    assert_tinylink_look_header(page)
    card = page.locator(".card").first
    # tinylink.css styled it: Chromium's default has no border radius.
    assert card.evaluate("e => getComputedStyle(e).borderTopLeftRadius") == "8px"


def emailed_link(mail_dir):
    def read():
        files = sorted(mail_dir.iterdir())
        return files[-1].read_text() if files else ""

    text = poll(lambda: "/accounts/reset/" in read(), True) and read()
    return re.search(r"http://[^/\s]+(/accounts/reset/\S+/)", text).group(1)


def test_item2_forgot_password_in_the_browser_resets_it(page, owner, mail_dir):
    page.goto("/accounts/login/")
    page.get_by_role("link", name="Forgot password?").click()
    page.wait_for_url(re.compile(r"/accounts/password_reset/$"))
    assert page.locator("h1").inner_text() == "Reset your password"
    assert_tinylink_look(page)

    page.get_by_label("Email").fill("alice@example.com")
    page.get_by_role("button", name="Send reset link").click()
    page.wait_for_url(re.compile(r"/accounts/password_reset/done/$"))
    assert page.locator("h1").inner_text() == "Check your email"
    assert_tinylink_look(page)

    page.goto(emailed_link(mail_dir))
    assert page.locator("h1").inner_text() == "Set a new password"
    assert_tinylink_look(page)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password confirmation").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set password").click()
    page.wait_for_url(re.compile(r"/accounts/reset/done/$"))
    assert page.locator("h1").inner_text() == "Password set"

    sign_in(page, NEW_PASSWORD)
    assert page.locator("h1").inner_text() == "My links"


def test_item3_stale_create_form_after_signing_in_again_in_another_tab(page, owner):
    from playwright.sync_api import expect

    sign_in(page)
    page.get_by_label("Long URL").fill(TARGET)
    page.get_by_label("Custom code").fill("kept")
    day = (timezone.now() + timedelta(days=30)).date()
    page.get_by_label("Expiry date (UTC)").fill(day.isoformat())
    page.get_by_label("Expiry time (UTC)").fill("18:30")

    # Another tab of the same browser signs out and in again: a new token.
    other = page.context.new_page()
    other.goto("/accounts/logout/")
    other.get_by_role("button", name="Sign out").click()
    sign_in(other)
    other.close()

    page.get_by_role("button", name="Create short link").click()
    expect(page.locator("h1")).to_have_text("This form has expired")
    assert not Link.objects.exists()
    assert page.get_by_label("Long URL").input_value() == TARGET
    assert page.get_by_label("Custom code").input_value() == "kept"
    assert page.get_by_label("Expiry date (UTC)").input_value() == day.isoformat()
    assert page.get_by_label("Expiry time (UTC)").input_value() == "18:30"

    page.get_by_role("button", name="Create short link").click()
    page.wait_for_url(re.compile(r"/links/$"))
    expect(page.locator("tr[data-code=kept]")).to_be_visible()
    link = Link.objects.get()
    assert link.target_url == TARGET
    assert link.expires_at == datetime.combine(day, time(18, 30), tzinfo=UTC)


def test_item5_get_on_sign_out_and_on_a_post_only_url_show_pages(page, owner):
    owner.is_staff = True
    owner.save()
    sign_in(page)
    # Chrome showed "This page isn't working" for the empty 405.
    response = page.goto("/admin/logout/")
    assert response.status == 405
    assert page.locator("h1").inner_text() == "This address is the target of a button"
    assert_tinylink_look_header(page)

    response = page.goto("/accounts/logout/")
    assert response.status == 200
    assert page.locator("h1").inner_text() == "Sign out?"
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/$"))
    assert page.get_by_role("link", name="Sign in").is_visible()
