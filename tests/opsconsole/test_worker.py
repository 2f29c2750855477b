"""The operations worker: claiming queued runs, running them with the
commands' own logic, schedules, failures and SIGTERM."""

import io
import os
import signal
import subprocess
import sys
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from opsconsole.backups.files import sha256_of
from opsconsole.models import OpsRun, Schedule, WorkerHeartbeat
from opsconsole.worker import Worker, claim_next, queue_due_schedules
from tests.opsconsole.helpers import (
    listed,
    manage,
    manifest_path,
    subprocess_env,
    wait_for,
)
from tests.servers import ROOT


def run_opsworker(*args, check=True):
    """`manage.py opsworker --once` in a process of its own, on the test
    database. A restore test needs one: Django's test case forbids the
    scratch database's connection inside the test process."""
    result = manage("opsworker", "--once", *args, timeout=300)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def opsworker(*args):
    out = io.StringIO()
    call_command("opsworker", "--once", *args, stdout=out)
    return out.getvalue()


@pytest.fixture(autouse=True)
def backup_dir(settings, tmp_path):
    settings.BACKUP_DIR = tmp_path / "backups"
    return settings.BACKUP_DIR


@pytest.fixture
def committed(transactional_db):
    """Committed rows, as a worker in another connection or process sees
    them, and none of the default schedules (all due at once in a new
    database) adding runs of their own."""
    Schedule.objects.all().delete()


@pytest.fixture
def no_schedules(db):
    Schedule.objects.all().delete()


def test_queue_run_queues_one_run_and_not_a_second_while_it_is_waiting(no_schedules):
    run, created = OpsRun.objects.queue("backup", trigger="admin:alice")
    again, created_again = OpsRun.objects.queue("backup", trigger="admin:bob")
    assert created
    assert (run.status, run.trigger, run.started_at) == ("queued", "admin:alice", None)
    assert not created_again
    assert again == run
    assert OpsRun.objects.count() == 1


def test_a_queued_run_has_no_options_so_the_operations_defaults_apply(
    no_schedules,
):
    # A queued restore test drills the newest backup: the operation's own
    # default, the same one `manage.py restore_test --latest` uses.
    run, _ = OpsRun.objects.queue("restore_test", trigger="admin:alice")
    assert run.options == {}


def test_claim_takes_the_oldest_queued_run_once(no_schedules):
    first, _ = OpsRun.objects.queue("backup", trigger="admin:alice")
    second, _ = OpsRun.objects.queue("integrity", trigger="admin:alice")
    claimed = claim_next()
    assert claimed == first
    assert claimed.status == "running"
    assert claimed.started_at is not None
    assert OpsRun.objects.get(pk=first.pk).status == "running"
    assert claim_next() == second
    assert claim_next() is None


def test_worker_runs_a_queued_backup_and_records_its_artifact(committed, backup_dir):
    run, _ = OpsRun.objects.queue("backup", trigger="admin:alice")
    assert listed(backup_dir) == []
    output = opsworker()
    run.refresh_from_db()
    [(artifact, manifest)] = listed(backup_dir)
    assert manifest_path(artifact).is_file()
    assert run.status == "succeeded"
    assert run.trigger == "admin:alice"
    assert run.artifact_path == str(artifact)
    assert run.artifact_size == artifact.stat().st_size
    assert run.artifact_sha256 == sha256_of(artifact) == manifest["artifact"]["sha256"]
    assert run.result["path"] == str(artifact)
    assert run.summary.startswith(f"Backed up to {artifact}")
    assert run.started_at <= run.finished_at
    assert run.duration_seconds > 0
    assert "Run by opsworker" in run.output
    assert f"#{run.pk} backup (admin:alice): succeeded" in output
    # The queued row was taken over, not a second one created.
    assert OpsRun.objects.count() == 1


def test_worker_runs_integrity_checks_and_maintenance(committed):
    integrity, _ = OpsRun.objects.queue("integrity", trigger="schedule:integrity")
    maintenance, _ = OpsRun.objects.queue("maintenance", trigger="admin:alice")
    opsworker()
    integrity.refresh_from_db()
    maintenance.refresh_from_db()
    assert integrity.status == "succeeded"
    assert integrity.summary == "Integrity check passed: no findings."
    assert integrity.result["ok"] is True
    assert maintenance.status == "succeeded"
    assert maintenance.summary.startswith("Maintenance done")
    assert "vacuum" in maintenance.result["steps"][0]["step"]


@pytest.mark.slow
def test_worker_runs_a_restore_test_of_the_latest_backup(committed, backup_dir):
    OpsRun.objects.queue("backup", trigger="admin:alice")
    OpsRun.objects.queue("restore_test", trigger="admin:alice")
    run_opsworker()
    [(artifact, _)] = listed(backup_dir)
    restore_test = OpsRun.objects.get(kind="restore_test")
    assert restore_test.status == "succeeded"
    assert restore_test.result["path"] == str(artifact)
    assert restore_test.result["rto_seconds"] >= 0
    assert "passed" in restore_test.summary


@pytest.mark.slow
def test_a_failing_run_is_marked_failed_and_the_worker_goes_on(committed, backup_dir):
    # No backup exists yet, so the restore test cannot run at all.
    failing, _ = OpsRun.objects.queue("restore_test", trigger="admin:alice")
    after, _ = OpsRun.objects.queue("integrity", trigger="admin:alice")
    result = run_opsworker(check=False)
    failing.refresh_from_db()
    after.refresh_from_db()
    assert failing.status == "failed"
    assert failing.summary.startswith(f"no backup in {backup_dir}")
    assert failing.finished_at is not None
    assert after.status == "succeeded"
    assert result.returncode == 1
    assert "1 run(s) failed" in result.stderr


