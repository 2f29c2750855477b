"""The API token model: the key's hash, its owner, expiry and revocation.
Issuing keys and authenticating with them is links/auth.py."""

from django.conf import settings
from django.contrib.auth.hashers import is_password_usable
from django.db import models
from django.db.models import Q
from django.utils import timezone


class ApiTokenQuerySet(models.QuerySet):
    def usable(self, now=None):
        now = now or timezone.now()
        return self.filter(
            Q(revoked_at__isnull=True),
            Q(expires_at__isnull=True) | Q(expires_at__gt=now),
        )

    def revoke(self, now=None):
        """Revoke the tokens not revoked yet; returns how many."""
        return self.filter(revoked_at__isnull=True).update(
            revoked_at=now or timezone.now()
        )


class ApiToken(models.Model):
    """An API key, stored only as its SHA-256: a leaked database or backup
    grants no API access. Keys are 256 random bits, so an unsalted fast hash
    is enough (there is nothing to brute-force), and it keeps lookups indexed."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, blank=True)
    key_prefix = models.CharField(max_length=12, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = "API token"

    def __str__(self):
        return f"{self.key_prefix}… ({self.user})"


def revoke_on_credential_change(sender, instance, raw=False, update_fields=None, **_):
    """pre_save of the user model, connected in LinksConfig.ready: a signal,
    because the user model is Django's and every path that changes a password
    or deactivates a user (the admin, changepassword, the password change and
    reset pages, set_password() + save()) ends in its save(). Revoked here,
    before the save, a failed save errs on the side of fewer live tokens."""
    if raw or instance._state.adding:
        return
    if not settings.API_TOKENS_REVOKE_ON_PASSWORD_CHANGE:
        return
    if _withdraws_credentials(instance, update_fields):
        ApiToken.objects.filter(user=instance).revoke()


def _withdraws_credentials(user, update_fields):
    """Does this save set a new password, make the password unusable or
    deactivate the user?"""

    def saves(field):
        return update_fields is None or field in update_fields

    # set_password() keeps the raw password until the save (Django's own
    # password_changed() hook reads the same marker). The hash upgrade at
    # sign-in clears it before saving: the same password is no change.
    if saves("password") and getattr(user, "_password", None) is not None:
        return True
    deactivating = saves("is_active") and not user.is_active
    disabling = saves("password") and not user.has_usable_password()
    if not (deactivating or disabling):
        return False
    users = type(user)._default_manager
    before = users.filter(pk=user.pk).values("is_active", "password").first()
    if before is None:
        return False
    return (deactivating and before["is_active"]) or (
        disabling and is_password_usable(before["password"])
    )
