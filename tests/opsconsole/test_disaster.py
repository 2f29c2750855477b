"""The worst day: the live database is gone or damaged, and `manage.py
restore` brings the data back, says what it did with what was there, and
leaves a history and a backup directory that tell the truth afterwards."""

import os
import sqlite3
from pathlib import Path

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection

from links.models import Link
from opsconsole.backups.create import create_backup
from opsconsole.engines import engine_for
from opsconsole.models import OpsRun
from tests.opsconsole.helpers import (
    data_checksum,
    error_line,
    flip_byte,
    listed,
    make_sample_data,
    manage,
)

pytestmark = pytest.mark.slow
on_sqlite = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="SQLite's database files"
)


@pytest.fixture(autouse=True)
def _backups_in_tmp(settings, tmp_path):
    settings.BACKUP_DIR = tmp_path / "backups"


@pytest.fixture
def lose_database(transactional_db):
    """What an operator finds after losing the disk or the server. The test
    database is sound again afterwards, whatever the test left of it."""
    yield _lose_database
    connection.close()
    if connection.vendor == "sqlite":
        live = Path(connection.settings_dict["NAME"])
        for moved in live.parent.glob(f"{live.name}.damaged-*"):
            moved.unlink()
    if connection.vendor == "sqlite" and engine_for().damage() is not None:
        _lose_database()
    if "django_migrations" not in connection.introspection.table_names():
        call_command("migrate", verbosity=0)


