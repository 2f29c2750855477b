import re

import pytest
from django.core.exceptions import ValidationError
from django.urls import URLPattern, URLResolver, get_resolver

from links.codes import (
    ALPHABET,
    RESERVED_CODES,
    generate_code,
    validate_short_code,
)


def test_generated_codes_are_seven_base62_characters():
    codes = {generate_code() for _ in range(2000)}
    assert all(re.fullmatch(r"[A-Za-z0-9]{7}", code) for code in codes)
    # 2000 draws from 62**7 codes: a repeat would mean a broken generator.
    assert len(codes) == 2000
    assert set("".join(codes)) <= set(ALPHABET)


@pytest.mark.parametrize("code", ["a", "A-b_9", "x" * 64, "Docs2"])
def test_valid_custom_codes_pass(code):
    validate_short_code(code)


@pytest.mark.parametrize(
    "code", ["", "x" * 65, "has space", "slash/", "dot.dot", "ümlaut", "emoji😀", "a\n"]
)
def test_invalid_custom_codes_are_refused(code):
    with pytest.raises(ValidationError) as excinfo:
        validate_short_code(code)
    assert excinfo.value.code == "invalid_short_code"


@pytest.mark.parametrize("code", ["admin", "Admin", "API", "health", "metrics"])
def test_reserved_codes_are_refused_in_any_case(code):
    with pytest.raises(ValidationError) as excinfo:
        validate_short_code(code)
    assert excinfo.value.code == "reserved_short_code"


def _top_level_prefixes(patterns):
    for pattern in patterns:
        literal = str(pattern.pattern).lstrip("^")
        first = literal.split("/")[0]
        if first.startswith("<") or first == "":
            if isinstance(pattern, URLResolver) and first == "":
                # An include() mounted at the root: its own routes are top level.
                yield from _top_level_prefixes(pattern.url_patterns)
            continue
        assert isinstance(pattern, URLPattern | URLResolver)
        yield first.rstrip("$")


def test_every_top_level_route_is_reserved():
    prefixes = set(_top_level_prefixes(get_resolver().url_patterns))
    assert "admin" in prefixes  # the walk itself works
    missing = {p for p in prefixes if p.lower() not in RESERVED_CODES}
    assert not missing, f"add these routes to links.codes.RESERVED_CODES: {missing}"


def test_static_url_prefix_is_reserved(settings):
    assert settings.STATIC_URL.strip("/") in RESERVED_CODES
