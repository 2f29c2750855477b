"""restore_backup and `manage.py restore`: the data comes back exactly, and
every refusal or failure leaves the live data as it was."""

import io
import resource
import sqlite3
import subprocess
import sys
from contextlib import closing
from datetime import date
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection

from links.models import Link, LinkDailyClicks
from opsconsole.backups import restore as restore_module
from opsconsole.backups.create import create_backup
from opsconsole.backups.restore import restore_backup
from opsconsole.errors import OpsError
from opsconsole.models import OpsRun
from tests.opsconsole.helpers import (
    add_links,
    data_checksum,
    error_line,
    flip_byte,
    listed,
    make_sample_data,
    manage,
    subprocess_env,
    truncate,
)
from tests.servers import ROOT

on_sqlite = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="SQLite's files and WAL"
)
on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL's pg_restore"
)


@pytest.fixture(autouse=True)
def _backups_in_tmp(settings, tmp_path):
    settings.BACKUP_DIR = tmp_path / "backups"


def _mutate_everything():
    """A change in every checked table: updates, deletes and inserts."""
    first, second = Link.objects.order_by("pk")[:2]
    Link.objects.filter(pk=first.pk).update(click_count=999, target_url="https://x/")
    second.delete()
    Link.objects.create(short_code="new", target_url="https://example.com/new")
    LinkDailyClicks.objects.filter(link__short_code="code3").update(clicks=0)
    get_user_model().objects.filter(username="bob").update(first_name="Robert")
    get_user_model().objects.create_user("carol")


def _sqlite_path():
    return Path(connection.settings_dict["NAME"])


def test_round_trip_gives_back_identical_rows(transactional_db):
    make_sample_data()
    before = data_checksum()
    backup = create_backup()
    _mutate_everything()
    assert data_checksum() != before

    result = restore_backup(backup.path)

    assert data_checksum() == before
    assert result.row_counts["links_link"] == 4
    # Counted before the restore records its own runs: nothing differs.
    assert result.count_differences == []
    # The data it replaced is kept as a backup of its own.
    assert result.safety_backup.path in [a for a, _ in listed(backup.path.parent)]
    # New rows do not collide with restored ids (PostgreSQL sequences).
    Link.objects.create(short_code="after", target_url="https://example.com/")


def test_restore_of_the_safety_backup_undoes_the_restore(transactional_db):
    make_sample_data()
    backup = create_backup()
    _mutate_everything()
    mutated = data_checksum()
    safety = restore_backup(backup.path).safety_backup
    restore_backup(safety.path)
    assert data_checksum() == mutated


@pytest.mark.parametrize(
    ("damage", "refusal"), [(flip_byte, "file is corrupt"), (truncate, "truncated")]
)
def test_damaged_artifact_is_refused_before_anything_is_touched(
    transactional_db, damage, refusal
):
    make_sample_data()
    backup = create_backup()
    _mutate_everything()
    before = data_checksum()
    damage(backup.path)

    with pytest.raises(OpsError, match=refusal):
        restore_backup(backup.path)
    with pytest.raises(CommandError, match=refusal):
        call_command("restore", str(backup.path), interactive=False)

    assert data_checksum() == before
    # Refused before the safety backup: nothing new in the directory.
    assert sorted(backup.path.parent.iterdir()) == sorted(
        [backup.path, Path(f"{backup.path}.manifest.json")]
    )


@pytest.fixture
def archive_failing_part_way(transactional_db):
    """A valid archive whose load fails after its tables were dropped and
    refilled: a daily-clicks row of a missing link, written while foreign
    keys were not enforced (session_replication_role = replica), makes the
    archive's ADD CONSTRAINT ... FOREIGN KEY fail after the data is copied.
    Returns (artifact, checksum of the live data)."""
    make_sample_data()
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(
            "INSERT INTO links_linkdailyclicks (link_id, day, clicks) "
            "VALUES (987654321, %s, 1)",
            [date(2025, 1, 1)],
        )
        cursor.execute("SET session_replication_role = DEFAULT")
    backup = create_backup()
    LinkDailyClicks.objects.filter(link_id=987654321).delete()
    _mutate_everything()
    return backup.path, data_checksum()