def test_the_worker_never_restores(no_schedules):
    run = OpsRun.objects.create(kind="restore", trigger="admin:mallory")
    with pytest.raises(CommandError, match="1 run"):
        opsworker()
    run.refresh_from_db()
    assert run.status == "failed"
    assert run.summary == "The worker does not run Restore operations."


def test_a_run_whose_options_the_operation_rejects_fails_instead_of_hanging(
    no_schedules,
):
    run = OpsRun.objects.create(
        kind="restore_test", trigger="admin:alice", options={"fastest": True}
    )
    with pytest.raises(CommandError):
        opsworker()
    run.refresh_from_db()
    assert run.status == "failed"
    assert "unexpected keyword argument 'fastest'" in run.summary
    assert run.finished_at is not None


def test_a_due_schedule_queues_one_run_and_moves_to_now_plus_interval(no_schedules):
    now = timezone.now()
    schedule = Schedule.objects.create(
        kind="backup", interval_hours=24, next_run_at=now - timedelta(minutes=1)
    )
    [run] = queue_due_schedules(now=now)
    schedule.refresh_from_db()
    assert (run.kind, run.status, run.trigger) == (
        "backup",
        "queued",
        "schedule:backup",
    )
    assert schedule.next_run_at == now + timedelta(hours=24)
    assert schedule.last_run == run
    assert queue_due_schedules(now=now) == []
    assert queue_due_schedules(now=now + timedelta(hours=23)) == []
    assert OpsRun.objects.count() == 1


def test_a_schedule_missed_for_days_runs_once_not_once_per_interval(no_schedules):
    now = timezone.now()
    schedule = Schedule.objects.create(
        kind="integrity", interval_hours=24, next_run_at=now - timedelta(days=10)
    )
    assert len(queue_due_schedules(now=now)) == 1
    schedule.refresh_from_db()
    assert schedule.next_run_at == now + timedelta(hours=24)
    assert queue_due_schedules(now=now + timedelta(minutes=5)) == []


def test_a_due_schedule_waits_while_a_run_of_its_kind_is_queued_or_running(
    no_schedules,
):
    now = timezone.now()
    due = now - timedelta(minutes=1)
    Schedule.objects.create(kind="backup", interval_hours=24, next_run_at=due)
    OpsRun.objects.create(kind="backup", trigger="admin:alice", status="running")
    assert queue_due_schedules(now=now) == []
    assert Schedule.objects.get().next_run_at == due
    OpsRun.objects.update(status="succeeded")
    assert len(queue_due_schedules(now=now)) == 1


def test_disabled_and_future_schedules_queue_nothing(no_schedules):
    now = timezone.now()
    Schedule.objects.create(
        kind="backup",
        interval_hours=24,
        enabled=False,
        next_run_at=now - timedelta(days=1),
    )
    Schedule.objects.create(
        kind="integrity", interval_hours=24, next_run_at=now + timedelta(minutes=1)
    )
    assert queue_due_schedules(now=now) == []


def test_worker_once_queues_and_runs_due_schedules(committed, backup_dir):
    Schedule.objects.create(
        kind="integrity",
        interval_hours=168,
        next_run_at=timezone.now() - timedelta(hours=2),
    )
    started = timezone.now()
    output = opsworker()
    run = OpsRun.objects.get()
    schedule = Schedule.objects.get()
    assert (run.kind, run.trigger, run.status) == (
        "integrity",
        "schedule:integrity",
        "succeeded",
    )
    assert schedule.last_run == run
    assert schedule.next_run_at >= started + timedelta(hours=168)
    assert not schedule.is_overdue()
    assert "queued #" in output
    opsworker()
    assert OpsRun.objects.count() == 1


def test_overdue_is_a_due_schedule_past_the_grace_period(no_schedules, settings):
    settings.OPS_SCHEDULE_GRACE_MINUTES = 60
    now = timezone.now()
    late = Schedule.objects.create(
        kind="backup", interval_hours=24, next_run_at=now - timedelta(minutes=61)
    )
    assert late.is_overdue(now)
    assert not late.is_overdue(now - timedelta(minutes=2))


def test_poll_must_be_positive(db):
    with pytest.raises(CommandError, match="--poll"):
        call_command("opsworker", "--poll", "0")


def test_sigterm_finishes_the_current_run_and_leaves_the_rest_queued(committed):
    current, _ = OpsRun.objects.queue("integrity", trigger="admin:alice")
    waiting, _ = OpsRun.objects.queue("backup", trigger="admin:alice")

    def report(line):
        # A real SIGTERM, delivered while the first run is under way.
        if line.startswith("opsworker: running"):
            os.kill(os.getpid(), signal.SIGTERM)

    previous = signal.getsignal(signal.SIGTERM)
    worker = Worker(poll=0.1, report=report)
    worker.stop_on_sigterm()
    try:
        worker.run_forever()
    finally:
        signal.signal(signal.SIGTERM, previous)
    current.refresh_from_db()
    waiting.refresh_from_db()
    assert current.status == "succeeded"
    assert waiting.status == "queued"


@pytest.mark.slow
def test_sigterm_stops_a_waiting_worker_process(committed, backup_dir):
    run, _ = OpsRun.objects.queue("integrity", trigger="admin:alice")
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "opsworker", "--poll", "0.2"],
        cwd=ROOT,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(
            lambda: OpsRun.objects.get(pk=run.pk).status == "succeeded",
            timeout=60,
            interval=0.05,
            message="the worker to run the queued run",
        )
        assert WorkerHeartbeat.objects.filter(pid=worker.pid).exists()
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert worker.returncode == 0, output
    assert "opsworker: stopped." in output
    # Stopped on purpose: no heartbeat left behind to go stale.
    assert not WorkerHeartbeat.objects.filter(pid=worker.pid).exists()
