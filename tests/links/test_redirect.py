from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from links.models import Link, LinkDailyClicks

JSON = {"HTTP_ACCEPT": "application/json"}
HTML = {"HTTP_ACCEPT": "text/html,application/xhtml+xml,*/*;q=0.8"}


def make(code="go", **fields):
    fields.setdefault("target_url", "https://example.com/landing?x=1")
    return Link.objects.create(short_code=code, **fields)


def test_active_link_redirects_and_counts_one_click(client, db):
    link = make()
    before = timezone.now()
    response = client.get("/go")
    assert response.status_code == 302
    assert response["Location"] == "https://example.com/landing?x=1"
    assert "no-store" in response["Cache-Control"]
    link.refresh_from_db()
    assert link.click_count == 1
    assert link.last_access_at >= before
    daily = LinkDailyClicks.objects.get(link=link)
    # The click's own UTC day (a test run may cross midnight).
    assert (daily.day, daily.clicks) == (link.last_access_at.date(), 1)


def test_repeated_clicks_add_up_in_total_and_today(client, db):
    link = make()
    for _ in range(5):
        client.get("/go")
    link.refresh_from_db()
    assert link.click_count == 5
    assert (
        LinkDailyClicks.objects.filter(link=link).aggregate(s=Sum("clicks"))["s"] == 5
    )


def test_head_redirects_without_counting(client, db):
    link = make()
    response = client.head("/go")
    assert response.status_code == 302
    assert response["Location"] == link.target_url
    link.refresh_from_db()
    assert link.click_count == 0
    assert link.last_access_at is None
    assert not LinkDailyClicks.objects.exists()


@pytest.mark.parametrize("status", [301, 307, 308])
def test_redirect_status_follows_the_setting(client, db, settings, status):
    settings.LINKS_REDIRECT_STATUS = status
    make()
    assert client.get("/go").status_code == status


def test_unknown_code_is_a_404_page(client, db):
    response = client.get("/nope", **HTML)
    assert response.status_code == 404
    assert b"does not exist" in response.content
    assert response["Content-Type"].startswith("text/html")


def test_unknown_code_is_a_404_envelope_for_json_clients(client, db):
    response = client.get("/nope", **JSON)
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "code": "not_found",
            "message": "There is no short link with this code.",
            "details": {"short_code": "nope"},
            "request_id": response["X-Request-ID"],
        }
    }
    assert "no-store" in response["Cache-Control"]


def test_expired_link_returns_410_page(client, db):
    expired_at = timezone.now() - timedelta(hours=1)
    link = make(expires_at=expired_at)
    response = client.get("/go", **HTML)
    assert response.status_code == 410
    assert b"has expired" in response.content
    assert expired_at.strftime("%Y").encode() in response.content
    assert b"Traceback" not in response.content
    assert "no-store" in response["Cache-Control"]
    link.refresh_from_db()
    assert link.click_count == 0


def test_expired_link_returns_410_envelope_for_json_clients(client, db):
    expired_at = timezone.now() - timedelta(hours=1)
    make(expires_at=expired_at)
    response = client.get("/go", **JSON)
    assert response.status_code == 410
    assert "no-store" in response["Cache-Control"]
    error = response.json()["error"]
    assert error["code"] == "gone"
    assert error["message"] == "This short link has expired."
    assert error["details"] == {
        "short_code": "go",
        "state": "expired",
        "expired_at": expired_at.isoformat(),
    }


@pytest.mark.parametrize(
    ("fields", "state"),
    [
        ({"max_clicks": 3, "click_count": 3}, "exhausted"),
        ({"is_active": False}, "inactive"),
    ],
)
def test_exhausted_and_inactive_links_are_gone(client, db, fields, state):
    make(**fields)
    response = client.get("/go", **JSON)
    assert response.status_code == 410
    assert response.json()["error"]["details"]["state"] == state
    assert client.get("/go", **HTML).status_code == 410


def test_last_allowed_click_redirects_then_link_is_exhausted(client, db):
    link = make(max_clicks=2)
    assert [client.get("/go").status_code for _ in range(3)] == [302, 302, 410]
    link.refresh_from_db()
    assert link.click_count == 2


def test_moving_expiry_forward_revives_the_link_at_once(client, db):
    """Regression from the TinyLink+ original: an expired link stayed dead."""
    link = make(expires_at=timezone.now() - timedelta(minutes=1))
    assert client.get("/go").status_code == 410
    link.expires_at = timezone.now() + timedelta(days=1)
    link.save()
    assert client.get("/go").status_code == 302
    link.expires_at = None
    link.save()
    assert client.get("/go").status_code == 302
    link.refresh_from_db()
    assert link.click_count == 2


def test_post_to_a_short_code_is_405(client, db):
    make()
    assert client.post("/go").status_code == 405


def test_paths_that_cannot_be_codes_are_404(client, db):
    assert client.get("/not.a.code", **JSON).status_code == 404
    assert client.get("/" + "x" * 65, **JSON).status_code == 404


def test_a_cached_redirect_reads_only_the_links_version(
    client, db, settings, click_writes, lookup_reads
):
    settings.LINK_CACHE_SIZE = 100
    make()
    # The look for a restore (links/click_hold.py) happens at most once per
    # CLICK_HOLD_CHECK_SECONDS per process, not per redirect: done already.
    settings.CLICK_HOLD_CHECK_SECONDS = 3600
    client.get("/go")
    lookup_reads.clear()
    click_writes.clear()
    with CaptureQueriesContext(connection) as captured:
        client.get("/go")
    # The link comes from this process's cache, after a look at the links'
    # version; its click is written at once here (CLICK_FLUSH_SECONDS=0):
    # which links still exist, one UPDATE, one daily upsert.
    assert lookup_reads == ["SELECT value FROM links_linkversion WHERE id = %s"]
    assert click_writes == ["SELECT", "UPDATE", "INSERT"]
    # Nothing else (the writes pass Django's cursor on SQLite only).
    data = [
        q["sql"].split()[0].upper()
        for q in captured.captured_queries
        if q["sql"].split()[0].upper() in ("SELECT", "UPDATE", "INSERT", "DELETE")
    ]
    assert data in ([], ["SELECT", "UPDATE", "INSERT"])
