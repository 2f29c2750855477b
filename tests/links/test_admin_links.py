import csv
import html
import io
import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from links import admin as links_admin
from links import admin_changelist
from links.exports import EXPORT_HEADER
from links.models import Link, LinkDailyClicks
from links.templatetags.link_admin import CACHE_KEY

CHANGELIST = "/admin/links/link/"
ADD = "/admin/links/link/add/"


def change_url(link):
    return f"/admin/links/link/{link.pk}/change/"


def make_link(code, **fields):
    fields.setdefault("target_url", f"https://example.com/{code}")
    return Link.objects.create(short_code=code, **fields)


def listed_codes(response):
    assert response.status_code == 200
    return sorted(link.short_code for link in response.context["cl"].result_list)


def add_form_data(**overrides):
    data = {
        "short_code": "fresh",
        "target_url": "https://example.com/fresh",
        "owner": "",
        "is_active": "on",
        "expires_at_0": "",
        "expires_at_1": "",
        "max_clicks": "",
    }
    data.update(overrides)
    return data


def run_action(client, action, links, **extra):
    return client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [link.pk for link in links], **extra},
    )


@pytest.fixture(autouse=True)
def _fresh_summary():
    # The admin index's summary is cached for a minute.
    cache.delete(CACHE_KEY)
    yield
    cache.delete(CACHE_KEY)


@pytest.fixture
def states(db):
    """One link in each state, keyed by state."""
    now = timezone.now()
    return {
        "active": make_link("act1"),
        "expired": make_link("exp1", expires_at=now - timedelta(hours=1)),
        "exhausted": make_link("exh1", max_clicks=3, click_count=3),
        "inactive": make_link("ina1", is_active=False),
    }


# --- the change list ---------------------------------------------------------


def test_changelist_shows_truncated_target_with_full_url_in_title(admin_client):
    long_target = "https://example.com/" + "x" * 100
    make_link("longone", target_url=long_target, click_count=42)
    response = admin_client.get(CHANGELIST)
    content = response.content.decode()
    assert f'title="{long_target}"' in content
    shown = re.search(r'<span title="[^"]+">([^<]+)</span>', content).group(1)
    assert len(shown) == 60
    assert shown.endswith("…")
    assert '<td class="field-click_count">42</td>' in content


def test_changelist_shows_the_state_of_each_link(admin_client, states):
    content = admin_client.get(CHANGELIST).content.decode()
    for state in ("Active", "Expired", "Exhausted", "Inactive"):
        assert f'<td class="field-state">{state}</td>' in content


def test_changelist_is_newest_first(admin_client, db):
    now = timezone.now()
    make_link("old", created_at=now - timedelta(days=2))
    make_link("new", created_at=now)
    make_link("mid", created_at=now - timedelta(days=1))
    response = admin_client.get(CHANGELIST)
    assert [link.short_code for link in response.context["cl"].result_list] == [
        "new",
        "mid",
        "old",
    ]


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        ("6", ["expires_at", "pk"]),
        ("-6", ["-expires_at", "-pk"]),
        ("-4", ["-click_count", "-pk"]),
    ],
)
def test_changelist_breaks_ties_in_the_direction_of_the_sort(
    admin_client, db, column, expected
):
    make_link("one")
    response = admin_client.get(CHANGELIST, {"o": column})
    assert list(response.context["cl"].queryset.query.order_by) == expected


def test_changelist_query_count_does_not_grow_with_owners(
    admin_client, django_user_model
):
    def owned_links(start):
        for n in range(start, start + 5):
            owner = django_user_model.objects.create_user(f"user{n}")
            make_link(f"code{n}", owner=owner)

    owned_links(0)
    with CaptureQueriesContext(connection) as few:
        admin_client.get(CHANGELIST)
    owned_links(5)
    with CaptureQueriesContext(connection) as more:
        response = admin_client.get(CHANGELIST)
    assert len(listed_codes(response)) == 10
    assert len(more) == len(few)


def test_search_finds_links_by_code(admin_client, db):
    make_link("promo-2026", target_url="https://example.com/a")
    make_link("other", target_url="https://example.com/b")
    assert listed_codes(admin_client.get(CHANGELIST, {"q": "PROMO"})) == ["promo-2026"]


