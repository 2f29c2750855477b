"""International host names: stored and followed as punycode (IDNA 2008),
shown in Unicode beside it, with a warning when the scripts are mixed."""

import pytest
from django.core.exceptions import ValidationError

from links.models import Link
from links.targets import describe_host, validate_target_url
from tests.links.admin_helpers import ADD, CHANGELIST, add_form_data, change_url
from tests.links.import_helpers import run, write_csv

# Cyrillic letters (U+0430 U+0440 U+0440 U+04CF U+0435): looks like apple.com.
LOOKALIKE = "http://аррӏе.com/"
LOOKALIKE_ASCII = "http://xn--80ak6aa92e.com/"


@pytest.fixture(autouse=True)
def _no_rate_limits(settings):
    settings.RATE_LIMIT_WRITES = ""


# --- validation: the stored form ---------------------------------------------


@pytest.mark.parametrize(
    ("url", "stored"),
    [
        (LOOKALIKE, LOOKALIKE_ASCII),
        # Only the host changes: port, path, query and fragment stay as typed.
        (
            "https://Bücher.Example:8443/straße?q=ä#frag",
            "https://xn--bcher-kva.example:8443/straße?q=ä#frag",
        ),
        # IDNA 2008: ß is a letter of its own (IDNA 2003 made it "ss", which
        # is another domain).
        ("https://faß.de/", "https://xn--fa-hia.de/"),
        ("http://пример.рф", "http://xn--e1afmkfd.xn--p1ai"),
        # Already ASCII: kept exactly, whatever the case.
        (LOOKALIKE_ASCII, LOOKALIKE_ASCII),
        ("https://Example.COM/Path", "https://Example.COM/Path"),
    ],
)
def test_international_hosts_are_stored_as_punycode(url, stored):
    assert validate_target_url(url) == stored


def test_a_host_that_idna_2008_disallows_is_refused():
    # U+2603 SNOWMAN passes Django's URL validator; IDNA 2008 has no place
    # for symbols.
    with pytest.raises(ValidationError) as excinfo:
        validate_target_url("http://☃.net/")
    assert excinfo.value.code == "invalid_host"
    assert "IDNA" in excinfo.value.messages[0]


@pytest.mark.parametrize(
    ("url", "code"),
    [
        # Full-width characters map to ASCII (UTS 46), as in browsers.
        ("http://１２７.０.０.１１/x", "loopback"),
        ("http://ｓｈｏ.ｒｔ/x", "redirect_loop"),
        ("http://bücher.example/x", "redirect_loop"),
    ],
)
def test_the_loop_check_compares_the_ascii_form(settings, url, code):
    settings.ALLOWED_HOSTS = ["sho.rt", "xn--bcher-kva.example"]
    with pytest.raises(ValidationError) as excinfo:
        validate_target_url(url)
    assert excinfo.value.code == code


def test_an_international_server_name_refuses_its_punycode(settings):
    settings.ALLOWED_HOSTS = ["bücher.example"]
    with pytest.raises(ValidationError) as excinfo:
        validate_target_url("http://xn--bcher-kva.example/")
    assert excinfo.value.code == "redirect_loop"


# --- what is shown -------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "unicode", "scripts", "mixed"),
    [
        (LOOKALIKE_ASCII, "аррӏе.com", ("Cyrillic", "Latin"), True),
        (LOOKALIKE, "аррӏе.com", ("Cyrillic", "Latin"), True),
        # One Cyrillic U+0430 inside a Latin label.
        ("http://xn--pypal-4ve.com/", "pаypal.com", ("Cyrillic", "Latin"), True),
        ("http://xn--bcher-kva.example/", "bücher.example", ("Latin",), False),
        ("http://xn--e1afmkfd.xn--p1ai/", "пример.рф", ("Cyrillic",), False),
        # Han with kana, and with Latin, is how Japanese is written (UTS 39's
        # "highly restrictive" combinations).
        ("http://xn--r8jz45g.jp/", "例え.jp", ("Han", "Hiragana", "Latin"), False),
        (
            "http://xn--hxajbheg2az3al.xn--jxalpdlp/",
            "παράδειγμα.δοκιμή",
            ("Greek",),
            False,
        ),
    ],
)
def test_describe_host_gives_unicode_and_scripts(url, unicode, scripts, mixed):
    host = describe_host(url)
    assert host.unicode == unicode
    assert host.scripts == scripts
    assert host.mixed_scripts is mixed