def _lose_database():
    """SQLite's file (and its WAL) deleted; PostgreSQL's database dropped and
    created again, empty."""
    settings_dict = connection.settings_dict
    connection.close()
    if connection.vendor == "sqlite":
        for ending in ("", "-wal", "-shm"):
            Path(f"{settings_dict['NAME']}{ending}").unlink(missing_ok=True)
        return
    name = settings_dict["NAME"]
    with psycopg.connect(
        host=settings_dict["HOST"] or "127.0.0.1",
        port=settings_dict["PORT"] or 5432,
        user=settings_dict["USER"],
        password=settings_dict["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    ) as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    # The pool's connections died with the database.
    connection.close_pool()


def test_restore_into_a_lost_database_brings_everything_back(lose_database):
    make_sample_data()
    before = data_checksum()
    backup = create_backup()
    lose_database()

    result = manage("restore", "--latest", "--noinput")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "held no TinyLink data, nothing to save" in result.stdout
    connection.close()
    assert data_checksum() == before
    restore = OpsRun.objects.get(kind="restore")
    assert restore.status == "succeeded"
    assert backup.path.name in restore.summary
    # Nothing to save, so no safety copy was made.
    assert [a for a, _ in listed(backup.path.parent)] == [backup.path]


def test_a_failed_restore_into_a_lost_database_is_one_line(lose_database):
    make_sample_data()
    backup = create_backup()
    flip_byte(backup.path)
    lose_database()

    result = manage("restore", str(backup.path), "--noinput")

    assert result.returncode == 1
    assert "does not match its manifest's sha256" in error_line(result.stderr)


@on_sqlite
def test_restore_over_an_unreadable_sqlite_file_moves_it_aside(lose_database):
    make_sample_data()
    before = data_checksum()
    backup = create_backup()
    live = Path(connection.settings_dict["NAME"])
    connection.close()
    # The header overwritten: "file is not a database" for every reader.
    with open(live, "r+b") as handle:
        handle.write(os.urandom(100))
    damaged = live.read_bytes()

    result = manage("restore", str(backup.path), "--noinput")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "was damaged" in result.stdout
    [kept] = [
        path
        for path in live.parent.glob(f"{live.name}.damaged-*")
        if not path.name.endswith(("-wal", "-shm"))
    ]
    assert kept.read_bytes() == damaged
    assert str(kept) in result.stdout
    connection.close()
    assert data_checksum() == before


def corrupt_table_page(path, table="links_link"):
    """A structural error in one table's b-tree (its root page claims 65535
    cells): the file opens and the backup API copies it page by page, but
    PRAGMA quick_check reports it."""
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        (root,) = db.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = ?", [table]
        ).fetchone()
    db.close()
    with open(path, "r+b") as handle:
        handle.seek((root - 1) * page_size + (100 if root == 1 else 0) + 3)
        handle.write(b"\xff\xff")


@on_sqlite
def test_restore_over_a_corrupt_table_keeps_the_flagged_copy(lose_database):
    make_sample_data()
    before = data_checksum()
    backup = create_backup()
    connection.close()
    corrupt_table_page(connection.settings_dict["NAME"])

    result = manage("restore", str(backup.path), "--noinput")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "failed its integrity check" in result.stdout
    connection.close()
    assert data_checksum() == before
    [(copy, manifest)] = [
        (a, m) for a, m in listed(backup.path.parent) if m["purpose"] == "safety"
    ]
    assert manifest["integrity"]["ok"] is False
    assert str(copy) in result.stdout


@on_sqlite
def test_a_backup_of_a_damaged_database_fails_and_never_counts_as_good(
    lose_database,
):
    make_sample_data()
    good = create_backup()
    connection.close()
    corrupt_table_page(connection.settings_dict["NAME"])

    result = manage("backup", "--keep", "1")

    assert result.returncode == 1
    assert "FAILED its integrity check" in error_line(result.stderr)
    damaged = [a for a, m in listed(good.path.parent) if a != good.path]
    assert len(damaged) == 1
    # --keep 1 kept the damaged newest file, and the last good one too.
    assert good.path.exists()
    refused = manage("restore", str(damaged[0]), "--noinput")
    assert "is a copy of a damaged database" in error_line(refused.stderr)


def test_after_a_restore_the_history_shows_the_restore_and_the_safety_backup(
    transactional_db,
):
    make_sample_data()
    OpsRun.objects.create(kind="integrity", trigger="admin:alice", status="queued")
    running = OpsRun.objects.create(kind="backup", trigger="command", status="running")
    backup = create_backup()
    OpsRun.objects.all().delete()
    Link.objects.create(short_code="later", target_url="https://example.com/")

    result = manage("restore", str(backup.path), "--noinput")

    assert result.returncode == 0, result.stderr
    connection.close()
    runs = {run.pk: run for run in OpsRun.objects.all()}
    # The backup that was running in the snapshot is the one restored.
    assert runs[running.pk].status == "succeeded"
    assert backup.path.name in runs[running.pk].summary
    # The queued run in the snapshot is not run again.
    [queued] = [r for r in runs.values() if r.kind == "integrity"]
    assert queued.status == "failed"
    assert queued.summary.startswith("Not run")
    [safety] = [r for r in runs.values() if r.trigger == "restore"]
    assert safety.kind == "backup"
    assert safety.status == "succeeded"
    assert Path(safety.artifact_path).is_file()
    [restore] = [r for r in runs.values() if r.kind == "restore"]
    assert restore.status == "succeeded"
    assert safety.artifact_path in restore.summary


def test_after_a_restore_latest_and_retention_mean_the_backups_not_the_safety_copy(
    transactional_db,
):
    make_sample_data()
    backup = create_backup()
    restored = manage("restore", str(backup.path), "--noinput")
    assert restored.returncode == 0, restored.stderr
    [safety] = [a for a, m in listed(backup.path.parent) if m["purpose"] == "safety"]

    drill = manage("restore_test", "--latest", "--json")
    assert drill.returncode == 0, drill.stderr
    assert f'"path": "{backup.path}"' in drill.stdout

    pruned = manage("prune_backups", "--keep", "1")
    assert pruned.returncode == 0, pruned.stderr
    remaining = [a for a, _ in listed(backup.path.parent)]
    assert backup.path in remaining
    assert safety in remaining


def test_backups_are_readable_by_their_owner_only(db, settings):
    make_sample_data()
    backup = create_backup()
    assert backup.path.stat().st_mode & 0o777 == 0o600
    manifest = Path(f"{backup.path}.manifest.json")
    assert manifest.stat().st_mode & 0o777 == 0o600
    assert Path(settings.BACKUP_DIR).stat().st_mode & 0o777 == 0o700