def test_search_finds_links_by_target(admin_client, db):
    make_link("a1", target_url="https://docs.example.org/guide")
    make_link("b1", target_url="https://example.com/shop")
    assert listed_codes(admin_client.get(CHANGELIST, {"q": "docs.example"})) == ["a1"]


def test_search_finds_links_by_exact_owner_user_name(admin_client, user, other_user):
    make_link("a-own", owner=user)
    make_link("b-own", owner=other_user)
    make_link("c-wonder", target_url="https://example.com/alice-in-target")
    assert listed_codes(admin_client.get(CHANGELIST, {"q": "alice"})) == [
        "a-own",
        "c-wonder",
    ]
    # Exact, as user names are: "Alice" or "ali" find the target only.
    assert listed_codes(admin_client.get(CHANGELIST, {"q": "Alice"})) == ["c-wonder"]
    assert listed_codes(admin_client.get(CHANGELIST, {"q": "ali"})) == ["c-wonder"]
    assert listed_codes(admin_client.get(CHANGELIST, {"q": "bob"})) == ["b-own"]


def test_search_by_user_name_keeps_the_other_filters(admin_client, user):
    make_link("a-on", owner=user)
    make_link("a-off", owner=user, is_active=False)
    response = admin_client.get(CHANGELIST, {"q": "alice", "state": "inactive"})
    assert listed_codes(response) == ["a-off"]


def test_search_joins_no_user_table(admin_client, user):
    make_link("a-own", owner=user)
    with CaptureQueriesContext(connection) as queries:
        admin_client.get(CHANGELIST, {"q": "alice"})
    searches = [q["sql"] for q in queries if "LIKE" in q["sql"].upper()]
    assert len(searches) == 2  # the page and its count
    # The page still selects its owners; only the search condition must not
    # need them.
    conditions = [sql.split(" WHERE ", 1)[1] for sql in searches]
    assert all("auth_user" not in condition for condition in conditions)


@pytest.mark.parametrize("state", ["active", "expired", "exhausted", "inactive"])
def test_state_filter_lists_only_links_in_that_state(admin_client, states, state):
    response = admin_client.get(CHANGELIST, {"state": state})
    assert listed_codes(response) == [states[state].short_code]


def test_owner_filter_mine_any_none_and_one_owner(
    admin_client, admin_user, user, other_user
):
    make_link("mine", owner=admin_user)
    make_link("alices", owner=user)
    make_link("bobs", owner=other_user)
    make_link("nobodys")
    assert listed_codes(admin_client.get(CHANGELIST, {"owner": "mine"})) == ["mine"]
    assert listed_codes(admin_client.get(CHANGELIST, {"owner": "any"})) == [
        "alices",
        "bobs",
        "mine",
    ]
    assert listed_codes(admin_client.get(CHANGELIST, {"owner": "none"})) == ["nobodys"]
    one = admin_client.get(CHANGELIST, {"owner": str(user.pk)})
    assert listed_codes(one) == ["alices"]


def test_owner_column_links_to_that_owners_links(admin_client, user):
    make_link("alices", owner=user)
    content = admin_client.get(CHANGELIST).content.decode()
    assert f'<a href="?owner={user.pk}"' in content
    selected = admin_client.get(CHANGELIST, {"owner": str(user.pk)})
    # The selected owner is named in the sidebar.
    assert re.search(r'class="selected">\s*<a href="[^"]*">alice</a>', selected.text)


def test_owner_filter_does_not_list_every_user(admin_client, django_user_model):
    for n in range(3):
        django_user_model.objects.create_user(f"unlisted{n}")
    content = admin_client.get(CHANGELIST).content.decode()
    assert "unlisted" not in content


def test_created_date_filter_past_7_days(admin_client, db):
    now = timezone.now()
    make_link("today", created_at=now)
    make_link("lastweek", created_at=now - timedelta(days=3))
    make_link("lastmonth", created_at=now - timedelta(days=40))
    page = admin_client.get(CHANGELIST).content.decode()
    href = re.search(r'<a href="(\?created_at__gte=[^"]+)">Past 7 days</a>', page)
    response = admin_client.get(CHANGELIST + html.unescape(href.group(1)))
    assert listed_codes(response) == ["lastweek", "today"]


