"""The one set of rules for link targets, used by the model, API, forms and admin."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

MAX_TARGET_LENGTH = 2048
_DEFAULT_PORTS = {"http": 80, "https": 443}
_url_validator = URLValidator(schemes=["http", "https"])


def _split_host(netloc_or_url):
    """(hostname, port or None) of 'host[:port]' or of an absolute URL."""
    if "//" not in netloc_or_url:
        netloc_or_url = "//" + netloc_or_url
    parts = urlsplit(netloc_or_url)
    try:
        port = parts.port
    except ValueError:
        port = None
    return (parts.hostname or "").rstrip(".").lower(), port


def own_hosts(request_host=None):
    """The host[:port] values that are this shortener: PUBLIC_BASE_URL and,
    when a request is at hand, the host it was addressed to."""
    hosts = []
    if settings.PUBLIC_BASE_URL:
        hosts.append(_split_host(settings.PUBLIC_BASE_URL))
    if request_host:
        hosts.append(_split_host(request_host))
    return [h for h in hosts if h[0]]


def _is_own_host(scheme, hostname, port, hosts):
    target_port = port or _DEFAULT_PORTS[scheme]
    for own_name, own_port in hosts:
        if hostname != own_name:
            continue
        # A shortener on the default port answers both http and https there
        # (one usually redirects to the other), so both count as a loop.
        if own_port is None and target_port in (80, 443):
            return True
        if own_port == target_port:
            return True
    return False


def validate_target_url(value, *, request_host=None):
    """Raise ValidationError unless `value` is a link TinyLink may redirect to.

    Returns the URL stripped of surrounding white space.
    """
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("Enter the URL to shorten.", code="required")
    value = value.strip()
    if len(value) > MAX_TARGET_LENGTH:
        raise ValidationError(
            f"The URL is {len(value)} characters long; the limit is "
            f"{MAX_TARGET_LENGTH}.",
            code="too_long",
        )
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValidationError(
            "The URL contains spaces or control characters; encode them first.",
            code="invalid_characters",
        )
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    if not scheme:
        raise ValidationError(
            "Enter an absolute URL starting with http:// or https://.",
            code="invalid_scheme",
        )
    if scheme not in ("http", "https"):
        raise ValidationError(
            f"Only http:// and https:// URLs can be shortened, not '{scheme}:' URLs.",
            code="invalid_scheme",
        )
    if "@" in parts.netloc:
        raise ValidationError(
            "URLs with a user name or password in them are refused.",
            code="credentials",
        )
    try:
        _url_validator(value)
        port = parts.port
    except (ValidationError, ValueError):
        raise ValidationError(
            "Enter a complete URL with a valid host, like https://example.com/page.",
            code="invalid",
        ) from None
    hostname = (parts.hostname or "").rstrip(".").lower()
    if _is_own_host(scheme, hostname, port, own_hosts(request_host)):
        raise ValidationError(
            "The URL points at this shortener itself, which would make a "
            "redirect loop.",
            code="redirect_loop",
        )
    return value
