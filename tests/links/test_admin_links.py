import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.links.admin_helpers import (
    CHANGELIST,
    listed_codes,
    make_link,
)

pytestmark = pytest.mark.usefixtures("_fresh_summary")


def test_changelist_shows_truncated_target_with_full_url_in_title(admin_client):
    long_target = "https://example.com/" + "x" * 100
    make_link("longone", target_url=long_target, click_count=42)
    response = admin_client.get(CHANGELIST)
    content = response.content.decode()
    assert f'title="{long_target}"' in content
    shown = re.search(r'<span title="[^"]+">([^<]+)</span>', content).group(1)
    assert len(shown) == 48
    assert shown.endswith("…")
    assert '<td class="field-clicks">42</td>' in content


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


def test_item10_changelist_dates_wrap_with_the_full_time_in_the_title(admin_client):
    expiry = datetime(2031, 5, 4, 3, 2, 1, tzinfo=UTC)
    make_link("dated", expires_at=expiry)
    content = admin_client.get(CHANGELIST).content.decode()
    assert (
        '<td class="field-expires"><time class="tinylink-when" '
        'datetime="2031-05-04T03:02:01+00:00" title="2031-05-04 03:02:01 UTC">'
        "<span>2031-05-04</span> <span>03:02</span></time></td>"
    ) in content


def test_item10_action_labels_are_short(admin_client, db):
    make_link("one")
    response = admin_client.get(CHANGELIST)
    labels = [
        label for _, label in response.context["action_form"].fields["action"].choices
    ]
    assert "Extend expiry by 30 days" in labels
    assert max(len(label) for label in labels) <= 30, labels
