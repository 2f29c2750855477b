import pytest
from django.core.exceptions import ValidationError

from links.targets import validate_target_url


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com",
        "http://example.com/path?q=1#frag",
        "https://sub.example.co.uk:8443/a/b",
        "https://bücher.example/straße",
        "http://192.0.2.10/x",
        "https://[2001:db8::1]/",
    ],
)
def test_absolute_http_urls_are_accepted(url):
    assert validate_target_url(url) == url


def test_surrounding_white_space_is_stripped():
    assert validate_target_url("  https://example.com/ \n") == "https://example.com/"


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("javascript:alert(1)", "invalid_scheme"),
        ("JavaScript:alert(1)", "invalid_scheme"),
        ("data:text/html,<script>x</script>", "invalid_scheme"),
        ("file:///etc/passwd", "invalid_scheme"),
        ("ftp://example.com/file", "invalid_scheme"),
        ("example.com/no-scheme", "invalid_scheme"),
        ("/relative/path", "invalid_scheme"),
        ("https://user:pw@example.com/", "credentials"),
        ("https://user@example.com/", "credentials"),
        ("https://", "invalid"),
        ("https:///path-only", "invalid"),
        ("http://exa mple.com", "invalid_characters"),
        ("https://example.com/\x00", "invalid_characters"),
        ("https://example.com:99999/", "invalid"),
        ("", "required"),
        ("   ", "required"),
    ],
)
def test_bad_targets_are_refused_with_a_reason(url, code):
    with pytest.raises(ValidationError) as excinfo:
        validate_target_url(url)
    assert excinfo.value.code == code
    assert excinfo.value.messages[0]  # a sentence a person can read


def test_overlong_target_is_refused():
    url = "https://example.com/" + "a" * 2029
    assert len(url) == 2049
    with pytest.raises(ValidationError) as excinfo:
        validate_target_url(url)
    assert excinfo.value.code == "too_long"
    assert validate_target_url(url[:-1])  # 2048 is allowed


def test_target_on_the_public_base_host_is_a_redirect_loop(settings):
    settings.PUBLIC_BASE_URL = "https://sho.rt"
    for url in ("https://sho.rt/abc", "http://SHO.RT./abc", "https://sho.rt:443/x"):
        with pytest.raises(ValidationError) as excinfo:
            validate_target_url(url)
        assert excinfo.value.code == "redirect_loop"
    # Another service on another port of the same host is not a loop.
    assert validate_target_url("https://sho.rt:8443/x")
    assert validate_target_url("https://other.example/x")


def test_target_on_the_requesting_host_is_a_redirect_loop(settings):
    settings.PUBLIC_BASE_URL = ""
    with pytest.raises(ValidationError):
        validate_target_url("http://localhost:8000/abc", request_host="localhost:8000")
    assert validate_target_url("http://localhost:3000/", request_host="localhost:8000")
