import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from links import admin_changelist
from links.models import Link, LinkDailyClicks
from links.templatetags.link_admin import CACHE_KEY
from tests.links.admin_helpers import (
    CHANGELIST,
    make_link,
)
from tests.outages import DEAD_REDIS

pytestmark = pytest.mark.usefixtures("_fresh_summary")


def test_admin_index_shows_the_link_summary(admin_client, db, frozen_now):
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


def test_admin_index_works_and_counts_when_the_cache_is_down(admin_client, db):
    make_link("one")
    with override_settings(CACHES=DEAD_REDIS):
        response = admin_client.get("/admin/")
    assert response.status_code == 200
    assert 'id="link-summary-active">1<' in response.text


def test_admin_index_hides_the_summary_without_link_permission(client, db):
    from django.contrib.auth import get_user_model

    staff = get_user_model().objects.create_user("staff", is_staff=True)
    client.force_login(staff)
    response = client.get("/admin/")
    assert response.status_code == 200
    assert "link-summary" not in response.text


def test_admin_index_groups_thousands_in_the_summary(admin_client, db, frozen_now):
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
    estimate = Link.objects.planner_estimate()
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
