"""Retention: prune_backups keeps the newest N and never lets an unverified
newest backup stand alone; purge_links deletes only long-expired links."""

import io
import json
import shutil
from datetime import date, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from links.models import Link, LinkDailyClicks
from opsconsole.backups.create import create_backup
from opsconsole.backups.retention import prune_backups
from opsconsole.errors import OpsError
from opsconsole.models import OpsRun
from opsconsole.purge import purge_links
from tests.opsconsole.helpers import flip_byte, listed, manifest_path, truncate


@pytest.fixture(autouse=True)
def _backups_in_tmp(settings, tmp_path):
    settings.BACKUP_DIR = tmp_path / "backups"


@pytest.fixture(scope="module")
def four_real_backups(django_db_setup, django_db_blocker, tmp_path_factory):
    # Made once: four pg_dumps per test would take most of this file's time.
    directory = tmp_path_factory.mktemp("backups")
    with django_db_blocker.unblock():
        return [
            create_backup(output_dir=directory, keep=100, label=f"n{n}").path
            for n in range(4)
        ]


@pytest.fixture
def four_backups(four_real_backups, db, settings):
    """Four complete backups in BACKUP_DIR, oldest first."""
    shutil.copytree(four_real_backups[0].parent, settings.BACKUP_DIR)
    return [settings.BACKUP_DIR / path.name for path in four_real_backups]


def _listed(settings):
    return [artifact for artifact, _ in listed(settings.BACKUP_DIR)]


@pytest.mark.parametrize("keep", [1, 2, 3])
def test_prune_keeps_exactly_the_newest_n(four_backups, settings, keep):
    doomed = prune_backups(keep=keep).deleted
    newest_first = four_backups[::-1]
    assert _listed(settings) == newest_first[:keep]
    assert sorted(doomed) == sorted(path.name for path in newest_first[keep:])
    for name in doomed:
        artifact = settings.BACKUP_DIR / name
        assert not artifact.exists()
        assert not manifest_path(artifact).exists()


@pytest.mark.parametrize("damage", [flip_byte, truncate])
def test_prune_never_keeps_an_unverified_newest_alone(four_backups, settings, damage):
    damage(four_backups[-1])
    prune_backups(keep=1)
    # The damaged newest (it is the newest) and the newest that verifies.
    assert _listed(settings) == [four_backups[3], four_backups[2]]


def test_prune_with_room_for_a_good_one_keeps_exactly_n(four_backups, settings):
    flip_byte(four_backups[-1])
    prune_backups(keep=2)
    assert _listed(settings) == [four_backups[3], four_backups[2]]


def test_prune_goes_back_to_the_newest_backup_that_verifies(four_backups, settings):
    for artifact in four_backups[1:]:
        flip_byte(artifact)
    prune_backups(keep=1)
    assert _listed(settings) == [four_backups[3], four_backups[0]]


def test_a_backup_counts_the_new_one_in_its_keep(
    four_real_backups, transactional_db, settings
):
    shutil.copytree(four_real_backups[0].parent, settings.BACKUP_DIR)
    four_backups = [settings.BACKUP_DIR / path.name for path in four_real_backups]
    newest = create_backup(keep=2).path
    assert _listed(settings) == [newest, four_backups[3]]


def test_prune_dry_run_deletes_nothing(four_backups, settings):
    files = sorted(settings.BACKUP_DIR.iterdir())
    out = io.StringIO()
    call_command("prune_backups", keep=1, dry_run=True, json=True, stdout=out)
    payload = json.loads(out.getvalue())
    assert payload["dry_run"] is True
    assert sorted(payload["deleted"]) == sorted(p.name for p in four_backups[:3])
    assert sorted(settings.BACKUP_DIR.iterdir()) == files
    run = OpsRun.objects.get(kind="prune_backups")
    assert (run.status, run.summary) == ("succeeded", "Would delete 3 backup(s).")


def test_prune_command_deletes(four_backups, settings):
    call_command("prune_backups", keep=2, stdout=io.StringIO(), stderr=io.StringIO())
    assert _listed(settings) == four_backups[:1:-1]


def test_prune_keep_below_one_is_refused(four_backups, settings):
    with pytest.raises(OpsError):
        prune_backups(keep=0)
    with pytest.raises(CommandError, match="at least 1"):
        call_command("prune_backups", keep=0, stdout=io.StringIO())
    assert _listed(settings) == four_backups[::-1]


@pytest.fixture
def expiring_links(db):
    now = timezone.now()
    links = {
        "long-gone": now - timedelta(days=40),
        "just-gone": now - timedelta(days=10),
        "future": now + timedelta(days=10),
        "forever": None,
    }
    for number, (code, expires_at) in enumerate(links.items()):
        link = Link.objects.create(
            short_code=code,
            target_url="https://example.com/",
            expires_at=expires_at,
            click_count=number + 3,
        )
        LinkDailyClicks.objects.create(link=link, day=date(2025, 1, 1), clicks=1)
    return links


def test_purge_links_dry_run_counts_and_deletes_nothing(expiring_links):
    result = purge_links(expired_for_days=30, dry_run=True)
    assert (result.count, result.clicks, result.codes) == (1, 3, ["long-gone"])
    assert Link.objects.count() == 4

    out = io.StringIO()
    call_command("purge_links", expired_for=5, dry_run=True, json=True, stdout=out)
    payload = json.loads(out.getvalue())
    assert payload == {
        "ok": True,
        "dry_run": True,
        "count": 2,
        "clicks": 7,
        "codes": ["long-gone", "just-gone"],
    }
    assert Link.objects.count() == 4


def test_purge_links_deletes_only_links_expired_long_enough(expiring_links):
    out = io.StringIO()
    call_command("purge_links", expired_for=30, json=True, stdout=out)
    assert json.loads(out.getvalue())["codes"] == ["long-gone"]
    assert sorted(Link.objects.values_list("short_code", flat=True)) == [
        "forever",
        "future",
        "just-gone",
    ]
    assert LinkDailyClicks.objects.count() == 3
    run = OpsRun.objects.get(kind="purge_links")
    assert run.status == "succeeded"
    assert "long-gone" in run.output
    assert run.summary.startswith("Deleted 1 link(s)")


def test_purge_links_refuses_negative_days(expiring_links):
    with pytest.raises(CommandError, match="0 or more days"):
        call_command("purge_links", expired_for=-1, stdout=io.StringIO())
    assert Link.objects.count() == 4
