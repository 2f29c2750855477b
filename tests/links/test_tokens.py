"""API tokens: stored hashed, revocable, expiring, last use recorded."""

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from links.auth import UnknownUser, find_user, hash_key, issue_token
from links.models import ApiToken


def get(key, path="/api/links"):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get(path)


def test_token_is_stored_only_as_a_hash(user):
    token, key = issue_token(user)
    assert key.startswith("tl_")
    assert len(key) > 40
    assert token.key_hash == hash_key(key)
    # Nothing in the table holds the key itself.
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM links_apitoken")
        row = cursor.fetchone()
    assert all(key not in str(value) for value in row)
    assert key[:10] == token.key_prefix


def test_valid_token_authenticates_and_records_last_use(user):
    token, key = issue_token(user)
    assert token.last_used_at is None
    assert get(key).status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_last_use_is_written_at_most_once_a_minute(user):
    token, key = issue_token(user)
    get(key)
    token.refresh_from_db()
    first = token.last_used_at
    get(key)
    token.refresh_from_db()
    assert token.last_used_at == first


@pytest.mark.parametrize(
    "header", ["Token nope", "Token tl_wrong", "Token", "Token a b", "Token \u00e9"]
)
def test_bad_tokens_are_401(user, header):
    issue_token(user)
    client = APIClient()
    response = client.get("/api/links", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_revoked_token_is_refused(user):
    token, key = issue_token(user)
    token.revoked_at = timezone.now()
    token.save()
    assert get(key).status_code == 401


def test_expired_token_is_refused(user):
    token, key = issue_token(user, expires_in=timedelta(days=1))
    assert get(key).status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert get(key).status_code == 401


def test_token_of_inactive_user_is_refused(user):
    _, key = issue_token(user)
    user.is_active = False
    user.save()
    assert get(key).status_code == 401


def test_create_api_token_prints_the_key_last(user):
    out = io.StringIO()
    call_command(
        "create_api_token",
        "alice",
        "--expires-days",
        "30",
        stdout=out,
        stderr=io.StringIO(),
    )
    key = out.getvalue().strip().splitlines()[-1]
    token = ApiToken.objects.get(key_hash=hash_key(key))
    assert token.user == user
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
    assert get(key).status_code == 200


def test_create_api_token_for_unknown_user_fails(db):
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        call_command("create_api_token", "ghost", stdout=io.StringIO())


def test_create_api_token_refuses_non_positive_expiry(user):
    with pytest.raises(CommandError, match="--expires-days"):
        call_command(
            "create_api_token", "alice", "--expires-days", "0", stdout=io.StringIO()
        )
    assert not ApiToken.objects.exists()


def test_find_user_finds_by_username_or_names_the_missing_one(user):
    assert find_user("alice") == user
    with pytest.raises(UnknownUser) as error:
        find_user("ghost")
    assert str(error.value) == "No user named 'ghost'."