def test_changelist_does_not_offer_date_hierarchy_or_facets(admin_client, db):
    make_link("one")
    response = admin_client.get(CHANGELIST, {"_facets": "True"})
    assert response.context["cl"].date_hierarchy is None
    assert response.context["cl"].add_facets is False


# --- actions -------------------------------------------------------------------


def test_delete_action_asks_for_confirmation_within_the_limit(
    admin_client, db, monkeypatch
):
    monkeypatch.setattr(links_admin, "BULK_DELETE_LIMIT", 2)
    first, second = make_link("one"), make_link("two")
    response = run_action(admin_client, "delete_selected", [first, second])
    assert response.status_code == 200
    assert "<title>Delete multiple objects" in response.text
    response = run_action(admin_client, "delete_selected", [first, second], post="yes")
    assert response.status_code == 302
    assert not Link.objects.exists()


def test_delete_action_refuses_more_links_than_the_limit(admin_client, db, monkeypatch):
    monkeypatch.setattr(links_admin, "BULK_DELETE_LIMIT", 2)
    links = [make_link("one"), make_link("two"), make_link("three")]
    response = run_action(admin_client, "delete_selected", links)
    assert response.status_code == 302
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == [
        "Delete at most 2 links at a time; narrow the selection with a filter "
        "or a search first."
    ]
    assert Link.objects.count() == 3


def test_deactivate_and_activate_actions(admin_client, db):
    first, second, untouched = make_link("one"), make_link("two"), make_link("three")
    response = run_action(admin_client, "deactivate", [first, second])
    assert response.status_code == 302
    assert list(Link.objects.inactive().order_by("short_code")) == [first, second]
    run_action(admin_client, "activate", [first])
    assert list(Link.objects.inactive()) == [second]
    untouched.refresh_from_db()
    assert untouched.is_active


def test_deactivate_reports_how_many_links_changed(admin_client, db):
    active, inactive = make_link("one"), make_link("two", is_active=False)
    response = run_action(admin_client, "deactivate", [active, inactive])
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == ["Deactivated 1 link(s)."]


@pytest.mark.parametrize(
    ("action", "days"),
    [("extend_expiry_7_days", 7), ("extend_expiry_30_days", 30)],
)
def test_extend_expiry_adds_days_to_a_running_expiry(admin_client, db, action, days):
    expires = timezone.now() + timedelta(days=2)
    link = make_link("running", expires_at=expires)
    run_action(admin_client, action, [link])
    link.refresh_from_db()
    assert link.expires_at == expires + timedelta(days=days)


@pytest.mark.parametrize(
    ("action", "days"),
    [("extend_expiry_7_days", 7), ("extend_expiry_30_days", 30)],
)
def test_extend_expiry_of_an_expired_link_counts_from_now(
    admin_client, db, action, days
):
    link = make_link("gone", expires_at=timezone.now() - timedelta(days=100))
    before = timezone.now()
    run_action(admin_client, action, [link])
    after = timezone.now()
    link.refresh_from_db()
    assert before + timedelta(days=days) <= link.expires_at
    assert link.expires_at <= after + timedelta(days=days)
    assert not link.is_expired()


def test_extend_expiry_leaves_links_without_expiry_unchanged(admin_client, db):
    forever = make_link("forever")
    run_action(admin_client, "extend_expiry_7_days", [forever])
    forever.refresh_from_db()
    assert forever.expires_at is None


def test_export_csv_streams_exactly_the_selected_links(admin_client, db):
    created = timezone.now().replace(microsecond=0)
    chosen = make_link(
        "chosen",
        target_url="https://example.com/=sum",
        created_at=created,
        click_count=7,
    )
    also = make_link("also")
    make_link("notme")
    response = run_action(admin_client, "export_csv", [chosen, also])
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment;")
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0] == EXPORT_HEADER
    assert [row[0] for row in rows[1:]] == ["chosen", "also"]
    assert rows[1] == [
        "chosen",
        "http://testserver/chosen",
        "https://example.com/=sum",
        created.isoformat(),
        "",
        "",
        "7",
        "",
        "true",
    ]


