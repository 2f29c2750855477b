import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

django_application = get_wsgi_application()

# Imported once Django is set up: it reads settings and the links app.
from config.fastpath import RedirectFastPath  # noqa: E402

# Plain redirects are answered in front of Django's request cycle (see
# config/fastpath.py); everything else goes to Django.
application = RedirectFastPath(django_application)
