"""Rate limits on the redirect, through the whole stack."""

import ipaddress

import pytest
from django.db.models import Sum

from tests.links.ratelimit_helpers import (
    HTML,
    JSON,
    T0,
    use_up_redirects,
)

pytestmark = pytest.mark.usefixtures("_clean_counters", "clock", "_no_trusted_proxies")


# --- Redirects --------------------------------------------------------------


def test_fourth_redirect_in_a_minute_is_429_with_retry_after(
    client, link, three_per_minute
):
    use_up_redirects(client)
    response = client.get("/go")
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert response["Retry-After"] == "30"
    assert "Location" not in response


def test_rate_limited_redirect_is_a_json_envelope_for_json_clients(
    client, link, three_per_minute
):
    use_up_redirects(client, **JSON)
    response = client.get("/go", **JSON)
    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "throttled"
    assert error["message"]
    assert error["details"] == {"retry_after": 30}
    assert response["Retry-After"] == "30"
    assert "no-store" in response["Cache-Control"]


def test_rate_limited_redirect_is_an_html_page_for_browsers(
    client, link, three_per_minute
):
    use_up_redirects(client, **HTML)
    response = client.get("/go", **HTML)
    assert response.status_code == 429
    assert response["Content-Type"].startswith("text/html")
    assert "links/rate_limited.html" in [t.name for t in response.templates]
    assert b"Too many requests" in response.content
    assert b"30 seconds" in response.content
    assert response["Retry-After"] == "30"


def test_rate_limited_redirect_counts_no_click(client, link, three_per_minute):
    use_up_redirects(client)
    assert client.get("/go").status_code == 429
    assert client.get("/go").status_code == 429
    link.refresh_from_db()
    assert link.click_count == 3
    assert link.daily_clicks.aggregate(s=Sum("clicks"))["s"] == 3


def test_another_client_address_is_not_limited(client, link, three_per_minute):
    use_up_redirects(client, REMOTE_ADDR="192.0.2.10")
    assert client.get("/go", REMOTE_ADDR="192.0.2.10").status_code == 429
    assert client.get("/go", REMOTE_ADDR="192.0.2.11").status_code == 302


def test_forwarded_for_does_not_escape_the_limit_without_trusted_proxies(
    client, link, three_per_minute
):
    for n in range(3):
        response = client.get("/go", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")
        assert response.status_code == 302
    response = client.get("/go", HTTP_X_FORWARDED_FOR="198.51.100.99")
    assert response.status_code == 429


def test_clients_behind_a_trusted_proxy_are_limited_one_by_one(
    client, link, three_per_minute, settings
):
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("10.0.0.2/32")]
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    use_up_redirects(client, HTTP_X_FORWARDED_FOR="198.51.100.7", **proxy)
    # Prepending a made-up address does not make the same client new.
    spoof = "6.6.6.6, 198.51.100.7"
    assert client.get("/go", HTTP_X_FORWARDED_FOR=spoof, **proxy).status_code == 429
    other = client.get("/go", HTTP_X_FORWARDED_FOR="198.51.100.8", **proxy)
    assert other.status_code == 302


def test_redirects_pass_again_in_the_next_window(client, link, three_per_minute, clock):
    use_up_redirects(client)
    assert client.get("/go").status_code == 429
    clock.now = T0 + 60
    assert client.get("/go").status_code == 302


def test_probing_unknown_codes_is_limited_too(client, db, three_per_minute):
    for n in range(3):
        assert client.get(f"/nope{n}").status_code == 404
    assert client.get("/nope3").status_code == 429


def test_redirects_are_not_limited_without_a_rate(client, link, settings):
    settings.RATE_LIMIT_REDIRECTS = ""
    for _ in range(10):
        assert client.get("/go").status_code == 302
    link.refresh_from_db()
    assert link.click_count == 10


# --- API writes -------------------------------------------------------------
