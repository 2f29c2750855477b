import re

import pytest
from django.contrib.auth import get_user_model

from links.auth import hash_key, issue_token
from links.models import ApiToken


@pytest.fixture
def admin_client_(db, client):
    admin = get_user_model().objects.create_superuser("admin", password="pw-12345-x")
    client.force_login(admin)
    return client


def test_admin_creates_a_token_and_shows_the_key_once(admin_client_, user):
    response = admin_client_.post(
        "/admin/links/apitoken/add/",
        {"user": user.pk, "name": "ci", "expires_at_0": "", "expires_at_1": ""},
    )
    assert response.status_code == 200
    key = re.search(rb'value="(tl_[^"]+)"', response.content).group(1).decode()
    token = ApiToken.objects.get()
    assert token.key_hash == hash_key(key)
    assert (token.user, token.name) == (user, "ci")
    # The change page never shows the key again.
    page = admin_client_.get(f"/admin/links/apitoken/{token.pk}/change/")
    assert key.encode() not in page.content
    assert token.key_prefix.encode() in page.content


def test_admin_revoke_action(admin_client_, user, client):
    token, key = issue_token(user)
    response = admin_client_.post(
        "/admin/links/apitoken/",
        {"action": "revoke", "_selected_action": [token.pk]},
        follow=True,
    )
    assert b"Revoked 1 token" in response.content
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert (
        client.get("/api/links", HTTP_AUTHORIZATION=f"Token {key}").status_code == 401
    )


def test_admin_token_list_shows_creation_and_last_use(admin_client_, user):
    issue_token(user, name="deploy-bot")
    page = admin_client_.get("/admin/links/apitoken/")
    assert b"deploy-bot" in page.content
    assert b"Last used at" in page.content
    assert b"Created at" in page.content