# --- the change page -----------------------------------------------------------


def test_change_page_shows_30_day_chart_and_statistics(admin_client, db):
    link = make_link("stats", click_count=12)
    today = timezone.now().date()
    LinkDailyClicks.objects.create(link=link, day=today, clicks=9)
    LinkDailyClicks.objects.create(link=link, day=today - timedelta(days=3), clicks=3)
    LinkDailyClicks.objects.create(link=link, day=today - timedelta(days=30), clicks=50)
    content = admin_client.get(change_url(link)).content.decode()
    svg = re.search(r"<svg class=\"chart\".*?</svg>", content, re.S).group(0)
    assert svg.count("<rect") == 30
    # The day 30 days ago is outside the chart's window.
    assert f"12 clicks from {today - timedelta(days=29)} to {today}" in svg
    assert f"{today}: 9 clicks" in svg
    assert "css/admin-links.css" in content


def test_change_page_shows_the_qr_code_from_the_api(admin_client, db):
    link = make_link("qrme")
    content = admin_client.get(change_url(link)).content.decode()
    assert '<img class="tinylink-qr" src="/api/links/qrme/qr?size=200"' in content
    assert 'href="/api/links/qrme/qr?size=512" download="qrme.png"' in content
    assert 'href="/api/links/qrme/qr?format=svg" download="qrme.svg"' in content
    # The admin's session is enough for the image it points at.
    image = admin_client.get("/api/links/qrme/qr", {"size": "200"})
    assert image.status_code == 200
    assert image["Content-Type"] == "image/png"


def test_short_code_is_read_only_on_the_change_page(admin_client, db):
    link = make_link("keepme")
    page = admin_client.get(change_url(link)).content.decode()
    assert 'name="short_code"' not in page
    assert 'name="target_url"' in page
    response = admin_client.post(
        change_url(link),
        add_form_data(short_code="changed", target_url="https://example.com/new"),
    )
    assert response.status_code == 302
    link.refresh_from_db()
    assert (link.short_code, link.target_url) == ("keepme", "https://example.com/new")


def test_counters_are_read_only_on_the_change_page(admin_client, db):
    link = make_link("counted", click_count=5)
    admin_client.post(change_url(link), add_form_data(click_count="999"))
    link.refresh_from_db()
    assert link.click_count == 5
    page = admin_client.get(change_url(link)).content.decode()
    assert 'name="click_count"' not in page
    assert 'name="last_access_at"' not in page


def test_add_page_creates_a_link_with_a_custom_code(admin_client, db):
    assert 'name="short_code"' in admin_client.get(ADD).content.decode()
    response = admin_client.post(ADD, add_form_data())
    assert response.status_code == 302
    link = Link.objects.get()
    assert (link.short_code, link.target_url) == (
        "fresh",
        "https://example.com/fresh",
    )


def test_add_form_refuses_a_javascript_url_with_a_visible_error(admin_client, db):
    response = admin_client.post(ADD, add_form_data(target_url="javascript:alert(1)"))
    assert response.status_code == 200
    assert "Only http:// and https:// URLs can be shortened" in response.text
    assert not Link.objects.exists()


def test_add_form_refuses_a_reserved_code_with_a_visible_error(admin_client, db):
    response = admin_client.post(ADD, add_form_data(short_code="Admin"))
    assert response.status_code == 200
    assert "&#x27;Admin&#x27; is reserved for TinyLink" in response.text
    assert not Link.objects.exists()


def test_add_form_refuses_a_target_on_the_admins_own_host(admin_client, db, settings):
    settings.ALLOWED_HOSTS = ["sho.example.com"]
    settings.PUBLIC_BASE_URL = ""
    response = admin_client.post(
        ADD,
        add_form_data(target_url="https://sho.example.com/loop"),
        HTTP_HOST="sho.example.com",
    )
    assert response.status_code == 200
    assert "redirect loop" in response.text
    assert not Link.objects.exists()


