"""The operations facts that /health/full, /metrics and the admin share: the
backups and drill records from the backup directory, the rest from real
OpsRun rows."""

import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from opsconsole import status
from opsconsole.backups.files import sha256_of
from opsconsole.backups.manifest import SAFETY
from opsconsole.models import OpsRun, Schedule
from opsconsole.opsmetrics import operations_gauges
from tests.opsconsole.helpers import listed, write_backup, write_drill
from tests.opsconsole.test_worker import run_opsworker

GAUGES = [
    "tinylink_backup_last_success_timestamp_seconds",
    "tinylink_backup_last_size_bytes",
    "tinylink_restore_test_last_success",
    "tinylink_restore_test_last_timestamp_seconds",
    "tinylink_restore_test_last_rto_seconds",
    "tinylink_integrity_check_last_success",
]
NEVER = {
    "tinylink_backup_last_success_timestamp_seconds": 0,
    "tinylink_backup_last_size_bytes": None,
    "tinylink_restore_test_last_success": None,
    "tinylink_restore_test_last_timestamp_seconds": 0,
    "tinylink_restore_test_last_rto_seconds": None,
    "tinylink_integrity_check_last_success": None,
}


@pytest.fixture(autouse=True)
def backup_dir(settings, tmp_path):
    settings.BACKUP_DIR = tmp_path / "backups"
    settings.BACKUP_MAX_AGE = 26
    settings.HEALTH_MIN_FREE_DISK_MB = 0
    return settings.BACKUP_DIR


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


def gauges(names=GAUGES):
    return {name: value for name, _, value in operations_gauges() if name in names}


def scrape(client):
    body = client.get("/metrics").content.decode()
    values = {}
    for name in GAUGES:
        match = re.search(rf"^{name} (\S+)$", body, re.M)
        values[name] = float(match[1]) if match else None
    return values


def created_at(artifact):
    [manifest] = [m for a, m in listed(artifact.parent) if a == artifact]
    return datetime.fromisoformat(manifest["created_at"])


# --- Backups: read from the backup directory ------------------------------------------


def test_backup_status_is_missing_without_any_backup(db):
    assert status.backup_status() == "missing"


def test_backup_status_is_ok_for_a_recent_backup(db, backup_dir):
    write_backup(backup_dir, hours_ago=25)
    assert status.backup_status() == "ok"


def test_backup_status_is_stale_when_the_newest_backup_is_older_than_max_age(
    db, backup_dir, settings
):
    write_backup(backup_dir, hours_ago=27)
    assert status.backup_status() == "stale"
    settings.BACKUP_MAX_AGE = 48
    assert status.backup_status() == "ok"


def test_backup_status_is_missing_when_the_backups_file_is_gone(db, backup_dir):
    write_backup(backup_dir, hours_ago=1).unlink()
    assert status.backup_status() == "missing"


def test_a_restores_safety_copy_is_not_a_backup(db, backup_dir):
    write_backup(backup_dir, hours_ago=1, purpose=SAFETY)
    assert status.backup_status() == "missing"


def test_a_backup_that_failed_its_integrity_check_does_not_count(db, backup_dir):
    good = write_backup(backup_dir, hours_ago=30)
    bad = write_backup(backup_dir, hours_ago=1, ok=False)
    facts = status.gather_facts()
    assert facts.newest_backup.path == str(good)
    assert facts.backup_state == "stale"
    assert facts.newest_unverified.path == str(bad)
    assert (
        f"The newest backup, {bad.name}, failed its integrity check: row 3 "
        "missing from index links_link_short_code"
    ) in facts.warnings()


def test_a_failed_backup_run_is_a_warning_beside_the_backups_on_disk(db, backup_dir):
    write_backup(backup_dir, hours_ago=2)
    finished_run("backup", hours_ago=1, ok=False, summary="disk full")
    facts = status.gather_facts()
    assert facts.backup_state == "ok"
    assert "The newest backup attempt failed: disk full" in facts.warnings()


