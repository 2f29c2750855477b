"""The links API contract: creating links and validating what is sent."""

from datetime import timedelta

import pytest
from django.utils import timezone

from links.models import Link
from tests.links.api_helpers import LINK_FIELDS, assert_envelope, make

pytestmark = pytest.mark.usefixtures("_no_rate_limits")


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
