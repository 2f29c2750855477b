"""opsconsole's migrations where they do more than create tables, run on the
database under test."""

from datetime import timedelta

from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from opsconsole.models import OpsRun, RunLease, Schedule, WorkerHeartbeat

BEFORE_LEASES = ("opsconsole", "0002_default_schedules")
LEASES = ("opsconsole", "0003_run_leases_and_worker_heartbeats")
OLD_RUNS_LEASED = ("opsconsole", "0004_lease_runs_left_running")


def migrate(target=None):
    """Migrate to `target`, by default to the newest migrations."""
    executor = MigrationExecutor(connection)
    executor.migrate(target or executor.loader.graph.leaf_nodes())


def test_a_run_left_running_before_leases_gets_one_that_runs_out(transactional_db):
    migrate([BEFORE_LEASES])
    stuck = OpsRun.objects.create(
        kind="backup", trigger="schedule:backup", status="running"
    )
    done = OpsRun.objects.create(kind="backup", trigger="command", status="succeeded")
    before = timezone.now()
    migrate()
    after = timezone.now()
    lease = RunLease.objects.get(run=stuck)
    assert lease.holder == "a process from before run leases"
    assert lease.heartbeat_at == stuck.created_at
    hour = timedelta(hours=1)
    assert before + hour <= lease.expires_at <= after + hour
    assert not RunLease.objects.filter(run=done).exists()
    later = lease.expires_at + timedelta(seconds=1)
    assert OpsRun.objects.expire_leases(now=later) == [stuck]


def test_migrating_again_keeps_the_tables_a_restore_left_in_place(transactional_db):
    # pg_restore --clean of a snapshot from before leases drops and loads
    # only the tables the snapshot holds; the restore then migrates its
    # django_migrations forward, over tables that are there already.
    heartbeat = WorkerHeartbeat.objects.create(hostname="web-1", pid=7)
    recorder = MigrationRecorder(connection)
    # Such a snapshot has none of the later migrations recorded either.
    for app, name in recorder.applied_migrations():
        if app == "opsconsole" and name >= LEASES[1]:
            recorder.record_unapplied(app, name)
    migrate()
    assert {LEASES, OLD_RUNS_LEASED} <= set(recorder.applied_migrations())
    assert WorkerHeartbeat.objects.get() == heartbeat


def test_schedules_that_would_fire_at_once_wait_for_the_worker_others_keep_their_time(
    transactional_db,
):
    migrate([OLD_RUNS_LEASED])
    Schedule.objects.all().delete()
    now = timezone.now()
    nightly = now + timedelta(hours=9)  # an operator's chosen first run
    ran = OpsRun.objects.create(kind="integrity", trigger="command", status="succeeded")
    Schedule.objects.create(kind="backup", interval_hours=24, next_run_at=now)
    Schedule.objects.create(
        kind="restore_test", interval_hours=168, next_run_at=nightly
    )
    Schedule.objects.create(
        kind="integrity", interval_hours=168, next_run_at=now, last_run=ran
    )
    migrate()
    times = dict(Schedule.objects.values_list("kind", "next_run_at"))
    assert times == {"backup": None, "restore_test": nightly, "integrity": now}
