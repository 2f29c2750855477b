"""The owner's path through the web UI, in a real browser against gunicorn."""

import re
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import global_settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from links.models import Link
from tests.servers import poll

pytestmark = pytest.mark.slow
PASSWORD = "correct horse 1"
TARGET = "https://example.com/landing/page"


@pytest.fixture
def owner(transactional_db, settings):
    # The server checks passwords with the real hashers, not the tests' fast one.
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    return get_user_model().objects.create_user("alice", password=PASSWORD)


class _Landing(BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"<!doctype html><title>Landed</title><h1>Landed</h1>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def external_site():
    """Stand-in for the outside world on loopback: tests never depend on a real
    host. Loopback itself is no valid target, so the browser reaches it as
    landing.test (tests/browser/conftest.py maps *.test to 127.0.0.1)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Landing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://landing.test:{server.server_address[1]}/landing/page"
    server.shutdown()
    server.server_close()


def sign_in(page):
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/links/$"))


def create(page, target, code=""):
    page.get_by_label("Long URL").fill(target)
    page.get_by_label("Custom code").fill(code)
    page.get_by_role("button", name="Create short link").click()


def test_sign_in_create_copy_qr_and_follow(page, owner, external_site):
    # Imported here, as the browser fixture does: without playwright the
    # browser tests skip instead of failing to import.
    from playwright.sync_api import expect

    sign_in(page)
    create(page, external_site, "promo")
    page.wait_for_selector("text=Created")
    row = page.locator("tr[data-code=promo]")
    assert row.locator(".badge").inner_text() == "active"

    row.get_by_role("button", name=re.compile("Copy")).click()
    # Locator assertions, not wait_for_function: that evaluates its predicate
    # with eval(), which the Content-Security-Policy forbids in the page.
    expect(row.locator(".copy")).to_have_text("Copied")
    clipboard = page.evaluate("navigator.clipboard.readText()")
    assert clipboard.endswith("/promo")

    thumb = row.locator(".qr-thumb img")
    thumb.scroll_into_view_if_needed()
    expect(thumb).to_have_js_property("complete", True)
    expect(thumb).to_have_js_property("naturalWidth", 64)
    thumb.click()
    dialog = page.locator("#qr-dialog")
    assert dialog.is_visible()
    expect(page.locator("#qr-dialog-img")).to_have_js_property("naturalWidth", 320)
    assert (
        dialog.get_by_role("link", name="Download SVG")
        .get_attribute("href")
        .endswith("?format=svg")
    )
    dialog.get_by_role("button", name="Close").click()

    page.goto("/promo")
    assert page.url == external_site
    assert page.locator("h1").inner_text() == "Landed"
    page.goto("/promo")

    # The server writes clicks within CLICK_FLUSH_SECONDS: reload until shown.
    def shown():
        page.goto("/links/")
        return page.locator("tr[data-code=promo] .clicks").inner_text()

    assert poll(shown, "2") == "2"
    assert Link.objects.get(short_code="promo").click_count == 2


def test_custom_code_conflict_shows_the_error_bar(page, owner):
    Link.objects.create(short_code="taken", target_url="https://example.com/")
    sign_in(page)
    create(page, "https://example.com/mine", "taken")
    bar = page.get_by_role("alert")
    assert "already taken" in bar.inner_text()
    # What the user typed is kept, and the field is marked.
    assert page.get_by_label("Long URL").input_value() == "https://example.com/mine"
    assert (
        page.locator(".field.has-error .field-error")
        .inner_text()
        .endswith("already taken.")
    )


def test_edit_expiry_to_the_past_is_refused_and_the_link_keeps_working(page, owner):
    Link.objects.create(short_code="soon", target_url=TARGET, owner=owner)
    sign_in(page)
    page.goto("/links/soon/edit/")
    past = timezone.now() - timedelta(hours=2)
    page.get_by_label("Expiry date (UTC)").fill(past.strftime("%Y-%m-%d"))
    page.get_by_label("Expiry time (UTC)").fill(past.strftime("%H:%M"))
    page.get_by_role("button", name="Save").click()
    assert "must be in the future" in page.locator("#id_expires_at_error").inner_text()
    assert Link.objects.get(short_code="soon").expires_at is None
    # Switching it off is the way to stop a link now.
    page.get_by_label("Expiry date (UTC)").fill("")
    page.get_by_label("Expiry time (UTC)").fill("")
    page.get_by_label("Active").uncheck()
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"/links/soon/$"))
    response = page.goto("/soon")
    assert response.status == 410
    assert page.locator("h1").inner_text() == "This short link has been deactivated."


def test_delete_with_confirmation(page, owner):
    Link.objects.create(short_code="bye", target_url=TARGET, owner=owner)
    sign_in(page)
    page.locator("tr[data-code=bye]").get_by_role("link", name="Delete").click()
    page.get_by_role("button", name="Delete permanently").click()
    page.wait_for_selector("text=Deleted bye")
    assert not Link.objects.filter(short_code="bye").exists()
    assert page.goto("/bye").status == 404


def test_list_is_readable_on_a_phone(browser, ui_server, owner):
    Link.objects.create(
        short_code="long",
        owner=owner,
        target_url="https://example.com/" + "segment/" * 60,
    )
    context = browser.new_context(
        base_url=ui_server.url, viewport={"width": 375, "height": 740}
    )
    page = context.new_page()
    try:
        sign_in(page)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth"
            " - document.documentElement.clientWidth"
        )
        assert overflow <= 0, "no horizontal scrolling on a phone"
    finally:
        context.close()