@on_postgresql
def test_postgresql_restore_failing_part_way_leaves_the_data_unchanged(
    archive_failing_part_way,
):
    artifact, before = archive_failing_part_way

    with pytest.raises(OpsError, match="pg_restore failed, the database is unchanged"):
        restore_backup(artifact)

    assert data_checksum() == before
    Link.objects.create(short_code="after", target_url="https://example.com/")


@on_postgresql
def test_postgresql_restore_failure_says_why(archive_failing_part_way):
    artifact, _ = archive_failing_part_way
    with pytest.raises(OpsError, match="violates foreign key constraint"):
        restore_backup(artifact)


@pytest.mark.slow
@on_sqlite
def test_sqlite_restore_failing_part_way_leaves_the_data_unchanged(
    transactional_db, settings
):
    """The disk fills up while the backup's pages are written into the live
    database: `manage.py restore` runs with RLIMIT_FSIZE below the size of
    the artifact (but above the live database, so its safety backup fits),
    and writing the live WAL fails part-way with EFBIG."""
    # Stored unpacked, so the load (not the unpacking) is what hits the limit.
    settings.BACKUP_COMPRESSION_LEVEL = 0
    path = _sqlite_path()
    add_links(30_000, "big", target_size=300)
    backup = create_backup()
    Link.objects.all().delete()
    _vacuum(path)
    make_sample_data()
    before = data_checksum()
    live_size = path.stat().st_size
    artifact_size = backup.path.stat().st_size
    limit = 4 * 2**20
    assert live_size * 2 < limit < artifact_size // 2, (live_size, artifact_size)

    def limit_file_size():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = subprocess.run(
        [sys.executable, "manage.py", "restore", "--noinput", str(backup.path)],
        cwd=ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limit_file_size,
        check=False,
    )

    assert result.returncode == 1, result.stderr
    line = error_line(result.stderr)
    assert "SQLite restore failed, the database is unchanged" in line
    assert "disk I/O error" in line  # EFBIG, not ENOSPC
    # Part-way indeed: pages of the backup filled the WAL up to the limit.
    assert Path(f"{path}-wal").stat().st_size > limit // 2
    connection.close()
    assert data_checksum() == before
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert OpsRun.objects.get(kind="restore").status == "failed"


def _vacuum(path):
    connection.close()
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("VACUUM")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


@on_sqlite
def test_sqlite_restore_reaches_connections_holding_wal_frames(transactional_db):
    make_sample_data()
    expected = data_checksum()
    backup = create_backup()
    path = _sqlite_path()
    with closing(sqlite3.connect(path, isolation_level=None)) as old:
        old.execute("PRAGMA wal_autocheckpoint = 0")
        old.executemany(
            "INSERT INTO links_link (short_code, target_url, created_at, "
            "updated_at, click_count, is_active) VALUES (?, ?, '2025-01-01', "
            "'2025-01-01', 0, 1)",
            [(f"wal{n}", "https://example.com/") for n in range(200)],
        )
        assert old.execute("SELECT COUNT(*) FROM links_link").fetchone() == (204,)
        assert Path(f"{path}-wal").stat().st_size > 0

        restore_backup(backup.path)

        assert old.execute("SELECT COUNT(*) FROM links_link").fetchone() == (4,)
        with closing(sqlite3.connect(path)) as new:
            assert new.execute("SELECT COUNT(*) FROM links_link").fetchone() == (4,)
            codes = new.execute("SELECT short_code FROM links_link ORDER BY id")
            assert [c for (c,) in codes] == ["code0", "code1", "code2", "code3"]
    assert data_checksum() == expected


