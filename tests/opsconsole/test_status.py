"""The operations facts that /health/full, /metrics and the admin share, read
from real OpsRun rows and real backup files."""

import io
import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from opsconsole import status
from opsconsole.backups.files import sha256_of
from opsconsole.models import OpsRun, Schedule
from tests.opsconsole.test_worker import run_opsworker

GAUGES = [
    "tinylink_backup_last_success_timestamp_seconds",
    "tinylink_backup_last_size_bytes",
    "tinylink_restore_test_last_success",
    "tinylink_restore_test_last_timestamp_seconds",
    "tinylink_integrity_check_last_success",
]


@pytest.fixture(autouse=True)
def backup_dir(settings, tmp_path):
    settings.BACKUP_DIR = tmp_path / "backups"
    settings.BACKUP_MAX_AGE = 26
    settings.HEALTH_MIN_FREE_DISK_MB = 0
    return settings.BACKUP_DIR


@pytest.fixture
def artifact(backup_dir):
    backup_dir.mkdir()
    path = backup_dir / "tinylink-sqlite-20250101T000000000000Z.sqlite3"
    path.write_bytes(b"not really a database, only a file that exists")
    return path


def finished_run(kind, *, hours_ago=0.0, ok=True, **fields):
    finished = timezone.now() - timedelta(hours=hours_ago)
    return OpsRun.objects.create(
        kind=kind,
        trigger="command",
        status="succeeded" if ok else "failed",
        started_at=finished - timedelta(seconds=2),
        finished_at=finished,
        duration_seconds=2.0,
        **fields,
    )


def backup_run(path, *, hours_ago=0.0, ok=True):
    return finished_run(
        "backup",
        hours_ago=hours_ago,
        ok=ok,
        artifact_path=str(path),
        artifact_size=path.stat().st_size if path.exists() else 10,
        artifact_sha256="0" * 64,
    )


def scrape(client):
    body = client.get("/metrics").content.decode()
    values = {}
    for name in GAUGES:
        match = re.search(rf"^{name} (\S+)$", body, re.M)
        values[name] = float(match[1]) if match else None
    return values


def test_backup_status_is_missing_without_any_backup(db):
    assert status.backup_status() == "missing"


def test_backup_status_is_ok_for_a_recent_backup_whose_file_exists(db, artifact):
    backup_run(artifact, hours_ago=25)
    assert status.backup_status() == "ok"


def test_backup_status_is_stale_when_the_newest_backup_is_older_than_max_age(
    db, artifact, settings
):
    backup_run(artifact, hours_ago=27)
    assert status.backup_status() == "stale"
    settings.BACKUP_MAX_AGE = 48
    assert status.backup_status() == "ok"


def test_backup_status_is_missing_when_the_newest_backups_file_is_gone(db, artifact):
    backup_run(artifact, hours_ago=1)
    artifact.unlink()
    assert status.backup_status() == "missing"


def test_a_failed_backup_does_not_count_as_a_backup(db, artifact):
    backup_run(artifact, hours_ago=30)
    backup_run(artifact, hours_ago=1, ok=False)
    assert status.backup_status() == "stale"
    facts = status.gather_facts()
    assert facts.backup_attempt_failed
    assert any("newest backup attempt failed" in w for w in facts.warnings())


def test_queued_and_running_backups_do_not_count(db, artifact):
    OpsRun.objects.create(kind="backup", trigger="admin:alice", status="queued")
    OpsRun.objects.create(kind="backup", trigger="schedule:backup", status="running")
    assert status.backup_status() == "missing"


@pytest.mark.parametrize(
    ("hours_ago", "exists", "expected"),
    [(1, True, "ok"), (27, True, "stale"), (1, False, "missing")],
)
def test_full_health_reports_backups_from_the_recorded_runs(
    client, db, artifact, hours_ago, exists, expected
):
    backup_run(artifact, hours_ago=hours_ago)
    if not exists:
        artifact.unlink()
    body = client.get("/health/full").json()
    assert body["checks"]["backups"] == expected
    assert body["status"] == ("healthy" if expected == "ok" else "degraded")


def test_operations_facts_are_none_before_any_run(db):
    facts = status.operations_facts()
    assert [name for name, _, _ in facts] == GAUGES
    assert [value for _, _, value in facts] == [None] * 5


