"""The links admin in a real browser: search, filter by state, an action."""

import re
from datetime import timedelta

import pytest
from django.conf import global_settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from links.models import Link

pytestmark = pytest.mark.slow
PASSWORD = "correct horse 9"


@pytest.fixture
def staff(transactional_db, settings):
    # The server checks passwords with the real hashers.
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    return get_user_model().objects.create_superuser("root", password=PASSWORD)


def test_admin_search_filter_and_deactivate(page, staff):
    Link.objects.create(short_code="alpha", target_url="https://example.com/a")
    Link.objects.create(short_code="beta", target_url="https://example.org/needle")
    Link.objects.create(
        short_code="old",
        target_url="https://example.com/o",
        expires_at=timezone.now() - timedelta(days=1),
    )
    page.goto("/admin/login/?next=/admin/links/link/")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/admin/links/link/$"))
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 3

    page.locator("#searchbar").fill("needle")
    page.locator("#changelist-search input[type=submit]").click()
    page.wait_for_url(re.compile(r"q=needle"))
    assert rows.count() == 1
    assert "beta" in rows.first.inner_text()

    page.goto("/admin/links/link/")
    page.locator("#changelist-filter").get_by_role("link", name="expired").click()
    page.wait_for_url(re.compile(r"state=expired"))
    assert rows.count() == 1
    assert "old" in rows.first.inner_text()

    page.goto("/admin/links/link/?q=alpha")
    rows.first.locator("input.action-select").check()
    page.locator("select[name=action]").select_option(label="Deactivate selected links")
    page.get_by_role("button", name="Go").click()
    page.wait_for_selector("text=Deactivated 1 link(s).")
    assert Link.objects.get(short_code="alpha").is_active is False
    assert page.goto("/alpha").status == 410


# --- item 10 of issue 15: the change list fits a laptop screen ----------------------

LONG_TARGET = (
    "https://example.com/" + "a-very-long-path-segment/" * 8 + "?q=" + "x" * 60
)
FIT_HEADERS = ["state", "expires", "created"]
MAX_ACTION_SELECT_PX = 320

# The table sits in a box that scrolls sideways (div.results): its right edge
# must be inside that box as well as inside the window.
_LAYOUT = """() => {
    const table = document.querySelector("#result_list");
    const box = table.closest(".results").getBoundingClientRect();
    const headers = {};
    for (const th of table.querySelectorAll("thead th")) {
        const edges = th.getBoundingClientRect();
        headers[th.innerText.trim().toLowerCase()] =
            {left: edges.left, right: edges.right};
    }
    return {
        innerWidth: window.innerWidth,
        scrollWidth: document.documentElement.scrollWidth,
        visibleRight: Math.min(window.innerWidth, box.right),
        tableRight: table.getBoundingClientRect().right,
        selectWidth: document.querySelector("select[name=action]")
            .getBoundingClientRect().width,
        headers: headers,
    };
}"""


def _sign_in(page, next_path):
    page.goto(f"/admin/login/?next={next_path}")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(re.escape(next_path) + "$"))


@pytest.mark.parametrize("width", [1280, 1920])
def test_item10_links_change_list_fits_the_screen(page, staff, width):
    owner = get_user_model().objects.create_user("a-rather-long-user-name-for-lists")
    for n in range(5):
        Link.objects.create(
            short_code=f"{n}-" + "long-code" * 6,
            target_url=f"{LONG_TARGET}{n}",
            owner=owner,
            max_clicks=1000,
            expires_at=timezone.now() + timedelta(days=30),
        )
    page.set_viewport_size({"width": width, "height": 800})
    _sign_in(page, "/admin/links/link/")
    layout = page.evaluate(_LAYOUT)
    assert layout["scrollWidth"] <= layout["innerWidth"], layout
    assert layout["tableRight"] <= layout["visibleRight"], layout
    for name in FIT_HEADERS:
        header = next(
            edges for text, edges in layout["headers"].items() if text.startswith(name)
        )
        assert 0 <= header["left"] < header["right"] <= layout["visibleRight"], (
            name,
            layout,
        )
    assert layout["selectWidth"] < MAX_ACTION_SELECT_PX, layout
    # A truncated target keeps the whole URL in its title.
    first_target = page.locator("#result_list td.field-target span[title]").first
    assert first_target.get_attribute("title").startswith(LONG_TARGET)


# --- item 14 of issue 15 (part): the admin is branded TinyLink -----------------------


def test_item14_admin_login_and_index_say_tinylink(page, staff):
    page.goto("/admin/login/")
    assert page.title() == "Log in | TinyLink admin"
    assert page.locator("#site-name").inner_text() == "TinyLink administration"
    _sign_in(page, "/admin/")
    assert page.title() == "Dashboard | TinyLink admin"
    assert page.locator("#site-name").inner_text() == "TinyLink administration"
    assert page.locator("#content h1").inner_text() == "Dashboard"
