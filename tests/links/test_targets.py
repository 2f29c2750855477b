import pytest
from django.core.exceptions import ValidationError

from links.targets import points_at_this_service, validate_target_url


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com",
        "http://example.com/path?q=1#frag",
        "https://sub.example.co.uk:8443/a/b",
        "https://example.com/straße?q=ä",
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


@pytest.fixture
def service_names(settings):
    """A production-style set of names: a public base, a wildcard and literals."""
    settings.PUBLIC_BASE_URL = "https://sho.rt"
    settings.ALLOWED_HOSTS = [
        "sho.rt",
        "www.sho.rt",
        ".tinylink.example",
        "192.0.2.5",
        "[2001:db8::5]",
    ]


@pytest.mark.parametrize(
    "url",
    [
        "https://sho.rt/abc",
        "http://SHO.RT./abc",
        "https://sho.rt:443/x",
        # Another port of a name this server answers to is still this server.
        "https://sho.rt:8443/x",
        "http://www.sho.rt/x",
        "https://tinylink.example/x",
        "https://a.b.tinylink.example/x",
        "http://192.0.2.5/x",
        "http://192.0.2.5:8080/x",
        "http://[2001:db8::5]/x",
        "http://[2001:DB8:0:0::5]:8000/x",
    ],
)
def test_target_on_a_name_of_this_server_is_a_redirect_loop(service_names, url):
    with pytest.raises(ValidationError) as excinfo:
        validate_target_url(url)
    assert excinfo.value.code == "redirect_loop"
    assert "this shortener" in excinfo.value.messages[0]


@pytest.mark.parametrize(
    "url",
    [
        "https://other.example/x",
        "https://notsho.rt/x",
        "https://nottinylink.example/x",
        "https://tinylink.example.org/x",
        "http://192.0.2.6/x",
    ],
)
def test_neighbours_of_the_server_names_are_accepted(service_names, url):
    assert validate_target_url(url) == url


def test_a_wildcard_allowed_hosts_still_refuses_the_requesting_host(settings):
    settings.PUBLIC_BASE_URL = ""
    settings.ALLOWED_HOSTS = ["*"]
    assert validate_target_url("https://example.com/")
    with pytest.raises(ValidationError) as excinfo:
        validate_target_url("https://sho.rt/x", request_host="sho.rt:8000")
    assert excinfo.value.code == "redirect_loop"


def test_target_on_the_requesting_host_is_a_redirect_loop(settings):
    settings.PUBLIC_BASE_URL = ""
    settings.ALLOWED_HOSTS = ["*"]
    with pytest.raises(ValidationError):
        validate_target_url("http://sho.rt:8000/abc", request_host="sho.rt:8000")
    with pytest.raises(ValidationError):
        validate_target_url("http://sho.rt:3000/", request_host="sho.rt:8000")


LOOPBACK_TARGETS = [
    "http://localhost/x",
    "http://LOCALHOST:3000/x",
    "http://app.localhost/x",
    "http://127.0.0.1/x",
    "http://127.0.0.2/x",
    "http://127.255.255.254:8000/x",
    "http://[::1]/x",
    "http://[0:0:0:0:0:0:0:1]:8000/x",
    "http://[::ffff:127.0.0.1]/x",
    "http://[::ffff:7f00:2]/x",
    "http://0.0.0.0/x",
    "http://0.0.0.0:8000/x",
    "http://[::]/x",
]
# Spellings a browser reads as loopback: a trailing dot, and (WHATWG URL) a
# host ending in a number is IPv4, in decimal, octal or hex, missing parts 0.
ODD_LOOPBACK_SPELLINGS = [
    "http://localhost./x",
    "http://127.0.0.1./x",
    "http://2130706433/x",
    "http://0x7f000001/x",
    "http://0x7f.1/x",
    "http://127.1/x",
    "http://0177.0.0.1/x",
    "http://0177.1/x",
    "http://127.0.1/x",
    "http://0x7F.0.0.1/x",
    "http://0/x",
]


@pytest.mark.parametrize("url", LOOPBACK_TARGETS)
def test_loopback_and_unspecified_addresses_are_refused(settings, url):
    settings.PUBLIC_BASE_URL = ""
    settings.ALLOWED_HOSTS = ["sho.rt"]
    with pytest.raises(ValidationError) as excinfo:
        validate_target_url(url)
    assert excinfo.value.code == "loopback"
    assert "loopback" in excinfo.value.messages[0]


@pytest.mark.parametrize("url", ODD_LOOPBACK_SPELLINGS)
def test_odd_spellings_of_loopback_are_refused(settings, url):
    settings.PUBLIC_BASE_URL = ""
    settings.ALLOWED_HOSTS = ["sho.rt"]
    with pytest.raises(ValidationError) as excinfo:
        validate_target_url(url)
    # Django's URL validator already refuses a host without a letter TLD;
    # should it ever let one through, the loopback rule refuses it.
    assert excinfo.value.code in ("invalid", "loopback")


@pytest.mark.parametrize(
    "url", [*LOOPBACK_TARGETS, *ODD_LOOPBACK_SPELLINGS, "https://sho.rt:8443/x"]
)
def test_the_redirect_check_sees_every_spelling(service_names, url):
    assert points_at_this_service(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/",
        "http://128.0.0.1/",
        "http://1.0.0.127/",
        "http://[::2]/",
        "http://10.0.0.1/",
        "http://localhost.example.com/",
        "http://127.0.0.1.example/",
        "http://2130706433.example/",
    ],
)
def test_the_redirect_check_leaves_other_hosts_alone(service_names, url):
    assert not points_at_this_service(url)