def test_a_write_right_after_the_load_does_not_fail_the_restore(
    transactional_db, monkeypatch
):
    make_sample_data()
    backup = create_backup()
    rewrite_history = restore_module._rewrite_history

    def a_request_lands_meanwhile(*args):
        # What a redirect or an API call does as soon as the data is back;
        # patched in only to make the timing certain.
        Link.objects.create(short_code="meanwhile", target_url="https://e.com/")
        rewrite_history(*args)

    monkeypatch.setattr(restore_module, "_rewrite_history", a_request_lands_meanwhile)
    restore_backup(backup.path)
    assert Link.objects.count() == 5


@pytest.mark.slow
def test_restore_without_noinput_and_no_answer_refuses(transactional_db):
    make_sample_data()
    backup = create_backup()
    _mutate_everything()
    before = data_checksum()

    no_stdin = manage("restore", str(backup.path))
    answered_no = manage("restore", str(backup.path), input="no\n", stdin=None)

    assert no_stdin.returncode == 1
    assert "No answer on standard input" in error_line(no_stdin.stderr)
    assert answered_no.returncode == 1
    assert error_line(answered_no.stderr) == "CommandError: Restore cancelled."
    assert data_checksum() == before
    assert len(listed(backup.path.parent)) == 1  # no safety backup either


@pytest.mark.slow
def test_restore_command_with_yes_restores_and_records_the_run(transactional_db):
    make_sample_data()
    before = data_checksum()
    backup = create_backup()
    _mutate_everything()

    result = manage("restore", str(backup.path), input="yes\n", stdin=None)

    assert result.returncode == 0, result.stderr
    assert "Restored" in result.stdout
    connection.close()
    assert data_checksum() == before
    run = OpsRun.objects.get(kind="restore")
    assert run.status == "succeeded"
    assert backup.path.name in run.summary


def test_restore_command_refuses_a_missing_file(transactional_db, tmp_path):
    out = io.StringIO()
    with pytest.raises(CommandError, match="no backup file"):
        call_command("restore", str(tmp_path / "nope"), interactive=False, stdout=out)


def test_a_restore_reads_the_backup_and_its_safety_copy_once_each(
    transactional_db, monkeypatch
):
    from opsconsole.backups import create as create_module
    from opsconsole.backups import files
    from opsconsole.backups.store import BackupStore

    make_sample_data()
    backup = create_backup()
    read = []
    real_download = BackupStore.download

    def counting_download(store, name, path):
        read.append(("fetched and hashed", name))
        return real_download(store, name, path)

    def counting_sha256_of(path):
        read.append(("hashed", Path(path).name))
        return files.sha256_of(path)

    monkeypatch.setattr(BackupStore, "download", counting_download)
    monkeypatch.setattr(create_module, "sha256_of", counting_sha256_of)

    restore_backup(backup.path)

    # The backup once, the safety copy once (its packed file, before upload).
    assert sorted(read) == [("fetched and hashed", backup.name), ("hashed", "packed")]


def test_the_restore_command_verifies_before_it_asks_and_not_again(
    transactional_db, monkeypatch
):
    from opsconsole.backups import restore as module

    make_sample_data()
    backup = create_backup()
    verified = []
    real_verified_backup = module.verified_backup

    def counting_verified_backup(reference, **kwargs):
        verified.append(str(reference))
        return real_verified_backup(reference, **kwargs)

    monkeypatch.setattr(module, "verified_backup", counting_verified_backup)
    monkeypatch.setattr("builtins.input", lambda prompt: "yes")
    call_command("restore", str(backup.path), stdout=io.StringIO())
    assert verified == [str(backup.path)]


def test_link_caches_start_over_even_when_the_restore_fails_after_its_load(
    transactional_db, monkeypatch
):
    from links import lookup

    make_sample_data()
    backup = create_backup()
    before = lookup._read_version()

    def broken(alias):
        raise RuntimeError("a migration failed")

    monkeypatch.setattr(restore_module, "_apply_pending_migrations", broken)
    with pytest.raises(RuntimeError):
        restore_backup(backup.path)
    # The load committed: the links are the backup's, so every cache must
    # hear of it, failure or not.
    assert lookup._read_version() != before
