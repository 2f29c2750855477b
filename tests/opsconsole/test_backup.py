"""create_backup and `manage.py backup`: complete or absent, consistent while
another process writes, one operation at a time. On the database under test,
through separate connections (and pg_dump), so the data is committed first."""

import io
import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest
from django.core.management import CommandError, call_command

from links.models import Link
from opsconsole.backups.create import create_backup
from opsconsole.backups.locks import operation_lock
from opsconsole.backups.restore import restore_backup
from opsconsole.backups.verify import verify_backup
from opsconsole.errors import OpsError
from opsconsole.models import OpsRun
from tests.opsconsole.helpers import (
    add_links,
    error_line,
    listed,
    make_sample_data,
    manage,
    manifest_path,
    subprocess_env,
    wait_for,
)
from tests.servers import ROOT

BATCH = 7

# Moves clicks from link A to link B, one per transaction (their sum never
# changes), and every few moves inserts BATCH links in one transaction, until
# the stop file appears or the deadline passes. Prints "ready" after its
# first move, then its totals.
WRITER = textwrap.dedent(
    """
    import os, sys, time
    import django
    django.setup()
    from django.db import connection, transaction
    from links.models import Link

    a, b, batch = (int(arg) for arg in sys.argv[1:4])
    stop = sys.argv[4]
    deadline = time.monotonic() + 60
    moves = batches = 0
    while not os.path.exists(stop) and time.monotonic() < deadline:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "UPDATE links_link SET click_count = click_count - 1 WHERE id = %s", [a]
            )
            cursor.execute(
                "UPDATE links_link SET click_count = click_count + 1 WHERE id = %s", [b]
            )
        moves += 1
        if moves == 1:
            print("ready", flush=True)
        if moves % 3 == 0:
            with transaction.atomic():
                Link.objects.bulk_create(
                    Link(short_code=f"w{batches}-{i}", target_url="https://example.com/")
                    for i in range(batch)
                )
            batches += 1
    print(moves, batches, flush=True)
    """
)


@pytest.fixture(autouse=True)
def _backups_in_tmp(settings, tmp_path):
    settings.BACKUP_DIR = tmp_path / "backups"


def test_backup_is_an_artifact_with_a_manifest_that_verifies(transactional_db):
    make_sample_data()
    result = create_backup()
    assert [artifact for artifact, _ in listed(result.path.parent)] == [result.path]
    manifest = json.loads(manifest_path(result.path).read_text())
    assert manifest["artifact"]["size"] == result.path.stat().st_size
    assert manifest["row_counts"]["links_link"] == 4
    assert manifest["row_counts"]["links_linkdailyclicks"] == 6
    assert ["links", "0001_initial"] in manifest["migrations"]
    assert verify_backup(result.path).manifest == manifest
    assert not list(result.path.parent.glob("*.partial"))


def test_backup_keeps_the_newest_n(transactional_db):
    paths = [create_backup(keep=2).path for _ in range(3)]
    assert [artifact for artifact, _ in listed(paths[0].parent)] == [
        paths[2],
        paths[1],
    ]


@pytest.mark.slow
def test_backup_while_another_process_writes_restores_a_consistent_moment(
    transactional_db, tmp_path
):
    # Enough rows that the copy takes a moment while the writer runs.
    add_links(20_000, "bulk")
    a = Link.objects.create(
        short_code="a", target_url="https://example.com/a", click_count=10**6
    )
    b = Link.objects.create(short_code="b", target_url="https://example.com/b")
    stop = tmp_path / "stop"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(a.pk), str(b.pk), str(BATCH), str(stop)],
        cwd=ROOT,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout.readline().strip() == "ready", writer.stderr.read()
        before = Link.objects.get(pk=a.pk).click_count
        backup = create_backup()
        after = Link.objects.get(pk=a.pk).click_count
    finally:
        stop.touch()
        out, err = writer.communicate(timeout=90)
    assert writer.returncode == 0, err
    moves, batches = map(int, out.split())
    assert moves > batches > 0
    assert after < before, "the writer was not writing while the backup ran"

    restore_backup(backup.path)

    restored = {link.short_code: link.click_count for link in Link.objects.all()}
    assert restored["a"] + restored["b"] == 10**6
    new_links = Link.objects.filter(short_code__startswith="w").count()
    assert new_links % BATCH == 0
    assert backup.manifest["row_counts"]["links_link"] == 20_002 + new_links
    # The snapshot is of one moment while the writer ran, not before or after.
    assert after <= restored["a"] <= before


@pytest.mark.slow
def test_kill_9_during_a_backup_leaves_nothing_that_passes_for_a_backup(
    transactional_db, settings
):
    add_links(200_000, "k")
    backups, staging = settings.BACKUP_DIR, settings.BACKUP_STAGING_DIR
    process = subprocess.Popen(
        [sys.executable, "manage.py", "backup"],
        cwd=ROOT,
        env=subprocess_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # Killed mid-dump: once the dump in its staging area has bytes.
        wait_for(
            lambda: _dump_has_bytes(staging),
            timeout=60,
            interval=0.001,
            message="bytes in the backup's staging dump",
        )
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    assert any(p.name.startswith(f"op-{process.pid}-") for p in staging.iterdir())
    assert listed() == []
    assert not backups.exists() or not any(
        p.name.endswith(".manifest.json") for p in backups.iterdir()
    )

    # The killed process's lock died with it; the next backup is whole, and
    # clears the staging area the killed one left.
    result = wait_for(
        lambda: _backup_or_none(), timeout=10, interval=0.2, message="a backup"
    )
    assert [artifact for artifact, _ in listed()] == [result.path]
    verify_backup(result.path)
    assert result.manifest["row_counts"]["links_link"] == 200_000
    assert list(staging.iterdir()) == []
    assert not [p for p in backups.iterdir() if p.name.endswith(".partial")]


def _dump_has_bytes(staging):
    for path in staging.glob("op-*/dump"):
        try:
            if path.stat().st_size:
                return True
        except FileNotFoundError:  # packed and removed meanwhile
            continue
    return False


def _backup_or_none():
    try:
        return create_backup()
    except OpsError as exc:
        if "running" not in str(exc):
            raise
        return None


@pytest.mark.parametrize("command", ["backup", "dbmaintenance"])
def test_a_second_operation_is_refused_while_one_runs(
    transactional_db, settings, command
):
    with (
        operation_lock("backup"),
        pytest.raises(CommandError, match="wait for it to finish"),
    ):
        call_command(command, stdout=io.StringIO(), stderr=io.StringIO())
    assert listed(settings.BACKUP_DIR) == []
    assert OpsRun.objects.get().status == "failed"


@pytest.mark.slow
def test_backup_command_exits_non_zero_while_a_backup_runs(transactional_db):
    with operation_lock("backup"):
        result = manage("backup")
    assert result.returncode == 1
    assert error_line(result.stderr).endswith("wait for it to finish.")


def test_the_refusal_names_the_running_operation(transactional_db):
    with (
        operation_lock("restore"),
        pytest.raises(CommandError, match=rf"restore \(pid {os.getpid()}\)"),
    ):
        call_command("backup", stdout=io.StringIO(), stderr=io.StringIO())
