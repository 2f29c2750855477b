import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.utils import timezone

from links.codes import validate_short_code
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


# --- item 13 of issue 15: "Add link" like the API: code optional, owner the adder ---


def test_item13_add_with_a_blank_code_generates_a_valid_one(admin_client, db):
    form = admin_client.get(ADD).content.decode()
    assert "Leave blank for a generated 7-character code." in form
    response = admin_client.post(ADD, add_form_data(short_code=""))
    assert response.status_code == 302, response.content
    link = Link.objects.get()
    assert re.fullmatch(r"[A-Za-z0-9]{7}", link.short_code)
    validate_short_code(link.short_code)
    assert admin_client.get(f"/{link.short_code}").url == "https://example.com/fresh"


def test_item13_add_form_offers_the_adder_as_owner(admin_client, db):
    me = get_user_model().objects.get(username="admin")
    form = admin_client.get(ADD)
    assert form.context["adminform"].form.initial["owner"] == me.pk
    assert f'<option value="{me.pk}" selected>admin</option>' in form.content.decode()


def test_item13_owner_defaults_to_the_adder_and_shows_in_my_links(client, db):
    me = get_user_model().objects.create_superuser("root", password="pw-root-123")
    client.force_login(me)
    response = client.post(ADD, add_form_data(short_code="", owner=""))
    assert response.status_code == 302, response.content
    link = Link.objects.get()
    assert link.owner == me
    assert link.short_code in client.get("/links/").content.decode()


def test_item13_a_superuser_may_add_a_link_for_another_owner(admin_client, user):
    response = admin_client.post(ADD, add_form_data(short_code="", owner=user.pk))
    assert response.status_code == 302, response.content
    assert Link.objects.get().owner == user


def test_item13_staff_who_see_only_their_links_add_them_for_themselves(
    client, db, user
):
    clerk = get_user_model().objects.create_user(
        "clerk", password="pw-clerk-1", is_staff=True
    )
    clerk.user_permissions.set(Permission.objects.filter(codename="add_link"))
    client.force_login(clerk)
    assert 'name="owner"' not in client.get(ADD).content.decode()
    response = client.post(ADD, add_form_data(short_code="", owner=user.pk))
    assert response.status_code == 302, response.content
    link = Link.objects.get()
    assert link.owner == clerk
    assert link.short_code in client.get("/links/").content.decode()


# --- the admin index -------------------------------------------------------------
