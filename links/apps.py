from django.apps import AppConfig
from django.conf import settings


class LinksConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "links"
    verbose_name = "Links"

    def ready(self):
        from django.contrib.auth.signals import user_login_failed

        from links.ratelimit import parse_rate
        from links.signin import log_failed_sign_in

        user_login_failed.connect(log_failed_sign_in, dispatch_uid="tinylink.signin")

        # A typo in a rate must stop start-up, not surface on the first request.
        parse_rate(settings.RATE_LIMIT_WRITES)
        parse_rate(settings.RATE_LIMIT_REDIRECTS)
