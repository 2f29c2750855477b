import threading
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Count
from django.utils import timezone

from links import models as link_models
from links.models import Link, LinkDailyClicks, LinkState, ShortCodeTaken

NOW = timezone.now()


def make(code, **fields):
    return Link.objects.create(
        short_code=code, target_url="https://example.com/", **fields
    )


@pytest.fixture
def one_of_each(db):
    return {
        "active": make("act", expires_at=NOW + timedelta(days=1), max_clicks=5),
        "plain": make("plain"),
        "expired": make("exp", expires_at=NOW - timedelta(seconds=1)),
        "exhausted": make("exh", max_clicks=2, click_count=2),
        "inactive": make("off", is_active=False, expires_at=NOW - timedelta(days=1)),
        "expired_and_exhausted": make(
            "both", expires_at=NOW - timedelta(days=1), max_clicks=1, click_count=1
        ),
    }


def test_state_of_each_link(one_of_each):
    states = {name: link.state_at(NOW) for name, link in one_of_each.items()}
    assert states == {
        "active": LinkState.ACTIVE,
        "plain": LinkState.ACTIVE,
        "expired": LinkState.EXPIRED,
        "exhausted": LinkState.EXHAUSTED,
        "inactive": LinkState.INACTIVE,
        "expired_and_exhausted": LinkState.EXPIRED,
    }


def test_queryset_states_partition_links_like_the_model(one_of_each):
    by_queryset = {}
    for state in LinkState:
        for code in Link.objects.in_state(state, NOW).values_list(
            "short_code", flat=True
        ):
            assert code not in by_queryset, f"{code} is in two states"
            by_queryset[code] = state
    by_model = {link.short_code: link.state_at(NOW) for link in one_of_each.values()}
    assert by_queryset == by_model


def test_expiry_is_inclusive_of_its_instant(db):
    link = make("edge", expires_at=NOW)
    assert link.state_at(NOW) == LinkState.EXPIRED
    assert list(Link.objects.expired(NOW)) == [link]


def test_owned_by_returns_only_that_users_links(user, other_user):
    mine = make("mine", owner=user)
    make("theirs", owner=other_user)
    assert list(Link.objects.owned_by(user)) == [mine]


def test_short_codes_are_case_sensitive(db):
    make("abc")
    make("ABC")
    assert Link.objects.filter(short_code="abc").count() == 1
    assert Link.objects.get(short_code="ABC").short_code == "ABC"


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE links_link SET click_count = -1",
        "UPDATE links_link SET max_clicks = 0",
        "UPDATE links_link SET short_code = ''",
    ],
)
def test_database_constraints_hold_against_raw_sql(db, sql):
    make("guarded")
    with (
        pytest.raises(IntegrityError),
        transaction.atomic(),
        connection.cursor() as cur,
    ):
        cur.execute(sql)


def test_duplicate_code_is_refused_by_the_database(db):
    make("dup")
    with pytest.raises(IntegrityError), transaction.atomic():
        make("dup")


