"""Email settings, for config/settings.py: EMAIL_URL turned into Django's
EMAIL_* settings (kept apart so the settings file stays within its size).

Without EMAIL_URL there is no email: the dummy backend, which the password
reset pages read as "cannot send" (links.accounts), so they say so instead of
pretending. In development (DJANGO_DEBUG) the console shows what would be sent.
"""

from urllib.parse import parse_qsl, urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

CONSOLE_BACKEND = "django.core.mail.backends.console.EmailBackend"
DUMMY_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
FILE_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
DEFAULT_FROM = "TinyLink <tinylink@localhost>"
SCHEMES = "smtp://, smtp+tls://, smtp+ssl://, consolemail://, filemail://, dummymail://"
_FLAGS = {"tls": "EMAIL_USE_TLS", "ssl": "EMAIL_USE_SSL"}
_TRUE = {"", "1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def email_settings(url, *, debug):
    """The EMAIL_* settings for EMAIL_URL `url` (empty: none configured)."""
    if not url:
        return {"EMAIL_BACKEND": CONSOLE_BACKEND if debug else DUMMY_BACKEND}
    address, _, query = url.partition("?")
    try:
        # The query is read here: django-environ drops "?tls" (no value) and
        # takes "?email_use_tls=false" as true.
        config = environ.Env.email_url_config(address)
    except (ImproperlyConfigured, ValueError):
        # The message names the scheme only: the URL may hold a password.
        raise ImproperlyConfigured(
            f"EMAIL_URL must be a URL starting with one of {SCHEMES} (this one, "
            f"scheme {urlsplit(address).scheme!r}, could not be read)."
        ) from None
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key.lower() not in _FLAGS or value.lower() not in _TRUE | _FALSE:
            raise ImproperlyConfigured(
                f"EMAIL_URL: unknown option {key}={value}; the options are "
                "?tls (STARTTLS, port 587) and ?ssl (TLS, port 465)."
            )
        config[_FLAGS[key.lower()]] = value.lower() in _TRUE
    if config.get("EMAIL_USE_TLS") and config.get("EMAIL_USE_SSL"):
        raise ImproperlyConfigured("EMAIL_URL: tls and ssl exclude each other.")
    if config["EMAIL_BACKEND"] == SMTP_BACKEND and not config["EMAIL_HOST"]:
        raise ImproperlyConfigured("EMAIL_URL: an smtp URL needs a host.")
    if config["EMAIL_BACKEND"] != FILE_BACKEND:
        config.pop("EMAIL_FILE_PATH")
    return {key: value for key, value in config.items() if value not in (None, "")}
