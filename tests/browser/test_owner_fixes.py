"""Issue 15, the link owners' part, in Chromium against gunicorn: what the
browser shows after a half-filled expiry, where the focus goes, what a screen
reader is given for the copy button."""

import re

import pytest
from django.conf import global_settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from links.models import Link
from tests.browser.test_links_ui import PASSWORD, sign_in

pytestmark = pytest.mark.slow


@pytest.fixture
def owner(transactional_db, settings):
    # The server checks passwords with the real hashers, not the tests' fast one.
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    return get_user_model().objects.create_user("alice", password=PASSWORD)


def test_item1_half_filled_expiry_is_an_error_next_to_the_field(page, owner):
    sign_in(page)
    page.get_by_label("Long URL").fill("https://example.com/half")
    page.get_by_label("Expiry date (UTC)").fill(
        timezone.now().strftime("%Y") + "-12-31"
    )
    page.get_by_role("button", name="Create short link").click()
    field = page.locator(".field.has-error", has=page.locator("#id_expires_at_error"))
    assert "Enter a time as well" in field.locator(".field-error").inner_text()
    # Kept with the input: the date is still there, the URL too.
    assert page.get_by_label("Expiry date (UTC)").input_value().endswith("-12-31")
    assert page.get_by_label("Long URL").input_value() == "https://example.com/half"
    assert Link.objects.count() == 0


def test_item8_failed_submit_focuses_the_error_summary(page, owner):
    sign_in(page)
    page.get_by_label("Long URL").fill("not a url")
    page.get_by_label("Click limit").fill("0")
    page.get_by_role("button", name="Create short link").click()
    page.wait_for_selector("#error-bar")
    assert page.evaluate("document.activeElement.id") == "error-bar"
    assert page.locator("#error-bar").get_attribute("tabindex") == "-1"
    url = page.get_by_label("Long URL")
    assert url.get_attribute("aria-invalid") == "true"
    described = url.get_attribute("aria-describedby").split()
    assert "id_target_url_error" in described
    for name in [*described, "id_max_clicks_error"]:
        assert page.locator(f"#{name}").count() == 1
    assert (
        "starting with http:// or https://"
        in page.locator("#id_target_url_error").inner_text()
    )


def test_item8_copy_button_names_the_link_and_copied_is_announced(page, owner):
    from playwright.sync_api import expect

    Link.objects.create(
        short_code="abc", target_url="https://example.com/", owner=owner
    )
    sign_in(page)
    host = re.sub(r"^https?://", "", page.url.split("/links/")[0])
    button = page.get_by_role("button", name=f"Copy short link {host}/abc")
    status = page.locator("#copy-status")
    assert status.get_attribute("aria-live") == "polite"
    assert status.inner_text() == ""
    button.click()
    expect(status).to_have_text(f"Copied {host}/abc")
    expect(button).to_have_text("Copied")
