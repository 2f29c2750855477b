"""The one set of rules for link targets, used by the model, API, forms, admin
and imports, and by the redirect itself (links.views.follow).

International host names are stored and followed in their ASCII (punycode)
form, by IDNA 2008 with UTS 46 mapping (the `idna` package), as browsers and
registries read them. Python's own "idna" codec is IDNA 2003, which maps "ß"
to "ss": faß.de would become fass.de, another domain.
"""

import contextlib
import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

import idna
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

MAX_TARGET_LENGTH = 2048
_url_validator = URLValidator(schemes=["http", "https"])
# A WHATWG URL host whose last label is a number is an IPv4 address, each
# part decimal, 0x-hex or 0-octal: 2130706433, 0x7f.1 and 127.1 all mean
# 127.0.0.1 to a browser.
_NUMBER = re.compile(r"0x[0-9a-f]*|0[0-7]*|[1-9][0-9]*")


def _ipv4_number(part):
    if part.startswith("0x"):
        return int(part[2:] or "0", 16)
    if part.startswith("0") and len(part) > 1:
        return int(part[1:], 8)
    return int(part)


def _browser_ipv4(host):
    """The IPv4 address a browser reads in `host`, or None for a name."""
    parts = host.split(".")
    if len(parts) > 4 or not all(_NUMBER.fullmatch(part) for part in parts):
        return None
    *leading, last = [_ipv4_number(part) for part in parts]
    if any(n > 255 for n in leading) or last >= 256 ** (4 - len(leading)):
        return None
    value = last
    for position, number in enumerate(leading):
        value += number << (8 * (3 - position))
    return ipaddress.IPv4Address(value)


def ascii_host(host):
    """`host` in IDNA 2008 ASCII form; ValueError if it has none."""
    if host.isascii():
        return host
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise ValueError(str(exc)) from None


def _address(host):
    """The IP address a browser reads in a lower-case `host` without
    brackets, or None for a name."""
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host)
        except ValueError:
            return None
    # Only a host that ends in a number is an IPv4 address: names are
    # answered here, without parsing.
    if not _NUMBER.fullmatch(host.rpartition(".")[2]):
        return None
    return _browser_ipv4(host)


def _host_key(host):
    """One spelling per host: ASCII, lower case, without the trailing dot,
    and IP addresses in their canonical form (brackets off)."""
    with contextlib.suppress(ValueError):  # a name IDNA refuses is kept as is
        host = ascii_host(host)
    host = host.strip().lower().rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    address = _address(host)
    return str(address) if address is not None else host


def _is_local(host_key):
    if host_key == "localhost" or host_key.endswith(".localhost"):
        return True  # RFC 6761: every *.localhost name is loopback
    address = _address(host_key)
    if address is None:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is None:
            return address.is_loopback or address.is_unspecified
        address = address.ipv4_mapped
    # 127.0.0.0/8 is loopback; 0.0.0.0/8 is "this host" (Linux connects to
    # it locally): a redirect there reaches this server or the visitor's own.
    return address.packed[0] in (0, 127)


def _hostname(netloc_or_url):
    if "//" not in netloc_or_url:
        netloc_or_url = "//" + netloc_or_url
    return urlsplit(netloc_or_url).hostname or ""


def _pattern(name):
    """A host key, with Django's leading dot kept: '.example.com' is that
    name and every subdomain of it."""
    wildcard = name.startswith(".")
    key = _host_key(name.removeprefix("."))
    return ("." + key if wildcard else key) if key else None


@lru_cache(maxsize=16)
def _configured_patterns(allowed_hosts, public_base_url):
    # "*" names no host: then only the request's own host stands for it.
    names = [name for name in allowed_hosts if name != "*"]
    if public_base_url:
        names.append(_hostname(public_base_url))
    return frozenset(filter(None, map(_pattern, names)))


@lru_cache(maxsize=64)
def _request_host_key(request_host):
    return _host_key(_hostname(request_host))


def _matches(host_key, patterns):
    for pattern in patterns:
        if pattern.startswith("."):
            if host_key == pattern[1:] or host_key.endswith(pattern):
                return True
        elif host_key == pattern:
            return True
    return False


def _refusal(host, request_host):
    """'loopback', 'redirect_loop' or None for the host of a target URL.

    Whatever the port: a name this server answers to is this server."""
    key = _host_key(host)
    if _is_local(key):
        return "loopback"
    patterns = _configured_patterns(
        tuple(settings.ALLOWED_HOSTS), settings.PUBLIC_BASE_URL
    )
    if _matches(key, patterns) or (
        request_host and key == _request_host_key(request_host)
    ):
        return "redirect_loop"
    return None


