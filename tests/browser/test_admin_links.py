"""The links admin in a real browser: search, filter by state, an action."""

import re
from datetime import timedelta

import pytest
from django.conf import global_settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from links.models import Link

pytestmark = pytest.mark.slow
PASSWORD = "correct horse 9"


@pytest.fixture
def staff(transactional_db, settings):
    # The server checks passwords with the real hashers.
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    return get_user_model().objects.create_superuser("root", password=PASSWORD)


def test_admin_search_filter_and_deactivate(page, staff):
    Link.objects.create(short_code="alpha", target_url="https://example.com/a")
    Link.objects.create(short_code="beta", target_url="https://example.org/needle")
    Link.objects.create(
        short_code="old",
        target_url="https://example.com/o",
        expires_at=timezone.now() - timedelta(days=1),
    )
    page.goto("/admin/login/?next=/admin/links/link/")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/admin/links/link/$"))
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 3

    page.locator("#searchbar").fill("needle")
    page.locator("#changelist-search input[type=submit]").click()
    page.wait_for_url(re.compile(r"q=needle"))
    assert rows.count() == 1
    assert "beta" in rows.first.inner_text()

    page.goto("/admin/links/link/")
    page.locator("#changelist-filter").get_by_role("link", name="expired").click()
    page.wait_for_url(re.compile(r"state=expired"))
    assert rows.count() == 1
    assert "old" in rows.first.inner_text()

    page.goto("/admin/links/link/?q=alpha")
    rows.first.locator("input.action-select").check()
    page.locator("select[name=action]").select_option(label="Deactivate selected links")
    page.get_by_role("button", name="Go").click()
    page.wait_for_selector("text=Deactivated 1 link(s).")
    assert Link.objects.get(short_code="alpha").is_active is False
    assert page.goto("/alpha").status == 410
