"""Short codes: generating them and the rules for custom aliases."""

import re
import secrets
import string

from django.core.exceptions import ValidationError

ALPHABET = string.ascii_letters + string.digits  # base62
GENERATED_LENGTH = 7
MAX_LENGTH = 64
CODE_PATTERN = r"[A-Za-z0-9_-]{1,64}"
_CODE_RE = re.compile(rf"\A{CODE_PATTERN}\Z")

# Every top-level path the project serves or will serve. An alias equal to one
# of these (in any letter case, so "Admin" cannot pose as the admin either)
# would be shadowed by the route or would shadow it. A test walks the URLconf
# and fails when a route is missing here.
RESERVED_CODES = frozenset(
    {
        "about",
        "bulk",  # /api/links/bulk would shadow a link with this code
        "export",
        "accounts",
        "admin",
        "api",
        "debug",
        "docs",
        "favicon.ico",
        "health",
        "help",
        "links",
        "login",
        "logout",
        "media",
        "metrics",
        "ops",
        "robots.txt",
        "static",
        "stats",
        "well-known",
        ".well-known",
    }
)


def generate_code(length=GENERATED_LENGTH):
    """A random base62 code; uniqueness is left to the database constraint."""
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def validate_short_code(value):
    if not isinstance(value, str) or not _CODE_RE.match(value):
        raise ValidationError(
            "A short code is 1 to 64 characters of letters, digits, '-' and '_'.",
            code="invalid_short_code",
        )
    if value.lower() in RESERVED_CODES:
        raise ValidationError(
            f"'{value}' is reserved for TinyLink's own pages; choose another code.",
            code="reserved_short_code",
        )