@pytest.mark.parametrize(
    "url", ["https://example.com/", "http://192.0.2.1/", "http://[2001:db8::1]/"]
)
def test_plain_ascii_hosts_need_no_description(url):
    assert describe_host(url) is None


# --- every way in stores punycode --------------------------------------------


def test_api_create_and_update_store_punycode(api):
    response = api.post("/api/links", {"target_url": LOOKALIKE}, format="json")
    assert response.status_code == 201
    assert response.json()["target_url"] == LOOKALIKE_ASCII
    code = response.json()["short_code"]
    response = api.patch(
        f"/api/links/{code}", {"target_url": "https://faß.de/"}, format="json"
    )
    assert response.json()["target_url"] == "https://xn--fa-hia.de/"
    assert Link.objects.get().target_url == "https://xn--fa-hia.de/"


def test_bulk_stores_punycode(api):
    response = api.post("/api/links/bulk", [{"target_url": LOOKALIKE}], format="json")
    assert response.status_code == 207
    assert Link.objects.get().target_url == LOOKALIKE_ASCII


def test_web_ui_stores_punycode(client, user):
    client.force_login(user)
    client.post("/links/", {"target_url": LOOKALIKE, "short_code": "idn"})
    assert Link.objects.get().target_url == LOOKALIKE_ASCII
    client.post("/links/idn/edit/", {"target_url": "https://faß.de/"})
    assert Link.objects.get().target_url == "https://xn--fa-hia.de/"


def test_admin_stores_punycode(admin_client):
    admin_client.post(ADD, add_form_data(short_code="idn", target_url=LOOKALIKE))
    assert Link.objects.get().target_url == LOOKALIKE_ASCII


def test_create_link_and_import_store_punycode(db, tmp_path):
    Link.objects.create_link(target_url=LOOKALIKE, short_code="direct")
    path = write_csv(tmp_path / "links.csv", f"{LOOKALIKE},imported")
    run("import_links", path)
    assert set(Link.objects.values_list("target_url", flat=True)) == {LOOKALIKE_ASCII}


# --- the redirect ------------------------------------------------------------


def test_a_link_stored_in_unicode_redirects_to_punycode(client, db):
    # Saved before the rule, without validation.
    Link.objects.create(short_code="old", target_url="http://аррӏе.com/päth?q=ä")
    response = client.get("/old")
    assert response.status_code == 302
    assert response["Location"] == "http://xn--80ak6aa92e.com/p%C3%A4th?q=%C3%A4"


# --- the web UI and the admin show the Unicode and warn ----------------------

WARNING = "Mixed scripts (Cyrillic + Latin)"


def test_list_and_detail_pages_show_unicode_and_warn(client, user):
    client.force_login(user)
    Link.objects.create_link(target_url=LOOKALIKE, short_code="look", owner=user)
    Link.objects.create_link(
        target_url="https://bücher.example/", short_code="books", owner=user
    )
    for path in ("/links/", "/links/look/"):
        page = client.get(path).content.decode()
        assert LOOKALIKE_ASCII in page
        assert "аррӏе.com" in page
        assert WARNING in page
    detail = client.get("/links/books/").content.decode()
    assert "bücher.example" in detail
    assert "Mixed scripts" not in detail


def test_admin_list_and_change_pages_show_unicode_and_warn(admin_client):
    link = Link.objects.create_link(target_url=LOOKALIKE, short_code="look")
    for path in (CHANGELIST, change_url(link)):
        page = admin_client.get(path).content.decode()
        assert "аррӏе.com" in page
        assert WARNING in page


def test_the_unicode_form_is_escaped(client, user):
    # A label cannot hold markup (IDNA refuses "<"), but a stored one could.
    client.force_login(user)
    Link.objects.create(
        short_code="xss", owner=user, target_url="http://xn--80ak6aa92e.com/<b>"
    )
    page = client.get("/links/xss/").content.decode()
    assert "<b>" not in page
