"""The backup store behind STORAGES["backups"]: an S3-compatible bucket (a
real S3 API served locally by moto), compression and encryption. Every
operation works against the store, and a second host sees the same
backups."""

import json
import os
import time

import pytest
from django.db import connection
from pyrage import x25519

from links.models import Link
from opsconsole.backups.catalog import list_backups, orphans
from opsconsole.backups.create import create_backup
from opsconsole.backups.retention import prune_backups
from opsconsole.backups.verify import verify_backup
from opsconsole.errors import OpsError
from tests.opsconsole import s3_server
from tests.opsconsole.helpers import (
    add_links,
    data_checksum,
    error_line,
    make_sample_data,
    manage,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory):
    with s3_server.s3_server(tmp_path_factory.mktemp("moto")) as url:
        yield url


@pytest.fixture
def s3_store(s3_endpoint, settings, monkeypatch, tmp_path):
    """This process and the `manage.py` processes it starts use a new bucket;
    BACKUP_DIR is somewhere else entirely, and stays empty."""
    bucket = s3_server.new_bucket(s3_endpoint)
    env = s3_server.store_env(s3_endpoint, bucket)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings.BACKUP_DIR = tmp_path / "local-backups-unused"
    settings.STORAGES = {
        **settings.STORAGES,
        "backups": s3_server.store_settings(s3_endpoint, bucket),
    }
    return {"bucket": bucket, "env": env, "endpoint": s3_endpoint}


def _objects(s3_store):
    listing = s3_server.client(s3_store["endpoint"]).list_objects_v2(
        Bucket=s3_store["bucket"]
    )
    return sorted(item["Key"] for item in listing.get("Contents", []))


def test_a_backup_goes_to_the_bucket_and_nowhere_else(
    transactional_db, s3_store, settings
):
    make_sample_data()
    result = create_backup()

    assert _objects(s3_store) == [
        f"backups/{result.name}",
        f"backups/{result.name}.manifest.json",
    ]
    assert result.location == f"s3://{s3_store['bucket']}/backups/{result.name}"
    assert not settings.BACKUP_DIR.exists()
    [listed] = list_backups()
    assert listed.name == result.name
    assert verify_backup(listed.name).manifest == result.manifest


def test_a_second_host_restores_from_the_bucket_into_a_lost_database(
    transactional_db, s3_store, tmp_path
):
    make_sample_data()
    before = data_checksum()
    create_backup()
    Link.objects.all().delete()
    connection.close()
    other_host = {
        **s3_store["env"],
        "BACKUP_DIR": str(tmp_path / "other-host-backups"),
        "BACKUP_STAGING_DIR": str(tmp_path / "other-host-staging"),
    }

    listed = manage("list_backups", "--json", env=other_host)
    drill = manage("restore_test", "--latest", env=other_host)
    restore = manage("restore", "--latest", "--noinput", env=other_host)

    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)["backups"]) == 1
    assert drill.returncode == 0, drill.stdout + drill.stderr
    assert restore.returncode == 0, restore.stdout + restore.stderr
    connection.close()
    assert data_checksum() == before
    # The safety copy went to the bucket too, beside the backup and its drill.
    assert len([o for o in _objects(s3_store) if o.endswith(".manifest.json")]) == 2
    assert any(o.endswith(".drill.json") for o in _objects(s3_store))


def test_prune_and_orphans_work_against_the_bucket(transactional_db, s3_store):
    make_sample_data()
    names = [create_backup(keep=10).name for _ in range(3)]
    orphan = "tinylink-sqlite-20000101T000000000000Z.sqlite3.zst"
    s3_server.client(s3_store["endpoint"]).put_object(
        Bucket=s3_store["bucket"], Key=f"backups/{orphan}", Body=b"killed upload"
    )
    # S3 dates an object by its upload; an orphan is one older than an hour.
    assert orphans() == []

    result = prune_backups(keep=1)

    assert result.deleted == names[:2][::-1]
    assert [b.name for b in list_backups()] == [names[2]]
    assert f"backups/{orphan}" in _objects(s3_store)