def test_change_form_refuses_a_javascript_url(admin_client, db):
    link = make_link("safe")
    response = admin_client.post(
        change_url(link), add_form_data(target_url="javascript:alert(1)")
    )
    assert response.status_code == 200
    assert "Only http:// and https:// URLs can be shortened" in response.text
    link.refresh_from_db()
    assert link.target_url == "https://example.com/safe"


# --- the admin index -------------------------------------------------------------


def test_admin_index_shows_the_link_summary(admin_client, db):
    now = timezone.now()
    today = now.date()
    first, second = make_link("one"), make_link("two")
    make_link("off", is_active=False)
    make_link("old", expires_at=now - timedelta(days=1))
    for link, day, clicks in [
        (first, today, 5),
        (second, today, 3),
        (first, today - timedelta(days=6), 4),
        (first, today - timedelta(days=7), 100),
    ]:
        LinkDailyClicks.objects.create(link=link, day=day, clicks=clicks)
    content = admin_client.get("/admin/").content.decode()

    def shown(name):
        return re.search(rf'id="link-summary-{name}">([^<]*)<', content).group(1)

    assert shown("total") == "4"
    assert shown("active") == "2"
    assert shown("clicks-today") == "8"
    assert shown("clicks-week") == "12"


def test_admin_index_summary_is_counted_once_a_minute(admin_client, db):
    make_link("one")
    first = admin_client.get("/admin/").content.decode()
    assert 'id="link-summary-active">1<' in first
    make_link("two")
    with CaptureQueriesContext(connection) as queries:
        second = admin_client.get("/admin/").content.decode()
    assert 'id="link-summary-active">1<' in second
    assert not [q for q in queries if "links_link" in q["sql"]]
    cache.delete(CACHE_KEY)
    assert 'id="link-summary-active">2<' in admin_client.get("/admin/").text


def test_admin_index_hides_the_summary_without_link_permission(client, db):
    from django.contrib.auth import get_user_model

    staff = get_user_model().objects.create_user("staff", is_staff=True)
    client.force_login(staff)
    response = client.get("/admin/")
    assert response.status_code == 200
    assert "link-summary" not in response.text


def test_admin_index_groups_thousands_in_the_summary(admin_client, db):
    link = make_link("busy")
    LinkDailyClicks.objects.create(link=link, day=timezone.now().date(), clicks=12345)
    content = admin_client.get("/admin/").content.decode()
    assert 'id="link-summary-clicks-today">12,345<' in content


# --- counting without COUNT(*) -----------------------------------------------------


def _unfiltered_counts(queries):
    return [
        q["sql"]
        for q in queries
        if re.search(r"SELECT COUNT\(\*\)", q["sql"], re.I)
        and '"links_link"' in q["sql"]
        and " WHERE " not in q["sql"].upper()
    ]


@pytest.fixture
def analysed_links(db, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip(
            "The estimate comes from PostgreSQL's pg_class.reltuples; SQLite has "
            "no maintained row estimate, so it always counts exactly."
        )
    for n in range(3):
        make_link(f"est{n}", is_active=n != 0)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE links_link")
    monkeypatch.setattr(admin_changelist, "ESTIMATE_THRESHOLD", 1)


def test_changelist_uses_the_estimate_instead_of_counting_the_table(
    admin_client, analysed_links
):
    estimate = admin_changelist.estimated_row_count(Link)
    assert estimate == 3
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    assert response.context["cl"].result_count == estimate
    assert _unfiltered_counts(queries.captured_queries) == []
    assert any("pg_class" in q["sql"] for q in queries.captured_queries)


def test_filtered_changelist_counts_exactly_while_the_estimate_is_active(
    admin_client, analysed_links
):
    response = admin_client.get(CHANGELIST, {"state": "inactive"})
    assert response.context["cl"].result_count == 1


def test_admin_index_says_about_when_the_total_is_an_estimate(
    admin_client, analysed_links
):
    content = admin_client.get("/admin/").content.decode()
    assert 'id="link-summary-total">about 3<' in content


def test_changelist_counts_exactly_below_the_threshold(admin_client, db):
    for n in range(3):
        make_link(f"few{n}")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE links_link")
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(CHANGELIST)
    assert response.context["cl"].result_count == 3
    assert len(_unfiltered_counts(queries.captured_queries)) == 1
