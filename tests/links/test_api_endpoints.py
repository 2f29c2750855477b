"""QR, stats, CSV export and bulk create endpoints."""

import csv
import io
from datetime import timedelta

import pytest
from django.http import StreamingHttpResponse
from django.utils import timezone
from PIL import Image
from rest_framework.test import APIClient

from links.models import Link, LinkDailyClicks
from tests.links.api_helpers import make

pytestmark = pytest.mark.usefixtures("_no_rate_limits")


# --- QR -----------------------------------------------------------------------


def test_qr_is_a_png_of_the_requested_size(api, user):
    make("qr", user)
    response = api.get("/api/links/qr/qr?size=200")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    assert (image.format, image.size) == ("PNG", (200, 200))


def test_qr_svg(api, user):
    make("qr", user)
    response = api.get("/api/links/qr/qr/?format=svg&border=2")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert response.content.lstrip().startswith((b"<?xml", b"<svg"))


def test_qr_has_an_etag_and_answers_304(api, user):
    make("qr", user)
    first = api.get("/api/links/qr/qr")
    etag = first["ETag"]
    assert etag.startswith('"')
    assert "max-age=86400" in first["Cache-Control"]
    assert "private" in first["Cache-Control"]
    again = api.get("/api/links/qr/qr", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""
    bigger = api.get("/api/links/qr/qr?size=512")
    assert bigger["ETag"] != etag


@pytest.mark.parametrize(
    "query",
    ["size=10", "size=4096", "size=99999999999", "size=abc", "border=99", "format=gif"],
)
def test_qr_out_of_range_parameters_are_400(api, user, query):
    make("qr", user)
    response = api.get(f"/api/links/qr/qr?{query}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


# --- stats --------------------------------------------------------------------


def test_stats_are_zero_filled_daily_series(api, user, frozen_now):
    link = make("st", user, click_count=12, last_access_at=timezone.now())
    today = timezone.now().date()
    LinkDailyClicks.objects.create(link=link, day=today, clicks=7)
    LinkDailyClicks.objects.create(link=link, day=today - timedelta(days=2), clicks=5)
    LinkDailyClicks.objects.create(link=link, day=today - timedelta(days=40), clicks=9)
    body = api.get("/api/links/st/stats?days=3").json()
    assert body["short_code"] == "st"
    assert body["click_count"] == 12
    assert body["last_access_at"].endswith("Z")
    assert body["days"] == [
        {"date": (today - timedelta(days=2)).isoformat(), "clicks": 5},
        {"date": (today - timedelta(days=1)).isoformat(), "clicks": 0},
        {"date": today.isoformat(), "clicks": 7},
    ]
    assert len(api.get("/api/links/st/stats").json()["days"]) == 30
    assert len(api.get("/api/links/st/stats?days=366").json()["days"]) == 366


def test_stats_follow_real_redirects(api, client, user, frozen_now):
    make("st", user)
    for _ in range(3):
        client.get("/st")
    body = api.get("/api/links/st/stats?days=1").json()
    assert body["click_count"] == 3
    assert body["days"] == [{"date": timezone.now().date().isoformat(), "clicks": 3}]


@pytest.mark.parametrize("days", ["0", "367", "-1", "x", "1.5"])
def test_stats_days_out_of_range_is_400(api, user, days):
    make("st", user)
    response = api.get(f"/api/links/st/stats?days={days}")
    assert response.status_code == 400
    assert "days" in response.json()["error"]["details"]


# --- export -------------------------------------------------------------------


def read_csv(response):
    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


def test_export_streams_the_callers_links(api, user, other_user):
    make("mine", user, max_clicks=5, click_count=2)
    make("theirs", other_user)
    response = api.get("/api/links/export.csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    rows = read_csv(response)
    assert rows[0] == [
        "short_code",
        "short_url",
        "target_url",
        "created_at",
        "expires_at",
        "max_clicks",
        "click_count",
        "last_access_at",
        "is_active",
    ]
    assert len(rows) == 2
    assert rows[1][:3] == ["mine", "http://testserver/mine", "https://example.com/mine"]
    assert rows[1][5:7] == ["5", "2"]
    assert rows[1][8] == "true"


def test_export_neutralises_formula_cells(api, user):
    make("-cmd", user, target_url="https://example.com/?q==1")
    rows = read_csv(api.get("/api/links/export.csv/"))
    assert rows[1][0] == "'-cmd"
    assert rows[1][2] == "https://example.com/?q==1"


def test_export_works_without_trailing_slash_and_for_a_viewer_covers_all(
    db, user, other_user
):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    make("a", user)
    make("b", other_user)
    staff = get_user_model().objects.create_user("root", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_link"))
    client = APIClient()
    client.force_authenticate(staff)
    rows = read_csv(client.get("/api/links/export.csv"))
    assert {row[0] for row in rows[1:]} == {"a", "b"}


# --- bulk ---------------------------------------------------------------------


def test_bulk_creates_each_item_and_reports_per_item(api, user):
    make("taken", user)
    items = [
        {"target_url": "https://example.com/1"},
        {"target_url": "ftp://nope"},
        {"target_url": "https://example.com/3", "short_code": "taken"},
        {"target_url": "https://example.com/4", "short_code": "fresh"},
    ]
    response = api.post("/api/links/bulk", items, format="json")
    assert response.status_code == 207
    body = response.json()
    assert (body["created"], body["failed"]) == (2, 2)
    statuses = [(r["index"], r["status"]) for r in body["results"]]
    assert statuses == [(0, 201), (1, 400), (2, 409), (3, 201)]
    assert body["results"][1]["error"]["code"] == "validation_error"
    assert "target_url" in body["results"][1]["error"]["details"]
    assert body["results"][2]["error"]["code"] == "conflict"
    assert body["results"][3]["link"]["short_code"] == "fresh"
    assert Link.objects.count() == 3


def test_bulk_atomic_creates_all(api, user):
    items = [{"target_url": f"https://example.com/{i}"} for i in range(5)]
    response = api.post("/api/links/bulk?atomic=true", items, format="json")
    assert response.status_code == 201
    assert response.json()["created"] == 5
    assert Link.objects.count() == 5


def test_bulk_atomic_creates_nothing_when_one_item_fails(api, user):
    items = [{"target_url": f"https://example.com/{i}"} for i in range(5)]
    items.append({"target_url": "javascript:alert(1)"})
    response = api.post("/api/links/bulk?atomic=true", items, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert [r["index"] for r in error["details"]["results"]] == [5]
    assert Link.objects.count() == 0


def test_bulk_atomic_conflict_only_is_409(api, user):
    make("dup", user)
    items = [{"target_url": "https://example.com/", "short_code": "dup"}]
    response = api.post("/api/links/bulk?atomic=1", items, format="json")
    assert response.status_code == 409
    assert Link.objects.count() == 1


@pytest.mark.parametrize(
    "body",
    [
        {"target_url": "https://example.com"},
        [],
        "x",
        [1, 2],
        [{"target_url": "https://example.com"}] * 1001,
    ],
)
def test_bulk_refuses_bad_shapes_and_over_1000_items(api, body):
    response = api.post("/api/links/bulk", body, format="json")
    assert response.status_code in (207, 400)
    if response.status_code == 207:  # a list of non-objects: per-item errors
        assert all(r["status"] == 400 for r in response.json()["results"])
    else:
        assert response.json()["error"]["code"] == "validation_error"
    assert Link.objects.count() == 0


def test_bulk_of_1000_items_works(api):
    items = [{"target_url": f"https://example.com/{i}"} for i in range(1000)]
    response = api.post("/api/links/bulk", items, format="json")
    assert response.status_code == 207
    assert response.json()["created"] == 1000
    assert Link.objects.count() == 1000