def test_daily_counter_is_unique_per_link_and_day(db):
    link = make("daily")
    LinkDailyClicks.objects.create(link=link, day=NOW.date(), clicks=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        LinkDailyClicks.objects.create(link=link, day=NOW.date(), clicks=1)


def test_create_link_generates_a_code(db, user):
    link = Link.objects.create_link(target_url=" https://example.com/x ", owner=user)
    assert len(link.short_code) == 7
    assert link.target_url == "https://example.com/x"
    assert Link.objects.get(pk=link.pk).owner == user


def test_create_link_retries_a_colliding_generated_code(db, monkeypatch):
    make("Taken12")
    codes = iter(["Taken12", "Taken12", "Fresh34"])
    monkeypatch.setattr(link_models, "generate_code", lambda: next(codes))
    link = Link.objects.create_link(target_url="https://example.com/")
    assert link.short_code == "Fresh34"
    assert Link.objects.count() == 2


def test_insert_new_gives_up_when_every_generated_code_is_taken(db, monkeypatch):
    make("Taken12")
    tries = []

    def taken_code():
        tries.append(1)
        return "Taken12"

    monkeypatch.setattr(link_models, "generate_code", taken_code)
    with pytest.raises(RuntimeError, match="No free short code after 8 attempts"):
        Link(target_url="https://example.com/").insert_new()
    assert len(tries) == link_models.GENERATE_ATTEMPTS
    assert Link.objects.count() == 1


def test_create_link_with_a_taken_custom_code_raises(db):
    make("mine")
    with pytest.raises(ShortCodeTaken):
        Link.objects.create_link(target_url="https://example.com/", short_code="mine")
    assert Link.objects.count() == 1


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"target_url": "javascript:alert(1)"}, "target_url"),
        ({"target_url": "https://example.com", "short_code": "api"}, "short_code"),
        (
            {"target_url": "https://example.com", "short_code": "no spaces"},
            "short_code",
        ),
        ({"target_url": "https://example.com", "max_clicks": 0}, "max_clicks"),
    ],
)
def test_create_link_validates_with_the_shared_rules(db, fields, field):
    with pytest.raises(ValidationError) as excinfo:
        Link.objects.create_link(**fields)
    assert field in excinfo.value.message_dict
    assert Link.objects.count() == 0


def test_concurrent_creators_of_one_custom_code_get_one_link(transactional_db):
    """Eight threads, each on its own database connection, race for one alias:
    exactly one wins, the rest get ShortCodeTaken, nothing else is raised."""
    barrier = threading.Barrier(8)
    outcomes = []

    def create():
        try:
            barrier.wait()
            Link.objects.create_link(
                target_url="https://example.com/", short_code="race"
            )
            outcomes.append("created")
        except ShortCodeTaken:
            outcomes.append("taken")
        except Exception as exc:  # noqa: BLE001 - recorded and asserted below
            outcomes.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["created"] + ["taken"] * 7
    assert Link.objects.filter(short_code="race").count() == 1


def test_short_url_uses_public_base_url(db, settings, rf):
    settings.PUBLIC_BASE_URL = "https://sho.rt"
    assert make("pub").short_url() == "https://sho.rt/pub"


def test_short_url_falls_back_to_the_request_host(db, settings, rf):
    settings.PUBLIC_BASE_URL = ""
    settings.ALLOWED_HOSTS = ["links.example"]
    request = rf.get("/", HTTP_HOST="links.example:8080")
    assert make("req").short_url(request) == "http://links.example:8080/req"


def test_saving_a_stale_instance_keeps_clicks_counted_since(db):
    link = make("stale")
    Link.objects.filter(pk=link.pk).update(click_count=41)
    link.target_url = "https://example.org/"
    link.save()
    fresh = Link.objects.get(pk=link.pk)
    assert fresh.click_count == 41
    assert fresh.target_url == "https://example.org/"


def test_planner_estimate_is_the_analysed_row_count_on_postgresql_only(db):
    for n in range(3):
        make(f"est{n}")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE links_link")
        assert Link.objects.planner_estimate() == 3
    else:
        assert Link.objects.planner_estimate() is None


@pytest.mark.parametrize(
    "narrow",
    [
        lambda links: links.filter(is_active=False),
        lambda links: links.none(),
        lambda links: links.distinct(),
        lambda links: links[:2],
        lambda links: links.union(links),
        lambda links: links.values("is_active").annotate(n=Count("pk")),
    ],
    ids=["filter", "none", "distinct", "slice", "union", "group_by"],
)
def test_planner_estimate_is_none_for_anything_but_the_whole_table(db, narrow):
    for n in range(3):
        make(f"est{n}", is_active=n != 0)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE links_link")
    assert narrow(Link.objects.all()).planner_estimate() is None
