"""The links API contract: detail, ownership, updates, deletes, errors."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from links.models import Link
from tests.links.api_helpers import assert_envelope, make

pytestmark = pytest.mark.usefixtures("_no_rate_limits")


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


def test_staff_with_link_permissions_see_and_change_every_link(
    staff_api, user, other_user
):
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
