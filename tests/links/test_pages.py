"""The web UI: login required, create/list/search, detail, edit, delete."""

from datetime import timedelta

import pytest
from django.utils import timezone

from links.models import Link, LinkDailyClicks


@pytest.fixture
def signed_in(client, user):
    client.force_login(user)
    return client


def make(code, owner, **fields):
    fields.setdefault("target_url", f"https://example.com/{code}")
    return Link.objects.create(short_code=code, owner=owner, **fields)


@pytest.mark.parametrize(
    "path",
    [
        "/links/",
        "/links/x/",
        "/links/x/edit/",
        "/links/x/delete/",
        "/accounts/password_change/",
    ],
)
def test_pages_need_login(client, db, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_first_run_home_page_says_how_to_create_the_admin(client, db):
    page = client.get("/").content.decode()
    assert ".venv/bin/python manage.py createsuperuser" in page


def test_home_page_after_first_run_offers_sign_in(client, user):
    page = client.get("/").content.decode()
    assert "createsuperuser" not in page
    assert "/accounts/login/" in page


def test_login_and_logout(client, user):
    response = client.post(
        "/accounts/login/", {"username": "alice", "password": "correct horse 1"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/links/"
    assert client.get("/links/").status_code == 200
    client.post("/accounts/logout/")
    assert client.get("/links/").status_code == 302


def test_wrong_password_shows_the_error_bar(client, user):
    response = client.post("/accounts/login/", {"username": "alice", "password": "no"})
    assert b'class="error-bar"' in response.content


def test_create_link_from_the_form(signed_in, user):
    response = signed_in.post(
        "/links/",
        {
            "target_url": "https://example.com/page",
            "short_code": "",
            "expires_at": "",
            "max_clicks": "",
        },
        follow=True,
    )
    link = Link.objects.get()
    assert link.owner == user
    assert len(link.short_code) == 7
    assert f"Created http://testserver/{link.short_code}".encode() in response.content


def test_create_with_custom_code_expiry_and_limit(signed_in):
    expires = (timezone.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    signed_in.post(
        "/links/",
        {
            "target_url": "https://example.com/",
            "short_code": "promo",
            "expires_at": expires,
            "max_clicks": "5",
        },
    )
    link = Link.objects.get(short_code="promo")
    assert link.max_clicks == 5
    assert link.expires_at.strftime("%Y-%m-%dT%H:%M") == expires


@pytest.mark.parametrize(
    ("data", "field_message"),
    [
        ({"target_url": "javascript:alert(1)"}, b"Only http:// and https://"),
        ({"target_url": "https://example.com", "short_code": "admin"}, b"reserved"),
        ({"target_url": "https://example.com", "short_code": "a b"}, b"1 to 64"),
        ({"target_url": "https://example.com", "max_clicks": "0"}, b"greater than or"),
        (
            {"target_url": "https://example.com", "expires_at": "2001-01-01T00:00"},
            b"must be in the future",
        ),
        ({"target_url": "https://sho.rt/x"}, b"redirect loop"),
    ],
)
def test_invalid_input_shows_the_error_bar_and_keeps_input(
    signed_in, settings, data, field_message
):
    settings.PUBLIC_BASE_URL = "https://sho.rt"
    response = signed_in.post("/links/", data)
    assert response.status_code == 400
    assert b'class="error-bar"' in response.content
    assert field_message in response.content
    assert b'class="field-error"' in response.content
    # What the user typed is still in the form.
    assert data["target_url"].replace("&", "&amp;").encode() in response.content
    assert Link.objects.count() == 0


def test_taken_custom_code_shows_the_error_next_to_the_field(signed_in, other_user):
    make("taken", other_user)
    response = signed_in.post(
        "/links/", {"target_url": "https://example.com/", "short_code": "taken"}
    )
    assert response.status_code == 400
    assert b"already taken" in response.content
    assert Link.objects.count() == 1


def test_list_shows_only_my_links_with_state_and_qr(signed_in, user, other_user):
    make("mine", user, expires_at=timezone.now() - timedelta(days=1))
    make("theirs", other_user)
    page = signed_in.get("/links/").content.decode()
    assert "mine" in page
    assert "theirs" not in page
    assert "badge-expired" in page
    assert "/api/links/mine/qr?size=64" in page
    assert 'data-copy="http://testserver/mine"' in page


def test_search_and_pagination(signed_in, user):
    for i in range(30):
        make(f"code{i:02d}", user)
    make("special", user, target_url="https://example.com/needle")
    page = signed_in.get("/links/?q=needle").content.decode()
    assert "special" in page
    assert "code01" not in page
    first = signed_in.get("/links/").content.decode()
    assert "Page 1 of 2" in first
    assert "code00" not in first  # the oldest is on page 2
    assert "code00" in signed_in.get("/links/?page=2").content.decode()


def test_detail_page_shows_chart_totals_and_qr(signed_in, user, frozen_now):
    link = make("stats", user, click_count=9)
    LinkDailyClicks.objects.create(link=link, day=timezone.now().date(), clicks=4)
    page = signed_in.get("/links/stats/").content.decode()
    assert '<svg class="chart"' in page
    assert page.count("<rect") == 30
    assert "4 clicks" in page
    assert "/api/links/stats/qr?size=200" in page
    page90 = signed_in.get("/links/stats/?days=90").content.decode()
    assert page90.count("<rect") == 90


def test_other_users_link_pages_are_404(signed_in, other_user):
    make("theirs", other_user)
    for path in ("/links/theirs/", "/links/theirs/edit/", "/links/theirs/delete/"):
        assert signed_in.get(path).status_code == 404
    assert signed_in.post("/links/theirs/delete/").status_code == 404
    assert Link.objects.filter(short_code="theirs").exists()


def test_edit_keeps_clicks_and_validates(signed_in, user):
    link = make("edit", user)
    Link.objects.filter(pk=link.pk).update(click_count=5)
    response = signed_in.post(
        "/links/edit/edit/", {"target_url": "ftp://x", "is_active": "on"}
    )
    assert response.status_code == 400
    assert b'class="error-bar"' in response.content
    signed_in.post(
        "/links/edit/edit/", {"target_url": "https://example.org/", "is_active": ""}
    )
    link.refresh_from_db()
    assert (link.target_url, link.is_active, link.click_count) == (
        "https://example.org/",
        False,
        5,
    )


def test_delete_asks_for_confirmation(signed_in, user):
    make("bye", user)
    confirm = signed_in.get("/links/bye/delete/")
    assert b"Delete permanently" in confirm.content
    assert Link.objects.filter(short_code="bye").exists()
    signed_in.post("/links/bye/delete/")
    assert not Link.objects.filter(short_code="bye").exists()


def test_forms_carry_csrf_tokens(signed_in, user):
    make("c", user)
    for path in ("/links/", "/links/c/edit/", "/links/c/delete/"):
        assert b"csrfmiddlewaretoken" in signed_in.get(path).content


def test_post_without_csrf_is_refused(user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post("/links/", {"target_url": "https://example.com/"})
    assert response.status_code == 403
    assert Link.objects.count() == 0
