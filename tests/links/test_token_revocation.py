"""A user's API tokens end with their password and with their account: every
way Django changes a password or deactivates a user revokes them, unless
API_TOKENS_REVOKE_ON_PASSWORD_CHANGE is off."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.management.commands import changepassword
from django.contrib.auth.tokens import default_token_generator
from django.core.management import call_command
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework.test import APIClient

from links.auth import issue_token
from links.models import ApiToken

NEW_PASSWORD = "a brand new horse 7"


@pytest.fixture
def key(user):
    _, key = issue_token(user)
    return key


@pytest.fixture
def other_key(other_user):
    _, key = issue_token(other_user)
    return key


@pytest.fixture
def admin_client_(db, client):
    admin = get_user_model().objects.create_superuser("admin", password="pw-12345-x")
    client.force_login(admin)
    return client


def answers(key):
    """The status the API gives this key."""
    client = APIClient()
    return client.get("/api/links", HTTP_AUTHORIZATION=f"Token {key}").status_code


def admin_user_form(user, **overrides):
    """The admin's user change form as a browser would post it back."""
    data = {
        "username": user.username,
        "first_name": "",
        "last_name": "",
        "email": "",
        "is_active": "on" if user.is_active else "",
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
    }
    data.update(overrides)
    return {name: value for name, value in data.items() if value is not None}


# --- every way a password changes -------------------------------------------------


def test_set_password_and_save_revokes_the_users_tokens(user, key, other_key):
    assert answers(key) == 200
    user.set_password(NEW_PASSWORD)
    user.save()
    assert answers(key) == 401
    assert answers(other_key) == 200
    assert ApiToken.objects.get(user=user).revoked_at is not None


def test_the_password_change_page_revokes_the_users_tokens(client, user, key):
    client.force_login(user)
    response = client.post(
        "/accounts/password_change/",
        {
            "old_password": "correct horse 1",
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302
    assert answers(key) == 401


def test_the_password_reset_page_revokes_the_users_tokens(client, user, key):
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    form = client.get(f"/accounts/reset/{uid}/{token}/", follow=True)
    assert form.status_code == 200
    response = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response["Location"] == "/accounts/reset/done/"
    assert answers(key) == 401


def test_the_changepassword_command_revokes_the_users_tokens(user, key, monkeypatch):
    monkeypatch.setattr(changepassword.getpass, "getpass", lambda prompt: NEW_PASSWORD)
    call_command("changepassword", "alice", stdout=io.StringIO())
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert answers(key) == 401


def test_the_admins_password_form_revokes_the_users_tokens(admin_client_, user, key):
    response = admin_client_.post(
        f"/admin/auth/user/{user.pk}/password/",
        {
            "usable_password": "true",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )
    assert response["Location"] == f"/admin/auth/user/{user.pk}/change/"
    assert answers(key) == 401


def test_disabling_password_sign_in_in_the_admin_revokes_the_users_tokens(
    admin_client_, user, key
):
    response = admin_client_.post(
        f"/admin/auth/user/{user.pk}/password/",
        {"usable_password": "false", "unset-password": "Disable"},
    )
    assert response["Location"] == f"/admin/auth/user/{user.pk}/change/"
    user.refresh_from_db()
    assert not user.has_usable_password()
    assert answers(key) == 401


# --- deactivation -----------------------------------------------------------------


def test_deactivating_a_user_revokes_their_tokens_for_good(user, key):
    user.is_active = False
    user.save()
    user.is_active = True
    user.save()
    # Back in service, the user needs new tokens: the old ones stay revoked.
    assert answers(key) == 401
    assert answers(issue_token(user)[1]) == 200


def test_deactivating_a_user_in_the_admin_revokes_their_tokens(
    admin_client_, user, key
):
    response = admin_client_.post(
        f"/admin/auth/user/{user.pk}/change/", admin_user_form(user, is_active="")
    )
    assert response.status_code == 302, response.content
    user.refresh_from_db()
    assert not user.is_active
    user.is_active = True
    user.save(update_fields=["is_active"])
    assert answers(key) == 401


# --- what does not revoke ----------------------------------------------------------


def test_other_changes_to_a_user_keep_their_tokens(admin_client_, user, key):
    response = admin_client_.post(
        f"/admin/auth/user/{user.pk}/change/",
        admin_user_form(user, email="alice@example.com"),
    )
    assert response.status_code == 302, response.content
    user.refresh_from_db()
    user.first_name = "Alice"
    user.save()
    assert answers(key) == 200


def test_signing_in_while_django_upgrades_the_password_hash_keeps_the_tokens(
    client, user, key, settings
):
    # The test user's hash is MD5 (tests/conftest.py); with PBKDF2 preferred,
    # signing in rewrites the hash of the same password.
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    old_hash = user.password
    # Through the sign-in page, as a person signs in (the lock-out backend
    # authenticates only requests).
    signed_in = client.post(
        "/accounts/login/", {"username": "alice", "password": "correct horse 1"}
    )
    assert signed_in.status_code == 302
    user.refresh_from_db()
    assert user.password != old_hash
    assert answers(key) == 200


def test_revocation_can_be_turned_off(user, key, settings):
    settings.API_TOKENS_REVOKE_ON_PASSWORD_CHANGE = False
    user.set_password(NEW_PASSWORD)
    user.save()
    assert answers(key) == 200
    user.is_active = False
    user.save()
    user.is_active = True
    user.save()
    assert answers(key) == 200
