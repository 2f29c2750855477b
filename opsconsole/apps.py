from django.apps import AppConfig
from django.db.backends.signals import connection_created


class OpsconsoleConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "opsconsole"
    verbose_name = "Operations"

    def ready(self):
        from opsconsole import checks, slowqueries  # noqa: F401 - registers checks

        connection_created.connect(slowqueries.install, dispatch_uid="slow-queries")