def test_an_old_orphan_is_listed_and_pruned_a_fresh_one_is_left_alone(
    transactional_db, settings, tmp_path
):
    settings.BACKUP_DIR = tmp_path / "backups"
    make_sample_data()
    backup = create_backup()
    old = settings.BACKUP_DIR / "tinylink-sqlite-20000101T000000000000Z.sqlite3.zst"
    fresh = settings.BACKUP_DIR / "tinylink-sqlite-20990101T000000000000Z.sqlite3.zst"
    for path in (old, fresh):
        path.write_bytes(b"a killed upload")
    two_hours_ago = time.time() - 2 * 3600
    os.utime(old, (two_hours_ago, two_hours_ago))

    listed = manage("list_backups")
    assert f"orphan: {old.name}" in listed.stderr
    assert fresh.name not in listed.stderr

    result = prune_backups(keep=5)

    assert result.orphans == [old.name]
    assert not old.exists()
    assert fresh.exists()
    assert [b.name for b in list_backups()] == [backup.name]


def test_an_unreachable_store_is_one_line(transactional_db, settings, s3_store):
    settings.STORAGES = {
        **settings.STORAGES,
        "backups": s3_server.store_settings("http://127.0.0.1:9", "nowhere"),
    }
    result = manage(
        "backup",
        env={**s3_store["env"], "BACKUP_S3_ENDPOINT_URL": "http://127.0.0.1:9"},
    )
    assert result.returncode == 1
    assert "backup store" in error_line(result.stderr)


def test_compression_makes_a_backup_of_many_links_several_times_smaller(
    transactional_db, settings, tmp_path
):
    settings.BACKUP_DIR = tmp_path / "backups"
    add_links(20_000, "zz", target_size=120)
    result = create_backup()
    assert result.name.endswith(".zst")
    assert result.manifest["raw_size"] > 5 * result.size


@pytest.fixture
def age_key():
    identity = x25519.Identity.generate()
    return str(identity), str(identity.to_public())


def test_an_encrypted_backup_restores_only_with_its_key(
    transactional_db, settings, tmp_path, age_key
):
    secret, public = age_key
    settings.BACKUP_DIR = tmp_path / "backups"
    settings.BACKUP_ENCRYPTION_RECIPIENTS = [public]
    make_sample_data()
    before = data_checksum()
    result = create_backup()
    assert result.name.endswith(".zst.age")
    assert b"example.com" not in result.path.read_bytes()
    assert result.manifest["packing"]["recipients"] == [public]
    Link.objects.all().delete()
    connection.close()
    key_file = tmp_path / "backup.key"
    key_file.write_text(secret + "\n")
    wrong = tmp_path / "wrong.key"
    wrong.write_text(str(x25519.Identity.generate()) + "\n")

    no_key = manage("restore", result.name, "--noinput")
    wrong_key = manage(
        "restore",
        result.name,
        "--noinput",
        env={"BACKUP_DECRYPTION_KEY_FILE": str(wrong)},
    )
    right_key = manage(
        "restore",
        result.name,
        "--noinput",
        env={"BACKUP_DECRYPTION_KEY_FILE": str(key_file)},
    )

    assert no_key.returncode == 1
    assert "this backup is encrypted: set BACKUP_DECRYPTION_KEY_FILE" in error_line(
        no_key.stderr
    )
    assert wrong_key.returncode == 1
    assert "cannot decrypt" in error_line(wrong_key.stderr)
    assert right_key.returncode == 0, right_key.stdout + right_key.stderr
    connection.close()
    assert data_checksum() == before


def test_a_bad_recipient_key_is_a_clear_error(db, settings, tmp_path):
    settings.BACKUP_DIR = tmp_path / "backups"
    settings.BACKUP_ENCRYPTION_RECIPIENTS = ["not-an-age-key"]
    with pytest.raises(OpsError, match="not an age public key"):
        create_backup()
    assert list_backups() == []