@pytest.mark.parametrize(
    ("hours_ago", "exists", "expected"),
    [(1, True, "ok"), (27, True, "stale"), (1, False, "missing")],
)
def test_full_health_reports_backups_from_the_backup_directory(
    client, db, backup_dir, hours_ago, exists, expected
):
    artifact = write_backup(backup_dir, hours_ago=hours_ago)
    if not exists:
        artifact.unlink()
    body = client.get("/health/full").json()
    assert body["checks"]["backups"] == expected


def test_full_health_says_ok_after_a_restore_rewinds_the_run_history(
    client, transactional_db, backup_dir
):
    quiet = io.StringIO()
    call_command("backup", stdout=quiet, stderr=quiet)
    assert client.get("/health/full").json()["checks"]["backups"] == "ok"
    # What restoring a snapshot taken before this backup does to the history.
    OpsRun.objects.all().delete()
    assert client.get("/health/full").json()["checks"]["backups"] == "ok"
    [(artifact, manifest)] = listed(backup_dir)
    assert scrape(client)["tinylink_backup_last_success_timestamp_seconds"] == (
        pytest.approx(datetime.fromisoformat(manifest["created_at"]).timestamp())
    )
    assert scrape(client)["tinylink_backup_last_size_bytes"] == artifact.stat().st_size


# --- Restore tests: the drill record beside the backup, or the newer run ------------


def test_the_restore_test_is_read_from_the_drill_record_when_no_run_is_left(
    db, backup_dir
):
    artifact = write_backup(backup_dir, hours_ago=3)
    at = write_drill(artifact, hours_ago=2, rto_seconds=4.5)
    values = gauges()
    assert values["tinylink_restore_test_last_success"] == 1
    assert values["tinylink_restore_test_last_timestamp_seconds"] == pytest.approx(
        at.timestamp()
    )
    assert values["tinylink_restore_test_last_rto_seconds"] == 4.5


def test_the_newest_of_drill_record_and_run_is_the_restore_test(db, backup_dir):
    artifact = write_backup(backup_dir, hours_ago=3)
    write_drill(artifact, passed=True, hours_ago=2)
    # A drill that could not load the backup at all leaves only its run.
    finished_run("restore_test", hours_ago=1, ok=False, summary="checksum differs")
    facts = status.gather_facts()
    assert facts.restore_test.passed is False
    assert "The newest restore test failed: checksum differs" in facts.warnings()
    write_drill(artifact, passed=False, hours_ago=0)
    assert status.gather_facts().restore_test.summary == (
        "row counts differ from the manifest"
    )


def test_a_drill_record_this_installation_did_not_sign_is_ignored(db, backup_dir):
    artifact = write_backup(backup_dir, hours_ago=3)
    Path(f"{artifact}.drill.json").write_text(
        json.dumps({"passed": True, "at": datetime.now(UTC).isoformat()})
    )
    assert gauges()["tinylink_restore_test_last_success"] is None


def test_restore_test_gauge_is_the_newest_finished_test_not_one_without_a_time(db):
    # PostgreSQL sorts NULL first in "ORDER BY finished_at DESC": the run
    # without a finish time hid the passing test, and the gauge stayed 0.
    finished_run("restore_test", hours_ago=1, result={"ok": True})
    OpsRun.objects.create(kind="restore_test", trigger="command", status="failed")
    assert gauges()["tinylink_restore_test_last_success"] == 1


# --- The gauges ---------------------------------------------------------------------


def test_before_any_backup_the_timestamps_are_zero_and_the_rest_has_no_value(db):
    assert [name for name, _, _ in operations_gauges()][: len(GAUGES)] == GAUGES
    assert gauges() == NEVER


def test_metrics_export_the_timestamps_even_before_any_backup(client, db):
    # An absent series never fires `time() - x > 26 * 3600`; a zero does.
    assert scrape(client) == NEVER


