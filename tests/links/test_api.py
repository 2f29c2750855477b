"""The links API contract: CRUD, filters, ordering, ownership, errors."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from links.auth import issue_token
from links.models import Link

LINK_FIELDS = {
    "short_code",
    "short_url",
    "target_url",
    "created_at",
    "updated_at",
    "expires_at",
    "max_clicks",
    "click_count",
    "last_access_at",
    "is_active",
    "state",
    "qr_url",
}


@pytest.fixture(autouse=True)
def _no_rate_limits(settings):
    settings.RATE_LIMIT_WRITES = ""


@pytest.fixture
def api(user):
    _, key = issue_token(user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def staff_api(db):
    from django.contrib.auth import get_user_model

    staff = get_user_model().objects.create_user("root", is_staff=True)
    _, key = issue_token(staff)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def make(code, owner, **fields):
    fields.setdefault("target_url", f"https://example.com/{code}")
    return Link.objects.create(short_code=code, owner=owner, **fields)


def assert_envelope(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    assert "no-store" in response["Cache-Control"]
    return body["error"]


# --- create -----------------------------------------------------------------


def test_create_with_generated_code(api, user):
    response = api.post(
        "/api/links", {"target_url": "https://example.com/x"}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == LINK_FIELDS
    assert len(body["short_code"]) == 7
    assert body["short_url"] == f"http://testserver/{body['short_code']}"
    assert body["qr_url"] == f"http://testserver/api/links/{body['short_code']}/qr"
    assert body["state"] == "active"
    assert body["click_count"] == 0
    assert body["created_at"].endswith("Z")
    assert Link.objects.get(short_code=body["short_code"]).owner == user


def test_create_with_custom_code_expiry_and_limit(api):
    expires = (timezone.now() + timedelta(days=2)).replace(microsecond=0)
    response = api.post(
        "/api/links/",
        {
            "target_url": "https://example.com/x",
            "short_code": "Docs-2",
            "expires_at": expires.isoformat(),
            "max_clicks": 10,
        },
        format="json",
    )
    assert response.status_code == 201
    link = Link.objects.get(short_code="Docs-2")
    assert (link.expires_at, link.max_clicks) == (expires, 10)


def test_short_url_uses_public_base_url(api, settings):
    settings.PUBLIC_BASE_URL = "https://sho.rt"
    response = api.post(
        "/api/links",
        {"target_url": "https://example.com/", "short_code": "pb"},
        format="json",
    )
    assert response.json()["short_url"] == "https://sho.rt/pb"


def test_taken_code_is_409_conflict(api, other_user):
    make("taken", other_user)
    response = api.post(
        "/api/links",
        {"target_url": "https://example.com/", "short_code": "taken"},
        format="json",
    )
    error = assert_envelope(response, 409, "conflict")
    assert "short_code" in error["details"]
    assert Link.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"target_url": "javascript:alert(1)"}, "target_url"),
        ({"target_url": "https://user:pw@example.com/"}, "target_url"),
        ({"target_url": "http://testserver/loop"}, "target_url"),
        ({"target_url": "https://example.com", "short_code": "admin"}, "short_code"),
        ({"target_url": "https://example.com", "short_code": "a b"}, "short_code"),
        (
            {"target_url": "https://example.com", "expires_at": "yesterday"},
            "expires_at",
        ),
        (
            {"target_url": "https://example.com", "expires_at": "2000-01-01T00:00:00Z"},
            "expires_at",
        ),
        ({"target_url": "https://example.com", "max_clicks": 0}, "max_clicks"),
        ({"target_url": "https://example.com", "max_clicks": "many"}, "max_clicks"),
        ({"target_url": 12}, "target_url"),
        ({"target_url": ["https://example.com"]}, "target_url"),
        ({}, "target_url"),
        ({"target_url": "https://example.com", "clicks": 5}, "clicks"),
        ({"target_url": "https://example.com", "click_count": 5}, "click_count"),
        ({"target_url": "https://example.com/\u202e\u0000"}, "target_url"),
    ],
)
def test_invalid_create_is_400_with_field_details(api, body, field):
    response = api.post("/api/links", body, format="json")
    error = assert_envelope(response, 400, "validation_error")
    assert field in error["details"]
    assert Link.objects.count() == 0


def test_unknown_fields_are_reported_with_other_errors(api):
    response = api.post(
        "/api/links", {"target_url": "ftp://x", "expires": "2030-01-01"}, format="json"
    )
    error = assert_envelope(response, 400, "validation_error")
    assert set(error["details"]) == {"target_url", "expires"}


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b"{not json", "application/json", 400, "validation_error"),
        (b"[1, 2", "application/json", 400, "validation_error"),
        (b'"just a string"', "application/json", 400, "validation_error"),
        (b"null", "application/json", 400, "validation_error"),
        (b"\xff\xfe\xfa", "application/json", 400, "validation_error"),
        (
            b"target_url=https://example.com",
            "application/x-www-form-urlencoded",
            415,
            "unsupported_media_type",
        ),
        (b"<link/>", "text/xml", 415, "unsupported_media_type"),
    ],
)
def test_malformed_bodies_are_4xx_envelopes(api, body, content_type, status, code):
    response = api.generic("POST", "/api/links", body, content_type=content_type)
    assert_envelope(response, status, code)


def test_huge_body_is_413(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = b'{"target_url": "https://example.com/' + b"a" * 20_000 + b'"}'
    response = api.generic("POST", "/api/links", body, content_type="application/json")
    assert_envelope(response, 413, "payload_too_large")


# --- read -------------------------------------------------------------------


def test_list_is_paginated_newest_first(api, user):
    now = timezone.now()
    for i in range(3):
        make(f"l{i}", user, created_at=now - timedelta(minutes=i))
    body = api.get("/api/links?page_size=2").json()
    assert body["count"] == 3
    assert [link["short_code"] for link in body["results"]] == ["l0", "l1"]
    assert body["next"].endswith("page=2&page_size=2")
    assert body["previous"] is None
    page2 = api.get(body["next"]).json()
    assert [link["short_code"] for link in page2["results"]] == ["l2"]


def test_default_page_size_is_50_and_max_500(api, user):
    Link.objects.bulk_create(
        Link(short_code=f"c{i}", target_url="https://example.com/", owner=user)
        for i in range(501)
    )
    assert len(api.get("/api/links").json()["results"]) == 50
    assert len(api.get("/api/links?page_size=9999").json()["results"]) == 500


def test_search_matches_code_or_target(api, user):
    make("alpha", user, target_url="https://example.com/one")
    make("beta", user, target_url="https://example.org/needle")
    make("gamma", user)
    codes = {r["short_code"] for r in api.get("/api/links?q=ALP").json()["results"]}
    assert codes == {"alpha"}
    codes = {r["short_code"] for r in api.get("/api/links?q=needle").json()["results"]}
    assert codes == {"beta"}


def test_filter_by_state(api, user):
    past = timezone.now() - timedelta(days=1)
    make("ok", user)
    make("exp", user, expires_at=past)
    make("exh", user, max_clicks=1, click_count=1)
    make("off", user, is_active=False)
    for state, code in [
        ("active", "ok"),
        ("expired", "exp"),
        ("exhausted", "exh"),
        ("inactive", "off"),
    ]:
        results = api.get(f"/api/links?state={state}").json()["results"]
        assert [(r["short_code"], r["state"]) for r in results] == [(code, state)]


def test_ordering_by_clicks(api, user):
    make("few", user, click_count=1)
    make("many", user, click_count=9)
    make("some", user, click_count=5)
    codes = [
        r["short_code"]
        for r in api.get("/api/links?ordering=-click_count").json()["results"]
    ]
    assert codes == ["many", "some", "few"]
    codes = [
        r["short_code"]
        for r in api.get("/api/links?ordering=click_count").json()["results"]
    ]
    assert codes == ["few", "some", "many"]


@pytest.mark.parametrize(
    "query",
    [
        "state=bogus",
        "ordering=target_url",
        "ordering=-password",
        "page=abc",
        "page=999",
        "page_size=x",
    ],
)
def test_bad_list_parameters_are_4xx_envelopes(api, user, query):
    make("one", user)
    response = api.get(f"/api/links?{query}")
    assert response.status_code in (400, 404)
    assert response.json()["error"]["code"] in ("validation_error", "not_found")


def test_detail_with_and_without_trailing_slash(api, user):
    make("det", user)
    assert api.get("/api/links/det").json()["short_code"] == "det"
    assert api.get("/api/links/det/").json()["short_code"] == "det"


# --- ownership ----------------------------------------------------------------


def test_users_see_only_their_own_links(api, user, other_user):
    make("mine", user)
    make("theirs", other_user)
    codes = [r["short_code"] for r in api.get("/api/links").json()["results"]]
    assert codes == ["mine"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/links/theirs"),
        ("patch", "/api/links/theirs"),
        ("put", "/api/links/theirs"),
        ("delete", "/api/links/theirs"),
        ("get", "/api/links/theirs/qr"),
        ("get", "/api/links/theirs/stats"),
    ],
)
def test_another_users_link_is_404_not_403(api, other_user, method, path):
    make("theirs", other_user)
    response = getattr(api, method)(
        path, {"target_url": "https://x.example/"}, format="json"
    )
    assert_envelope(response, 404, "not_found")
    assert Link.objects.get(short_code="theirs").target_url.endswith("/theirs")


def test_staff_see_and_change_every_link(staff_api, user, other_user):
    make("a", user)
    make("b", other_user)
    codes = {r["short_code"] for r in staff_api.get("/api/links").json()["results"]}
    assert codes == {"a", "b"}
    response = staff_api.patch("/api/links/b", {"is_active": False}, format="json")
    assert response.json()["state"] == "inactive"


def test_anonymous_requests_are_401(client, db):
    for path in ("/api/links", "/api/links/x", "/api/links/export.csv"):
        response = client.get(path)
        assert_envelope(response, 401, "not_authenticated")
        assert response["WWW-Authenticate"] == "Token"


def test_anonymous_create_is_401_unless_enabled(client, db, settings):
    body = {"target_url": "https://example.com/"}
    response = client.post("/api/links", body, content_type="application/json")
    assert_envelope(response, 401, "not_authenticated")
    settings.LINKS_ANONYMOUS_CREATE = True
    response = client.post("/api/links", body, content_type="application/json")
    assert response.status_code == 201
    assert Link.objects.get().owner is None
    # Creating is all an anonymous client may do.
    assert client.get("/api/links").status_code == 401


def test_session_auth_requires_csrf(user):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post(
        "/api/links", {"target_url": "https://example.com/"}, format="json"
    )
    assert_envelope(response, 403, "permission_denied")
    assert client.get("/api/links").status_code == 200


# --- update and delete ----------------------------------------------------------


def test_put_accepts_partial_body_and_clears_expiry(api, user):
    make("upd", user, expires_at=timezone.now() + timedelta(days=1))
    response = api.put("/api/links/upd", {"expires_at": None}, format="json")
    assert response.status_code == 200
    assert response.json()["expires_at"] is None
    assert Link.objects.get(short_code="upd").expires_at is None


def test_patch_changes_target_and_expiry(api, user):
    make("upd", user)
    expires = (timezone.now() + timedelta(days=3)).replace(microsecond=0)
    response = api.patch(
        "/api/links/upd",
        {"target_url": "https://example.org/new", "expires_at": expires.isoformat()},
        format="json",
    )
    assert response.status_code == 200
    link = Link.objects.get(short_code="upd")
    assert (link.target_url, link.expires_at) == ("https://example.org/new", expires)


def test_moving_expiry_to_the_past_expires_the_link(api, client, user):
    make("soon", user)
    past = (timezone.now() - timedelta(minutes=1)).isoformat()
    response = api.patch("/api/links/soon", {"expires_at": past}, format="json")
    assert response.json()["state"] == "expired"
    assert client.get("/soon").status_code == 410


def test_short_code_cannot_be_changed(api, user):
    make("keep", user)
    response = api.patch("/api/links/keep", {"short_code": "other"}, format="json")
    error = assert_envelope(response, 400, "validation_error")
    assert "short_code" in error["details"]
    assert Link.objects.filter(short_code="keep").exists()
    # Sending the same code back is harmless.
    assert (
        api.patch("/api/links/keep", {"short_code": "keep"}, format="json").status_code
        == 200
    )


def test_update_keeps_click_counts(api, user):
    link = make("cnt", user)
    Link.objects.filter(pk=link.pk).update(click_count=7)
    api.patch("/api/links/cnt", {"target_url": "https://example.org/"}, format="json")
    assert Link.objects.get(pk=link.pk).click_count == 7


def test_delete_then_detail_redirect_and_qr_are_404(api, client, user):
    make("del", user)
    assert api.delete("/api/links/del").status_code == 204
    assert_envelope(api.get("/api/links/del"), 404, "not_found")
    assert_envelope(api.get("/api/links/del/qr"), 404, "not_found")
    assert client.get("/del").status_code == 404


def test_unsupported_method_is_405_envelope(api, user):
    make("m", user)
    assert_envelope(
        api.post("/api/links/m", {}, format="json"), 405, "method_not_allowed"
    )
    assert_envelope(api.delete("/api/links"), 405, "method_not_allowed")


def test_unknown_api_path_is_404_envelope(api):
    assert_envelope(api.get("/api/nothing-here"), 404, "not_found")


def test_unexpected_error_is_500_envelope_without_traceback(api, user, monkeypatch):
    make("boom", user)

    def explode(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(Link, "clicks_by_day", explode)
    api.raise_request_exception = False
    response = api.get("/api/links/boom/stats")
    error = assert_envelope(response, 500, "server_error")
    assert "secret internals" not in response.content.decode()
    assert "Traceback" not in response.content.decode()
    assert error["message"]


@pytest.mark.parametrize(
    "value", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00"]
)
def test_expiry_that_overflows_in_utc_is_400(api, value):
    response = api.post(
        "/api/links",
        {"target_url": "https://example.com/", "expires_at": value},
        format="json",
    )
    error = assert_envelope(response, 400, "validation_error")
    assert "expires_at" in error["details"]
