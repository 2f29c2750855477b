"""Item 5 of issue 15: a method an address does not take gets a page like
404's (or the JSON envelope), not an empty 405 that Chrome shows as "This page
isn't working"; GET on sign-out gets a page with the button."""

import pytest

QUEUE_BACKUP = "/admin/opsconsole/opsrun/queue/backup/"


def test_item5_get_logout_shows_a_sign_out_page_whose_form_signs_out(client, user):
    client.force_login(user)
    response = client.get("/accounts/logout/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "<h1>Sign out?</h1>" in page
    assert 'class="site-header"' in page  # the TinyLink layout
    assert '<form method="post" action="/accounts/logout/"' in page
    # Looking at the page signs nobody out; its button does.
    assert client.get("/links/").status_code == 200
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert client.get("/links/").status_code == 302


def test_item5_get_logout_when_signed_out_offers_sign_in(client, db):
    response = client.get("/accounts/logout/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "You are signed out" in page
    assert 'href="/accounts/login/"' in page


def test_item5_get_on_a_post_only_ops_url_is_an_html_405_page_with_allow(
    admin_client,
):
    response = admin_client.get(QUEUE_BACKUP, HTTP_ACCEPT="text/html")
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "target of a button" in page
    assert 'class="site-header"' in page
    assert 'href="/"' in page


def test_item5_admin_logout_get_is_the_405_page_too(admin_client):
    response = admin_client.get("/admin/logout/", HTTP_ACCEPT="text/html")
    assert response.status_code == 405
    assert "target of a button" in response.content.decode()


def test_item5_json_client_gets_the_envelope_with_allow(admin_client):
    response = admin_client.get(QUEUE_BACKUP, HTTP_ACCEPT="application/json")
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    error = response.json()["error"]
    assert error["code"] == "method_not_allowed"
    assert error["details"] == {"allow": ["POST"]}
    assert "GET" in error["message"]


@pytest.mark.parametrize("method", ["put", "patch"])
def test_item5_a_page_that_takes_get_and_post_names_them(client, user, method):
    client.force_login(user)
    response = getattr(client, method)("/links/", HTTP_ACCEPT="text/html")
    assert response.status_code == 405
    assert response["Allow"] == "GET, POST"
    page = response.content.decode()
    assert f"This address does not answer {method.upper()} requests." in page
    assert "It takes GET, POST." in page


def test_item5_the_api_keeps_its_own_405_envelope(api):
    # DRF answers with a body already; it passes unchanged.
    response = api.put("/api/links")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert "PUT" in response.json()["error"]["message"]


def test_item5_the_405_page_keeps_the_security_headers(admin_client):
    # The page replaces Django's empty answer after the middleware that adds
    # X-Frame-Options had run: the page lost it.
    response = admin_client.get("/admin/logout/", HTTP_ACCEPT="text/html")
    assert response.status_code == 405
    assert response["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
