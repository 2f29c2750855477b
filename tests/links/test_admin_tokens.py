import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from links.auth import hash_key, issue_token
from links.models import ApiToken, Link


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


def staff_with_token_perms(client, *codenames):
    clerk = get_user_model().objects.create_user(
        "clerk", password="pw-clerk-1", is_staff=True
    )
    clerk.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="links", codename__in=codenames
        )
    )
    client.force_login(clerk)
    return clerk


def test_staff_with_add_permission_creates_tokens_only_for_themselves(db, client):
    admin = get_user_model().objects.create_superuser("admin", password="pw-12345-x")
    clerk = staff_with_token_perms(client, "add_apitoken")
    form = client.get("/admin/links/apitoken/add/")
    assert form.status_code == 200
    assert b'name="user"' not in form.content
    response = client.post(
        "/admin/links/apitoken/add/",
        {"user": admin.pk, "name": "mine", "expires_at_0": "", "expires_at_1": ""},
    )
    assert response.status_code == 200, response.content
    key = re.search(rb'value="(tl_[^"]+)"', response.content).group(1).decode()
    assert ApiToken.objects.get().user == clerk
    assert not admin.api_tokens.exists()
    # The key the clerk saw acts as the clerk, never as the admin.
    assert (
        client.get("/api/links", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    )
    assert ApiToken.objects.get(key_hash=hash_key(key)).user == clerk


def test_a_tokens_user_cannot_be_changed_in_the_admin(db, client):
    admin = get_user_model().objects.create_superuser("admin", password="pw-12345-x")
    clerk = staff_with_token_perms(client, "view_apitoken", "change_apitoken")
    # A token whose key the clerk knows, moved to the admin, would act as the
    # admin.
    token, _ = issue_token(clerk)
    response = client.post(
        f"/admin/links/apitoken/{token.pk}/change/",
        {"user": admin.pk, "name": "renamed", "expires_at_0": "", "expires_at_1": ""},
    )
    assert response.status_code == 302, response.content
    token.refresh_from_db()
    assert (token.user, token.name) == (clerk, "renamed")


def test_revoking_needs_the_change_permission(db, client, user):
    staff_with_token_perms(client, "view_apitoken")
    token, _ = issue_token(user)
    client.post(
        "/admin/links/apitoken/", {"action": "revoke", "_selected_action": [token.pk]}
    )
    token.refresh_from_db()
    assert token.revoked_at is None


@pytest.mark.parametrize("editor", ["superuser", "staff with change_apitoken"])
def test_item12_a_tokens_user_stays_after_a_change_naming_another_user(
    db, client, user, other_user, editor
):
    # Alice holds the key; the change form is posted with Bob as its user.
    if editor == "superuser":
        admin = get_user_model().objects.create_superuser("admin", password="pw-1x")
        client.force_login(admin)
    else:
        staff_with_token_perms(client, "view_apitoken", "change_apitoken")
    token, key = issue_token(user, name="alice-ci")
    Link.objects.create(
        short_code="alices", target_url="https://a.example/", owner=user
    )
    Link.objects.create(
        short_code="bobs", target_url="https://b.example/", owner=other_user
    )
    change = f"/admin/links/apitoken/{token.pk}/change/"
    assert 'name="user"' not in client.get(change).content.decode()
    response = client.post(
        change,
        {
            "user": other_user.pk,
            "name": "moved",
            "expires_at_0": "",
            "expires_at_1": "",
        },
    )
    assert response.status_code == 302, response.content
    token.refresh_from_db()
    assert (token.user, token.name) == (user, "moved")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    listed = api.get("/api/links").json()["results"]
    assert [link["short_code"] for link in listed] == ["alices"]