def test_operations_facts_read_the_newest_runs(db, artifact):
    backup_run(artifact, hours_ago=50)
    newest = backup_run(artifact, hours_ago=2)
    backup_run(artifact, hours_ago=1, ok=False)
    finished_run("restore_test", hours_ago=3, ok=False, result={"ok": False})
    finished_run("integrity", hours_ago=5, ok=False)
    finished_run("integrity", hours_ago=4)
    values = {name: value for name, _, value in status.operations_facts()}
    assert values == {
        "tinylink_backup_last_success_timestamp_seconds": (
            newest.finished_at.timestamp()
        ),
        "tinylink_backup_last_size_bytes": artifact.stat().st_size,
        "tinylink_restore_test_last_success": 0,
        "tinylink_restore_test_last_timestamp_seconds": (
            OpsRun.objects.get(kind="restore_test").finished_at.timestamp()
        ),
        "tinylink_integrity_check_last_success": 1,
    }


def test_metrics_gauges_have_no_value_before_any_run(client, db):
    assert scrape(client) == dict.fromkeys(GAUGES)


@pytest.mark.slow
def test_metrics_gauges_have_values_after_real_runs(
    client, transactional_db, backup_dir
):
    for kind in ("backup", "restore_test", "integrity"):
        OpsRun.objects.queue(kind, trigger="admin:alice")
    run_opsworker()
    backup = OpsRun.objects.get(kind="backup", status="succeeded")
    restore_test = OpsRun.objects.get(kind="restore_test", status="succeeded")
    values = scrape(client)
    assert values == {
        "tinylink_backup_last_success_timestamp_seconds": pytest.approx(
            backup.finished_at.timestamp()
        ),
        "tinylink_backup_last_size_bytes": backup.artifact_size,
        "tinylink_restore_test_last_success": 1.0,
        "tinylink_restore_test_last_timestamp_seconds": pytest.approx(
            restore_test.finished_at.timestamp()
        ),
        "tinylink_integrity_check_last_success": 1.0,
    }
    assert backup.artifact_sha256 == sha256_of(backup.artifact_path)
    assert client.get("/health/full").json()["checks"]["backups"] == "ok"


def test_storage_facts_count_the_complete_backups_on_disk(transactional_db, backup_dir):
    quiet = io.StringIO()
    call_command("backup", stdout=quiet, stderr=quiet)
    call_command("backup", stdout=quiet, stderr=quiet)
    # An interrupted backup: no manifest, so not a backup.
    (backup_dir / "tinylink-sqlite-partial.sqlite3").write_bytes(b"x" * 100)
    facts = status.gather_facts(storage=True)
    sizes = [run.artifact_size for run in OpsRun.objects.filter(kind="backup")]
    assert facts.backups_on_disk == 2
    assert facts.backups_on_disk_bytes == sum(sizes)
    assert facts.database_size > 0


def test_facts_warn_about_overdue_schedules_and_failed_checks(db, settings):
    settings.OPS_SCHEDULE_GRACE_MINUTES = 60
    Schedule.objects.all().delete()
    now = timezone.now()
    Schedule.objects.create(
        kind="backup", interval_hours=24, next_run_at=now - timedelta(hours=3)
    )
    Schedule.objects.create(
        kind="integrity", interval_hours=24, next_run_at=now - timedelta(minutes=30)
    )
    Schedule.objects.create(
        kind="maintenance",
        interval_hours=24,
        enabled=False,
        next_run_at=now - timedelta(days=3),
    )
    finished_run("restore_test", ok=False, summary="Restore test FAILED: counts")
    facts = status.gather_facts(now=now)
    assert [s.kind for s in facts.overdue] == ["backup"]
    warnings = facts.warnings()
    assert "No successful backup is recorded." in warnings
    assert any("backup schedule is overdue" in w for w in warnings)
    assert any("restore test failed: Restore test FAILED" in w for w in warnings)
    assert not any("integrity" in w or "maintenance" in w for w in warnings)


def test_restore_test_gauge_is_the_newest_finished_test_not_one_without_a_time(db):
    # PostgreSQL sorts NULL first in "ORDER BY finished_at DESC": the run
    # without a finish time hid the passing test, and the gauge stayed 0.
    finished_run("restore_test", hours_ago=1, result={"ok": True})
    OpsRun.objects.create(kind="restore_test", trigger="command", status="failed")
    values = {name: value for name, _, value in status.operations_facts()}
    assert values["tinylink_restore_test_last_success"] == 1
