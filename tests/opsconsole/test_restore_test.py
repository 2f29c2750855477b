"""`manage.py restore_test`: restores into a scratch database, checks it and
records the restore time, never touching the live data. Run as a subprocess:
the scratch database is a connection alias of its own, which Django's test
cases refuse in-process."""

import io
import time
from datetime import date

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from links.models import Link, LinkDailyClicks
from opsconsole.backups.create import create_backup
from opsconsole.models import OpsRun
from tests.opsconsole.helpers import (
    data_checksum,
    flip_byte,
    make_sample_data,
    manage_json,
    truncate,
)

ON_SQLITE = connection.vendor == "sqlite"


@pytest.fixture(autouse=True)
def _backups_in_tmp(settings, tmp_path):
    settings.BACKUP_DIR = tmp_path / "backups"


@pytest.fixture
def scratch_left_behind(tmp_path):
    """Runs `manage.py restore_test` with its scratch databases where the test
    can see them; returns a callable listing those still there."""
    scratch_dir = tmp_path / "scratch"
    scratch_dir.mkdir()
    env = {"TMPDIR": str(scratch_dir)}
    before = set() if ON_SQLITE else _scratch_databases()

    def left_behind():
        if ON_SQLITE:
            return sorted(path.name for path in scratch_dir.iterdir())
        # Another run on the same server may hold its own scratch database for
        # a moment; a leaked one never goes away.
        deadline = time.monotonic() + 10
        while (leaked := _scratch_databases() - before) and time.monotonic() < deadline:
            time.sleep(0.2)
        return sorted(leaked)

    def restore_test(*args):
        return manage_json("restore_test", *args, env=env)

    return restore_test, left_behind


def _scratch_databases():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT datname FROM pg_database "
            "WHERE datname LIKE 'tinylink\\_restore\\_test\\_%%'"
        )
        return {name for (name,) in cursor.fetchall()}


@pytest.mark.slow
def test_good_backup_passes_and_live_data_is_untouched(
    transactional_db, scratch_left_behind
):
    restore_test, left_behind = scratch_left_behind
    make_sample_data()
    backup = create_backup()
    Link.objects.create(short_code="later", target_url="https://example.com/")
    live = data_checksum()

    code, payload, stderr = restore_test(str(backup.path))

    assert code == 0, (payload, stderr)
    assert payload["ok"] is True
    assert payload["problems"] == []
    assert payload["row_counts"] == backup.manifest["row_counts"]
    assert payload["rto_seconds"] > 0
    assert data_checksum() == live
    assert left_behind() == []
    run = OpsRun.objects.get(kind="restore_test")
    assert run.status == "succeeded"
    assert "passed" in run.summary


@pytest.mark.slow
@pytest.mark.parametrize(
    ("damage", "problem"), [(flip_byte, "corrupt"), (truncate, "truncated")]
)
def test_damaged_backup_fails(transactional_db, scratch_left_behind, damage, problem):
    restore_test, left_behind = scratch_left_behind
    make_sample_data()
    backup = create_backup()
    damage(backup.path)

    code, payload, _ = restore_test(str(backup.path))

    assert code == 1
    assert payload["ok"] is False
    assert problem in payload["problems"][0]
    assert left_behind() == []
    assert OpsRun.objects.get(kind="restore_test").status == "failed"


@pytest.mark.slow
def test_backup_of_data_with_a_broken_invariant_fails(
    transactional_db, scratch_left_behind
):
    restore_test, left_behind = scratch_left_behind
    link = Link.objects.create(
        short_code="over", target_url="https://example.com/", click_count=1
    )
    LinkDailyClicks.objects.create(link=link, day=date(2025, 1, 1), clicks=5)
    backup = create_backup()

    code, payload, _ = restore_test(str(backup.path))

    assert code == 1
    assert payload["problems"] == ["daily clicks add up to more than the total: over"]
    assert left_behind() == []


@pytest.mark.skipif(ON_SQLITE, reason="a pg_dump archive that fails to load")
def test_backup_that_cannot_be_loaded_fails_and_leaves_no_scratch_database(
    transactional_db, scratch_left_behind
):
    restore_test, left_behind = scratch_left_behind
    make_sample_data()
    with connection.cursor() as cursor:
        # A daily row of a missing link, written past the foreign key: the
        # archive's ADD CONSTRAINT fails after its data is loaded.
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(
            "INSERT INTO links_linkdailyclicks (link_id, day, clicks) "
            "VALUES (987654321, '2025-01-01', 1)"
        )
        cursor.execute("SET session_replication_role = DEFAULT")
    backup = create_backup()

    code, payload, _ = restore_test(str(backup.path))

    assert code == 1
    assert payload["ok"] is False
    assert payload["error"].startswith("pg_restore failed")
    assert left_behind() == []


@pytest.mark.slow
def test_latest_tests_the_newest_backup_and_records_the_rto(
    transactional_db, scratch_left_behind
):
    restore_test, _ = scratch_left_behind
    make_sample_data()
    create_backup()
    newest = create_backup(label="newest")

    code, payload, stderr = restore_test("--latest")

    assert code == 0, (payload, stderr)
    assert payload["path"] == str(newest.path)
    run = OpsRun.objects.get(kind="restore_test")
    assert run.status == "succeeded"
    assert run.result["rto_seconds"] == payload["rto_seconds"] > 0


def test_latest_without_any_backup_says_what_to_do(transactional_db):
    with pytest.raises(CommandError, match=r"no backup in .*run `manage\.py backup`"):
        call_command("restore_test", latest=True, stdout=io.StringIO())
    assert OpsRun.objects.get(kind="restore_test").status == "failed"


@pytest.mark.parametrize("args", [[], ["some.sqlite3", "--latest"]])
def test_needs_one_backup_or_latest(transactional_db, args):
    with pytest.raises(CommandError, match="Name one backup file, or --latest"):
        call_command("restore_test", *args, stdout=io.StringIO())
