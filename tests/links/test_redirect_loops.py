"""Targets on this server are refused on every way in, and never followed.

Every way a link comes in (API create, update and bulk; the web UI's create
and edit forms; the admin's add and change forms; `import_links`) goes
through links.targets.validate_target_url, and the redirect refuses a stored
link that points back here (one saved before the rule) with a 410.
"""

import pytest
from django.db.models import Sum

from links.models import Link
from tests.links.admin_helpers import ADD, add_form_data, change_url, make_link
from tests.links.api_helpers import assert_envelope, make
from tests.links.import_helpers import run_failing, write_csv

JSON = {"HTTP_ACCEPT": "application/json"}
HTML = {"HTTP_ACCEPT": "text/html,application/xhtml+xml,*/*;q=0.8"}

# One name of each kind: an ALLOWED_HOSTS entry, a subdomain of a wildcard
# entry, PUBLIC_BASE_URL on another port, loopback and unspecified
# addresses in several spellings.
REFUSED = [
    "https://sho.rt/elsewhere",
    "https://www.tinylink.example/x",
    "http://public.example:8443/x",
    "http://localhost:8000/x",
    "http://127.0.0.2/x",
    "http://[::1]/x",
    "http://[::ffff:127.0.0.1]/x",
    "http://0.0.0.0/x",
]


@pytest.fixture(autouse=True)
def _server_names(settings):
    settings.ALLOWED_HOSTS = ["testserver", "sho.rt", ".tinylink.example"]
    settings.PUBLIC_BASE_URL = "https://public.example"
    settings.RATE_LIMIT_WRITES = ""
    settings.RATE_LIMIT_REDIRECTS = ""


# --- the ways in --------------------------------------------------------------


@pytest.mark.parametrize("url", REFUSED)
def test_api_create_refuses_a_target_on_this_server(api, url):
    response = api.post("/api/links", {"target_url": url}, format="json")
    error = assert_envelope(response, 400, "validation_error")
    assert list(error["details"]) == ["target_url"]
    assert not Link.objects.exists()


@pytest.mark.parametrize("url", REFUSED)
def test_api_update_refuses_a_target_on_this_server(api, user, url):
    make("mine", user)
    response = api.patch("/api/links/mine", {"target_url": url}, format="json")
    assert_envelope(response, 400, "validation_error")
    assert Link.objects.get().target_url == "https://example.com/mine"


def test_bulk_refuses_each_target_on_this_server(api):
    items = [{"target_url": url} for url in REFUSED]
    items.append({"target_url": "https://example.com/fine"})
    response = api.post("/api/links/bulk", items, format="json")
    assert response.status_code == 207
    results = response.json()["results"]
    assert [r["status"] for r in results] == [400] * len(REFUSED) + [201]
    assert all("target_url" in r["error"]["details"] for r in results[:-1])
    assert list(Link.objects.values_list("target_url", flat=True)) == [
        "https://example.com/fine"
    ]


@pytest.mark.parametrize("url", REFUSED)
def test_web_ui_create_form_refuses_a_target_on_this_server(client, user, url):
    client.force_login(user)
    response = client.post("/links/", {"target_url": url})
    assert response.status_code == 400
    assert "target_url" in response.context["form"].errors
    assert not Link.objects.exists()


@pytest.mark.parametrize("url", REFUSED)
def test_web_ui_edit_form_refuses_a_target_on_this_server(client, user, url):
    client.force_login(user)
    make("mine", user)
    response = client.post("/links/mine/edit/", {"target_url": url, "is_active": "on"})
    assert response.status_code == 400
    assert "target_url" in response.context["form"].errors
    assert Link.objects.get().target_url == "https://example.com/mine"


@pytest.mark.parametrize("url", REFUSED)
def test_admin_add_form_refuses_a_target_on_this_server(admin_client, url):
    response = admin_client.post(ADD, add_form_data(target_url=url))
    assert response.status_code == 200
    assert "target_url" in response.context["adminform"].form.errors
    assert not Link.objects.exists()


@pytest.mark.parametrize("url", REFUSED)
def test_admin_change_form_refuses_a_target_on_this_server(admin_client, url):
    link = make_link("kept")
    response = admin_client.post(
        change_url(link), add_form_data(short_code="kept", target_url=url)
    )
    assert response.status_code == 200
    assert "target_url" in response.context["adminform"].form.errors
    link.refresh_from_db()
    assert link.target_url == "https://example.com/kept"


def test_import_links_refuses_targets_on_this_server(db, tmp_path):
    rows = [f"{url},code{n}" for n, url in enumerate(REFUSED)]
    path = write_csv(tmp_path / "links.csv", *rows, "https://example.com/ok,ok")
    output, error = run_failing("import_links", path)
    assert f"{len(REFUSED)} invalid rows" in error
    assert f"created 1, existed 0, invalid {len(REFUSED)}" in output.out
    assert output.err.count("target_url:") == len(REFUSED)
    assert list(Link.objects.values_list("short_code", flat=True)) == ["ok"]


# --- the redirect -------------------------------------------------------------


def stored_before_the_rule(code, target_url):
    # objects.create() skips validation, as the rule did not exist then.
    return Link.objects.create(short_code=code, target_url=target_url)


@pytest.mark.parametrize(
    "target",
    [
        *REFUSED,
        "http://testserver/other",
        "http://2130706433/x",
        "http://0x7f.1/x",
        "http://127.1/x",
    ],
)
def test_a_stored_link_to_this_server_answers_410_instead_of_redirecting(
    client, db, target
):
    link = stored_before_the_rule("loop", target)
    response = client.get("/loop", **JSON)
    error = assert_envelope(response, 410, "gone")
    assert error["details"] == {"short_code": "loop", "reason": "redirect_loop"}
    assert "Location" not in response
    link.refresh_from_db()
    assert link.click_count == 0
    assert not link.daily_clicks.exists()


def test_browsers_get_a_page_that_says_why(client, db):
    stored_before_the_rule("loop", "http://localhost/x")
    response = client.get("/loop", **HTML)
    assert response.status_code == 410
    page = response.content.decode()
    assert "points back at this TinyLink" in page
    assert "Location" not in response


def test_head_is_refused_like_get(client, db):
    stored_before_the_rule("loop", "http://localhost/x")
    assert client.head("/loop").status_code == 410


def test_a_two_link_loop_is_not_followed(client, db):
    # Two links that point at each other through another name of this server.
    stored_before_the_rule("ping", "http://sho.rt/pong")
    stored_before_the_rule("pong", "http://www.tinylink.example/ping")
    for code in ("ping", "pong"):
        assert client.get(f"/{code}").status_code == 410
    assert Link.objects.aggregate(clicks=Sum("click_count"))["clicks"] == 0


def test_an_ordinary_link_still_redirects(client, db):
    stored_before_the_rule("fine", "https://example.com/x")
    response = client.get("/fine")
    assert response.status_code == 302
    assert response["Location"] == "https://example.com/x"
