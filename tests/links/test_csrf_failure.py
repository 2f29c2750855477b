"""Item 3 of issue 15: a form sent with an expired CSRF token (e.g. after
signing in again in another tab) gets a TinyLink page that explains, acts on
nothing, and gives the create form's input back in a fresh form."""

import re
from datetime import UTC, datetime, time, timedelta
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.utils import timezone

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


class _Inputs(HTMLParser):
    """The name=value pairs a browser would send from the page's forms."""

    def __init__(self):
        super().__init__()
        self.values = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("name"):
            self.values[attrs["name"]] = attrs.get("value") or ""


def form_inputs(page):
    parser = _Inputs()
    parser.feed(page)
    return parser.values


def test_item3_stale_create_form_keeps_the_two_part_expiry_and_creates_it(
    browser_client,
):
    # Review finding: the refill copied request.POST[name] per field, so the
    # expiry's two inputs (expires_at_0, expires_at_1) came back empty.
    day = (timezone.now() + timedelta(days=30)).date()
    response = stale_post(
        browser_client,
        "/links/",
        {
            "target_url": TARGET,
            "short_code": "with-expiry",
            "expires_at_0": day.isoformat(),
            "expires_at_1": "18:30",
        },
    )
    assert response.status_code == 403
    sent = form_inputs(response.content.decode())
    assert sent["expires_at_0"] == day.isoformat()
    assert sent["expires_at_1"] == "18:30"
    assert not Link.objects.exists()
    # One click: the page's own inputs, as they are.
    response = browser_client.post("/links/", sent)
    assert response.status_code == 302
    link = Link.objects.get()
    assert link.short_code == "with-expiry"
    assert link.expires_at == datetime.combine(day, time(18, 30), tzinfo=UTC)


def test_item3_a_cross_origin_post_gets_no_refilled_form(browser_client):
    # Review finding: a page on another site could post its URL and get it
    # back in a form with a fresh token, one click from being created.
    response = stale_post(
        browser_client,
        "/links/",
        {"target_url": "https://evil.example/phish"},
        HTTP_ORIGIN="https://evil.example",
    )
    assert response.status_code == 403
    page = response.content.decode()
    assert "This form has expired" in page
    assert "evil.example" not in page
    assert "target_url" not in form_inputs(page)
    assert not Link.objects.exists()


def test_item3_a_trusted_but_foreign_origin_gets_no_refilled_form(
    browser_client, settings
):
    # A wildcard in CSRF_TRUSTED_ORIGINS lets the Origin pass Django's check,
    # so the refusal is the token's: the Origin is still not this site.
    settings.CSRF_TRUSTED_ORIGINS = ["https://*.example.com"]
    response = stale_post(
        browser_client,
        "/links/",
        {"target_url": "https://evil.example.com/phish"},
        HTTP_ORIGIN="https://evil.example.com",
    )
    assert response.status_code == 403
    page = response.content.decode()
    assert "evil.example.com" not in page
    assert "target_url" not in form_inputs(page)


def test_item3_a_same_origin_stale_form_is_still_refilled(browser_client):
    response = stale_post(
        browser_client,
        "/links/",
        {"target_url": TARGET},
        HTTP_ORIGIN="http://testserver",
    )
    assert form_inputs(response.content.decode())["target_url"] == TARGET


def test_item3_a_foreign_referer_without_origin_gets_no_refilled_form(
    browser_client,
):
    # Over HTTPS Django checks the Referer: another site's is refused for
    # that reason, not a stale token, even when no Origin was sent.
    response = stale_post(
        browser_client,
        "/links/",
        {"target_url": "https://evil.example/phish"},
        HTTP_REFERER="https://evil.example/form",
        secure=True,
    )
    assert response.status_code == 403
    page = response.content.decode()
    assert "target_url" not in form_inputs(page)
    assert "evil.example" not in page
