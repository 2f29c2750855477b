import re
from datetime import timedelta

import pytest
from django.utils import timezone

from links.models import Link, LinkDailyClicks
from tests.links.admin_helpers import (
    ADD,
    add_form_data,
    change_url,
    make_link,
)

pytestmark = pytest.mark.usefixtures("_fresh_summary")


def test_change_page_shows_30_day_chart_and_statistics(admin_client, db, frozen_now):
    link = make_link("stats", click_count=12)
    today = timezone.now().date()
    LinkDailyClicks.objects.create(link=link, day=today, clicks=9)
    LinkDailyClicks.objects.create(link=link, day=today - timedelta(days=3), clicks=3)
    LinkDailyClicks.objects.create(link=link, day=today - timedelta(days=30), clicks=50)
    content = admin_client.get(change_url(link)).content.decode()
    svg = re.search(r"<svg class=\"chart\".*?</svg>", content, re.S).group(0)
    assert svg.count("<rect") == 30
    # The day 30 days ago is outside the chart's window.
    assert f"12 clicks from {today - timedelta(days=29)} to {today}" in svg
    assert f"{today}: 9 clicks" in svg
    assert "css/admin-links.css" in content


def test_change_page_shows_the_qr_code_from_the_api(admin_client, db):
    link = make_link("qrme")
    content = admin_client.get(change_url(link)).content.decode()
    assert '<img class="tinylink-qr" src="/api/links/qrme/qr?size=200"' in content
    assert 'href="/api/links/qrme/qr?size=512" download="qrme.png"' in content
    assert 'href="/api/links/qrme/qr?format=svg" download="qrme.svg"' in content
    # The admin's session is enough for the image it points at.
    image = admin_client.get("/api/links/qrme/qr", {"size": "200"})
    assert image.status_code == 200
    assert image["Content-Type"] == "image/png"


def test_short_code_is_read_only_on_the_change_page(admin_client, db):
    link = make_link("keepme")
    page = admin_client.get(change_url(link)).content.decode()
    assert 'name="short_code"' not in page
    assert 'name="target_url"' in page
    response = admin_client.post(
        change_url(link),
        add_form_data(short_code="changed", target_url="https://example.com/new"),
    )
    assert response.status_code == 302
    link.refresh_from_db()
    assert (link.short_code, link.target_url) == ("keepme", "https://example.com/new")


def test_counters_are_read_only_on_the_change_page(admin_client, db):
    link = make_link("counted", click_count=5)
    admin_client.post(change_url(link), add_form_data(click_count="999"))
    link.refresh_from_db()
    assert link.click_count == 5
    page = admin_client.get(change_url(link)).content.decode()
    assert 'name="click_count"' not in page
    assert 'name="last_access_at"' not in page


def test_add_page_creates_a_link_with_a_custom_code(admin_client, db):
    assert 'name="short_code"' in admin_client.get(ADD).content.decode()
    response = admin_client.post(ADD, add_form_data())
    assert response.status_code == 302
    link = Link.objects.get()
    assert (link.short_code, link.target_url) == (
        "fresh",
        "https://example.com/fresh",
    )


def test_add_form_refuses_a_javascript_url_with_a_visible_error(admin_client, db):
    response = admin_client.post(ADD, add_form_data(target_url="javascript:alert(1)"))
    assert response.status_code == 200
    assert "Only http:// and https:// URLs can be shortened" in response.text
    assert not Link.objects.exists()


def test_add_form_refuses_a_reserved_code_with_a_visible_error(admin_client, db):
    response = admin_client.post(ADD, add_form_data(short_code="Admin"))
    assert response.status_code == 200
    assert "&#x27;Admin&#x27; is reserved for TinyLink" in response.text
    assert not Link.objects.exists()


def test_add_form_refuses_a_target_on_the_admins_own_host(admin_client, db, settings):
    settings.ALLOWED_HOSTS = ["sho.example.com"]
    settings.PUBLIC_BASE_URL = ""
    response = admin_client.post(
        ADD,
        add_form_data(target_url="https://sho.example.com/loop"),
        HTTP_HOST="sho.example.com",
    )
    assert response.status_code == 200
    assert "redirect loop" in response.text
    assert not Link.objects.exists()


def test_change_form_refuses_a_javascript_url(admin_client, db):
    link = make_link("safe")
    response = admin_client.post(
        change_url(link), add_form_data(target_url="javascript:alert(1)")
    )
    assert response.status_code == 200
    assert "Only http:// and https:// URLs can be shortened" in response.text
    link.refresh_from_db()
    assert link.target_url == "https://example.com/safe"


# --- the admin index -------------------------------------------------------------
