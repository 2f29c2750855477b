"""Item 3 of issue 15: a form sent with an expired CSRF token (e.g. after
signing in again in another tab) gets a TinyLink page that explains, acts on
nothing, and gives the create form's input back in a fresh form."""

import re

import pytest
from django.test import Client

from links.models import Link

TARGET = "https://example.com/a/long/page?x=1&y=2"


@pytest.fixture
def browser_client(user):
    """A client that checks CSRF tokens as the server does, signed in, with
    the token cookie of a page it opened."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/links/")
    return client


def fresh_token(page):
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


def stale_post(client, path, data, **extra):
    # A token minted for another secret: what a tab opened before a sign-in
    # elsewhere still holds.
    return client.post(
        path,
        {"csrfmiddlewaretoken": "x" * 64, **data},
        HTTP_ACCEPT="text/html",
        **extra,
    )


def test_item3_stale_create_form_gives_the_input_back_and_one_click_creates_it(
    browser_client,
):
    response = stale_post(
        browser_client,
        "/links/",
        {"target_url": TARGET, "short_code": "kept-alias", "max_clicks": "5"},
    )
    assert response.status_code == 403
    page = response.content.decode()
    assert "This form has expired" in page
    assert 'class="site-header"' in page
    assert "CSRF verification failed" not in page
    # The input survives, escaped, in a form that posts to the create view.
    assert 'value="https://example.com/a/long/page?x=1&amp;y=2"' in page
    assert 'value="kept-alias"' in page
    assert 'value="5"' in page
    assert '<form method="post" action="/links/"' in page
    # Nothing was created by the refused POST ...
    assert not Link.objects.exists()
    # ... and the fresh form's token is accepted.
    response = browser_client.post(
        "/links/",
        {
            "csrfmiddlewaretoken": fresh_token(page),
            "target_url": TARGET,
            "short_code": "kept-alias",
            "max_clicks": "5",
        },
    )
    assert response.status_code == 302
    link = Link.objects.get()
    assert (link.short_code, link.target_url, link.max_clicks) == (
        "kept-alias",
        TARGET,
        5,
    )


def test_item3_stale_form_elsewhere_explains_and_links_back(browser_client, user):
    Link.objects.create(short_code="mine", target_url=TARGET, owner=user)
    response = stale_post(
        browser_client,
        "/links/mine/edit/",
        {"target_url": "https://example.com/changed"},
        HTTP_REFERER="http://testserver/links/mine/edit/",
    )
    assert response.status_code == 403
    page = response.content.decode()
    assert "This form has expired" in page
    assert 'href="http://testserver/links/mine/edit/"' in page
    assert Link.objects.get().target_url == TARGET


def test_item3_a_referer_from_another_site_is_not_linked(browser_client):
    response = stale_post(
        browser_client,
        "/accounts/password_change/",
        {},
        HTTP_REFERER="https://evil.example/phish",
    )
    page = response.content.decode()
    assert "evil.example" not in page
    assert 'href="/accounts/password_change/"' in page


def test_item3_signed_out_stale_form_offers_sign_in(db):
    client = Client(enforce_csrf_checks=True)
    response = stale_post(client, "/links/", {"target_url": TARGET})
    assert response.status_code == 403
    page = response.content.decode()
    assert "This form has expired" in page
    assert 'href="/accounts/login/"' in page
    assert not Link.objects.exists()


def test_item3_json_client_gets_the_envelope_with_csrf_failed(browser_client):
    response = browser_client.post(
        "/links/", {"target_url": TARGET}, HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "csrf_failed"
    assert "expired" in error["message"]
