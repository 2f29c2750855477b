"""The per-process link cache (links/lookup.py): hits cost no query, and
every committed change a redirect would notice empties it on the next look
at the links' version. Committed transactions, so transactional_db."""

import json

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from links import clickbuffer, lookup
from links.clicks import record_click
from links.models import Link


@pytest.fixture(autouse=True)
def _cached(settings):
    settings.LINK_CACHE_SIZE = 100
    settings.LINK_CACHE_CHECK_SECONDS = 0  # look at the version every time


def make(code="go", **fields):
    fields.setdefault("target_url", "https://example.com/")
    return Link.objects.create(short_code=code, **fields)


def _version():
    return lookup._read_version()


def test_a_hit_reads_only_the_version(transactional_db, lookup_reads):
    make()
    assert lookup.find("go").target_url == "https://example.com/"
    lookup_reads.clear()
    with CaptureQueriesContext(connection) as captured:
        assert lookup.find("go").target_url == "https://example.com/"
    assert lookup_reads == ["SELECT value FROM links_linkversion WHERE id = %s"]
    # Through the driver, past Django's cursor stack.
    assert captured.captured_queries == []


def test_between_looks_at_the_version_the_cache_answers_alone(
    transactional_db, settings, lookup_reads
):
    settings.LINK_CACHE_CHECK_SECONDS = 3600
    link = make()
    lookup.find("go")
    link.target_url = "https://example.org/"
    link.save()
    lookup_reads.clear()
    # Within the interval: the cached answer (this is the bound on how long
    # an edit takes to be seen, LINK_CACHE_CHECK_SECONDS).
    assert lookup.find("go").target_url == "https://example.com/"
    assert lookup_reads == []
    lookup.forget_all()
    assert lookup.find("go").target_url == "https://example.org/"


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(
            lambda link: Link.objects.filter(pk=link.pk).update(is_active=False),
            id="update",
        ),
        pytest.param(
            lambda link: Link.objects.filter(pk=link.pk).set_active(False),
            id="admin-action",
        ),
        pytest.param(
            lambda link: Link.objects.filter(pk=link.pk).update(
                expires_at=timezone.now()
            ),
            id="expiry",
        ),
        pytest.param(lambda link: link.delete(), id="delete"),
        pytest.param(
            lambda link: Link.objects.filter(pk=link.pk).delete(), id="bulk-delete"
        ),
        pytest.param(lambda link: link.owner.delete(), id="owner-deleted"),
    ],
)
def test_every_kind_of_change_reaches_the_cache(
    transactional_db, django_user_model, change
):
    owner = django_user_model.objects.create_user("owner")
    link = make(owner=owner)
    assert lookup.find("go").redirects_at(timezone.now())
    change(link)
    found = lookup.find("go")
    assert found is None or not found.redirects_at(timezone.now())


def test_an_edit_of_the_target_is_seen(transactional_db):
    link = make()
    lookup.find("go")
    link.target_url = "https://example.org/new"
    link.save()
    assert lookup.find("go").location == "https://example.org/new"


@pytest.mark.parametrize("create", ["create", "bulk_create"])
def test_a_code_cached_as_missing_is_found_once_created(transactional_db, create):
    assert lookup.find("later") is None
    if create == "create":
        make("later")
    else:
        Link.objects.bulk_create(
            [Link(short_code="later", target_url="https://x.org/")]
        )
    assert lookup.find("later") is not None


def test_counting_clicks_does_not_empty_every_cache(transactional_db):
    link = make()
    limited = make("limited", max_clicks=10)
    before = _version()
    clickbuffer.add(lookup.find("go"), timezone.now())  # written at once here
    record_click(limited.pk, now=timezone.now())
    assert Link.objects.get(pk=link.pk).click_count == 1
    assert _version() == before


def test_a_rolled_back_change_changes_nothing(transactional_db):
    link = make()
    before = _version()

    def deactivate_then_fail():
        with transaction.atomic():
            Link.objects.filter(pk=link.pk).update(is_active=False)
            raise RuntimeError

    with pytest.raises(RuntimeError):
        deactivate_then_fail()
    assert _version() == before


def test_the_version_moves_only_when_the_change_commits(transactional_db):
    link = make()
    lookup.find("go")
    before = _version()
    with transaction.atomic():
        Link.objects.filter(pk=link.pk).update(target_url="https://example.org/")
        link.refresh_from_db()
        link.is_active = False
        link.save()
        # Not yet: a process that looked now would cache the old link under
        # the new version, for good.
        assert _version() == before
    assert _version() != before


def test_bump_version_is_what_a_restore_calls(transactional_db):
    make()
    lookup.find("go")
    with connection.cursor() as cursor:
        # A write no ORM hook sees (a restore's load is one).
        cursor.execute("UPDATE links_link SET target_url = 'https://example.net/'")
    lookup.bump_version()
    assert lookup.find("go").target_url == "https://example.net/"


def test_the_cache_holds_at_most_link_cache_size_codes(transactional_db, settings):
    settings.LINK_CACHE_SIZE = 3
    for n in range(5):
        make(f"c{n}")
    for n in range(5):
        lookup.find(f"c{n}")
    assert list(lookup._cache) == ["c2", "c3", "c4"]


def test_a_cache_size_of_zero_caches_nothing(transactional_db, settings):
    settings.LINK_CACHE_SIZE = 0
    make()
    lookup.find("go")
    assert lookup._cache == {}


def test_loaddata_and_seed_links_reach_the_cache(transactional_db, tmp_path):
    from django.core.management import call_command

    link = make()
    assert lookup.find("go").redirects_at(timezone.now())
    assert lookup.find("seed0000000") is None
    # loaddata saves raw, past Link.save: the post_save signal sees it.
    fixture = tmp_path / "links.json"
    fields = {
        "short_code": "go",
        "target_url": "https://example.com/",
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
        "is_active": False,
    }
    fixture.write_text(
        json.dumps([{"model": "links.link", "pk": link.pk, "fields": fields}])
    )
    call_command("loaddata", str(fixture), verbosity=0)
    assert not lookup.find("go").redirects_at(timezone.now())
    call_command("seed_links", "--count", "1", verbosity=0)
    assert lookup.find("seed0000000") is not None


def test_a_bump_that_fails_after_the_commit_neither_fails_the_edit_nor_lasts(
    transactional_db, monkeypatch, settings
):
    from django.db import OperationalError

    link = make()
    lookup.find("go")

    def locked(using="default"):
        raise OperationalError("database is locked")

    monkeypatch.setattr(lookup, "bump_version", locked)
    lookup._bumps.clear()
    Link.objects.filter(pk=link.pk).update(is_active=False)  # does not raise
    monkeypatch.undo()
    lookup._bumps.clear()
    # The version did not move, so the cache still answers the old link, but
    # only until MAX_AGE_SECONDS after it last started over.
    assert lookup.find("go").is_active
    monkeypatch.setitem(lookup._state, "cleared_at", -lookup.MAX_AGE_SECONDS - 1)
    assert not lookup.find("go").is_active
