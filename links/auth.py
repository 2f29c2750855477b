"""API tokens: issuing them and authenticating `Authorization: Token <key>`;
finding the user a command names."""

import hashlib
import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework import authentication, exceptions

from links.models import ApiToken

KEY_PREFIX = "tl_"
# last_used_at is written at most this often per token, so an API client's
# every request is not also a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_key(key):
    return hashlib.sha256(key.encode()).hexdigest()


def new_key():
    return KEY_PREFIX + secrets.token_urlsafe(32)


def issue_token(user, *, name="", expires_in=None):
    """Create a token; returns (ApiToken, key). The key is never stored."""
    key = new_key()
    token = ApiToken.objects.create(
        user=user,
        name=name,
        key_prefix=key[: len(KEY_PREFIX) + 7],
        key_hash=hash_key(key),
        expires_at=timezone.now() + expires_in if expires_in else None,
    )
    return token, key


class UnknownUser(LookupError):
    """No user has the username given."""

    def __init__(self, username):
        super().__init__(f"No user named {username!r}.")
        self.username = username


def find_user(username):
    """The user with this username (the model's USERNAME_FIELD); UnknownUser
    when there is none."""
    User = get_user_model()
    try:
        return User.objects.get(**{User.USERNAME_FIELD: username})
    except User.DoesNotExist:
        raise UnknownUser(username) from None


class TokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Send the header as 'Authorization: Token <key>'."
            )
        try:
            key = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        now = timezone.now()
        token = (
            ApiToken.objects.usable(now)
            .select_related("user")
            .filter(key_hash=hash_key(key))
            .first()
        )
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        if (
            token.last_used_at is None
            or now - token.last_used_at > LAST_USED_RESOLUTION
        ):
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request):
        return self.keyword