def test_operations_facts_read_the_backups_and_the_newest_runs(db, backup_dir):
    write_backup(backup_dir, hours_ago=50)
    newest = write_backup(backup_dir, hours_ago=2)
    write_backup(backup_dir, hours_ago=1, ok=False)
    finished_run("restore_test", hours_ago=3, ok=False, result={"ok": False})
    finished_run("integrity", hours_ago=5, ok=False)
    finished_run("integrity", hours_ago=4)
    assert gauges() == {
        "tinylink_backup_last_success_timestamp_seconds": pytest.approx(
            created_at(newest).timestamp()
        ),
        "tinylink_backup_last_size_bytes": newest.stat().st_size,
        "tinylink_restore_test_last_success": 0,
        "tinylink_restore_test_last_timestamp_seconds": (
            OpsRun.objects.get(kind="restore_test").finished_at.timestamp()
        ),
        "tinylink_restore_test_last_rto_seconds": None,
        "tinylink_integrity_check_last_success": 1,
    }


@pytest.mark.slow
def test_metrics_gauges_have_values_after_real_runs_and_keep_them_after_a_rewind(
    client, transactional_db, backup_dir
):
    for kind in ("backup", "restore_test", "integrity"):
        OpsRun.objects.queue(kind, trigger="admin:alice")
    run_opsworker()
    backup = OpsRun.objects.get(kind="backup", status="succeeded")
    restore_test = OpsRun.objects.get(kind="restore_test", status="succeeded")
    [(artifact, manifest)] = listed(backup_dir)
    assert backup.artifact_path == str(artifact)
    assert backup.artifact_sha256 == sha256_of(artifact)
    expected = {
        "tinylink_backup_last_success_timestamp_seconds": pytest.approx(
            datetime.fromisoformat(manifest["created_at"]).timestamp()
        ),
        "tinylink_backup_last_size_bytes": backup.artifact_size,
        "tinylink_restore_test_last_success": 1.0,
        "tinylink_restore_test_last_timestamp_seconds": pytest.approx(
            restore_test.finished_at.timestamp()
        ),
        "tinylink_restore_test_last_rto_seconds": restore_test.result["rto_seconds"],
        "tinylink_integrity_check_last_success": 1.0,
    }
    assert scrape(client) == expected
    assert client.get("/health/full").json()["checks"]["backups"] == "ok"

    # A restore of an older snapshot: the history is gone, the files are not.
    OpsRun.objects.all().delete()
    after = scrape(client)
    assert after == {
        **expected,
        # The drill's own record, written just before its run finished.
        "tinylink_restore_test_last_timestamp_seconds": pytest.approx(
            restore_test.finished_at.timestamp(), abs=5
        ),
        "tinylink_integrity_check_last_success": None,
    }


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


def test_facts_warn_about_overdue_schedules_and_failed_checks(db, settings, backup_dir):
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
    assert f"No verified backup is in {backup_dir}." in warnings
    assert any("backup schedule is overdue" in w for w in warnings)
    assert any("restore test failed: Restore test FAILED" in w for w in warnings)
    assert not any("integrity" in w or "maintenance" in w for w in warnings)


# --- The worker, the queue and the database ---------------------------------------


def test_a_manifest_this_installation_did_not_sign_makes_no_backup_fresh(
    db, backup_dir
):
    # Anyone who can write to the store could otherwise silence the
    # "backup too old" alert with a hand-made manifest dated now.
    old = write_backup(backup_dir, hours_ago=40)
    forged = write_backup(backup_dir, hours_ago=0)
    manifest = json.loads(Path(f"{forged}.manifest.json").read_text())
    manifest["signature"] = "0" * 64
    Path(f"{forged}.manifest.json").write_text(json.dumps(manifest))

    facts = status.gather_facts()

    assert facts.newest_backup.path == str(old)
    assert facts.backup_state == "stale"