def points_at_this_service(url, request_host=None):
    """True when a redirect to `url` would send the visitor back to this
    server (one of its names) or to a loopback or unspecified address."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    return bool(host) and _refusal(host, request_host) is not None


def validate_target_url(value, *, request_host=None):
    """Raise ValidationError unless `value` is a link TinyLink may redirect to.

    Returns the URL to store: stripped of surrounding white space, its host
    in ASCII (punycode).
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
    # Without a scheme it is no URL at all ("not a url", "example.com"): say
    # what one looks like before finding fault with its characters.
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    if not scheme:
        raise ValidationError(
            "Enter a full web address starting with http:// or https://, "
            "like https://example.com/page.",
            code="invalid_scheme",
        )
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValidationError(
            "The URL contains spaces or control characters; encode them first.",
            code="invalid_characters",
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
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except (ValidationError, ValueError):
        raise ValidationError(
            "Enter a complete URL with a valid host, like https://example.com/page.",
            code="invalid",
        ) from None
    try:
        value = _with_ascii_host(value, parts)
    except ValueError as exc:
        raise ValidationError(
            f"The host is not a valid international domain name (IDNA 2008): {exc}.",
            code="invalid_host",
        ) from None
    refusal = _refusal(urlsplit(value).hostname or "", request_host)
    if refusal == "loopback":
        raise ValidationError(
            "The URL points at a loopback or unspecified address (localhost, "
            "127.0.0.0/8, ::1, 0.0.0.0, ::): that is this server or the "
            "visitor's own machine, never a page to share.",
            code="loopback",
        )
    if refusal == "redirect_loop":
        raise ValidationError(
            "The URL points at this shortener itself, which would make a "
            "redirect loop.",
            code="redirect_loop",
        )
    return value


def _with_ascii_host(url, parts):
    if parts.netloc.isascii():
        return url
    # A non-ASCII netloc has no brackets (IPv6) and no user (refused), so
    # the first colon starts the port; the netloc follows "scheme://".
    host, colon, port = parts.netloc.partition(":")
    start = len(parts.scheme) + 3
    end = start + len(parts.netloc)
    return url[:start] + ascii_host(host) + colon + port + url[end:]


def ascii_target_url(url):
    """`url` with its host in ASCII, for a URL that passed validation (or
    was stored before hosts were normalised); unchanged when it cannot be."""
    if url.isascii():
        return url
    try:
        return _with_ascii_host(url, urlsplit(url))
    except ValueError:
        return url


# UTS 39's "highly restrictive" level: one script, or Latin with the scripts
# that East Asian languages write together.
_SCRIPT_FAMILIES = (
    frozenset({"Latin", "Han", "Hiragana", "Katakana"}),
    frozenset({"Latin", "Han", "Bopomofo"}),
    frozenset({"Latin", "Han", "Hangul"}),
)
# Unicode character names start with the script (LATIN SMALL LETTER A,
# CYRILLIC SMALL LETTER A), except for these.
_SCRIPT_OF_NAME = {"CJK": "Han", "IDEOGRAPHIC": "Han"}


def _script(char):
    """The script of a letter, from its Unicode name; None for what every
    script shares (digits, hyphens, marks, length and iteration signs)."""
    if unicodedata.category(char) not in ("Lu", "Ll", "Lt", "Lo"):
        return None
    word = unicodedata.name(char, "").partition(" ")[0]
    return _SCRIPT_OF_NAME.get(word, word.title() or None)


@dataclass(frozen=True)
class TargetHost:
    """An international host: its ASCII form (what is stored and followed),
    its Unicode form (what people read) and the scripts it is written in."""

    ascii: str
    unicode: str
    scripts: tuple

    @property
    def mixed_scripts(self):
        """True for a host whose labels mix scripts, the way look-alikes of
        other domains are made (a Cyrillic U+0430 "a" in a Latin name)."""
        scripts = set(self.scripts)
        return len(scripts) > 1 and not any(
            scripts <= family for family in _SCRIPT_FAMILIES
        )

    @property
    def warning(self):
        if not self.mixed_scripts:
            return ""
        return (
            f"Mixed scripts ({' + '.join(self.scripts)}): this address may "
            "imitate another one."
        )


def describe_host(url):
    """A TargetHost for a URL whose host is international (in Unicode or in
    punycode), else None."""
    try:
        host = urlsplit(url).hostname or ""
        ascii_name = ascii_host(host)
    except ValueError:
        return None
    if not any(label.startswith("xn--") for label in ascii_name.split(".")):
        return None
    try:
        unicode_name = idna.decode(ascii_name)
    except idna.IDNAError:
        return None
    scripts = {_script(char) for char in unicode_name} - {None}
    return TargetHost(ascii_name, unicode_name, tuple(sorted(scripts)))
