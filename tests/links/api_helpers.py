"""Shared helpers for the links API tests."""

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
