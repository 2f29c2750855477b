from django.apps import AppConfig
from django.conf import settings


class LinksConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "links"
    verbose_name = "Links"

    def ready(self):
        from django.contrib.auth.signals import user_login_failed
        from django.db.models.signals import post_delete, post_save, pre_save

        from links import checks  # noqa: F401 - registers the system checks
        from links.lookup import link_deleted, link_saved
        from links.ratelimit import parse_rate
        from links.signin import log_failed_sign_in
        from links.tokens import revoke_on_credential_change

        pre_save.connect(
            revoke_on_credential_change,
            sender=settings.AUTH_USER_MODEL,
            dispatch_uid="links.tokens.revoke_on_credential_change",
        )
        post_delete.connect(
            link_deleted, sender="links.Link", dispatch_uid="links.lookup"
        )
        post_save.connect(
            link_saved, sender="links.Link", dispatch_uid="links.lookup.saved"
        )
        user_login_failed.connect(log_failed_sign_in, dispatch_uid="tinylink.signin")

        # A typo in a rate must stop start-up, not surface on the first request.
        parse_rate(settings.RATE_LIMIT_WRITES)
        parse_rate(settings.RATE_LIMIT_REDIRECTS)
