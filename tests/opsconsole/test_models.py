"""OpsRunQuerySet: which run is "the newest", on both databases.

PostgreSQL sorts NULL above every value in a descending order, SQLite below:
a run without a finish time must never count as the newest finished one."""

from datetime import timedelta

import pytest
from django.utils import timezone

from opsconsole.models import OpsRun, RunLease, WorkerHeartbeat


def run(kind, status, *, finished_at, **fields):
    return OpsRun.objects.create(
        kind=kind,
        trigger="command",
        status=status,
        finished_at=finished_at,
        **fields,
    )


@pytest.mark.parametrize("status", ["succeeded", "failed"])
def test_a_run_without_a_finish_time_is_never_the_latest(db, status):
    finished = run("restore_test", "succeeded", finished_at=timezone.now())
    run("restore_test", status, finished_at=None)
    assert OpsRun.objects.latest_finished("restore_test") == finished
    assert OpsRun.objects.latest_success("restore_test") == finished


def test_the_latest_is_the_newest_finish_time_not_the_newest_row(db):
    now = timezone.now()
    newer = run("backup", "succeeded", finished_at=now)
    run("backup", "succeeded", finished_at=now - timedelta(hours=1))
    assert OpsRun.objects.latest_success("backup") == newer


def test_a_files_last_verification_is_its_newest_finished_test(db):
    path = "/backups/tinylink-sqlite-1.sqlite3"
    tested = run(
        "restore_test", "succeeded", finished_at=timezone.now(), result={"path": path}
    )
    run("restore_test", "failed", finished_at=None, result={"path": path})
    assert OpsRun.objects.last_verifications([path]) == {path: tested}


# --- Leases: a running run whose process died does not hold its kind forever ----


def running(
    kind, *, lease_in, heartbeat_ago=None, holder="opsworker on web-1 (pid 4242)"
):
    """A run "running" whose lease ends `lease_in` from now (negative: ran
    out), renewed last `heartbeat_ago` ago."""
    now = timezone.now()
    heartbeat_ago = heartbeat_ago if heartbeat_ago is not None else -lease_in
    run = OpsRun.objects.create(
        kind=kind,
        trigger=f"schedule:{kind}",
        status="running",
        started_at=now - timedelta(hours=1),
    )
    RunLease.objects.create(
        run=run,
        holder=holder,
        heartbeat_at=now - heartbeat_ago,
        expires_at=now + lease_in,
    )
    return run


def test_a_run_whose_lease_ran_out_is_failed_naming_its_process(db):
    dead = running(
        "backup", lease_in=timedelta(minutes=-8), heartbeat_ago=timedelta(minutes=10)
    )
    alive = running("integrity", lease_in=timedelta(minutes=1))
    [expired] = OpsRun.objects.expire_leases()
    assert expired == dead
    dead.refresh_from_db()
    alive.refresh_from_db()
    assert dead.status == "failed"
    assert dead.summary == (
        "opsworker on web-1 (pid 4242) stopped (no heartbeat since "
        f"{dead.lease.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC): the run did not finish."
    )
    assert dead.finished_at is not None
    assert alive.status == "running"
    assert OpsRun.objects.expire_leases() == []


def test_a_run_without_a_lease_is_left_alone(db):
    # Only a process that took a lease can be said to have stopped renewing it.
    run = OpsRun.objects.create(kind="backup", trigger="command", status="running")
    assert OpsRun.objects.expire_leases() == []
    run.refresh_from_db()
    assert run.status == "running"


def test_queue_expires_a_run_whose_lease_ran_out_and_queues_a_new_one(db):
    # A kill -9'd backup: its run stayed "running", and every backup after it
    # was "already running".
    killed = running("backup", lease_in=timedelta(seconds=-1))
    run, created = OpsRun.objects.queue("backup", trigger="schedule:backup")
    assert created
    assert (run.status, run.kind) == ("queued", "backup")
    killed.refresh_from_db()
    assert killed.status == "failed"


def test_queue_still_refuses_a_second_run_while_the_lease_holds(db):
    holding = running("backup", lease_in=timedelta(minutes=1))
    assert OpsRun.objects.queue("backup", trigger="admin:alice") == (holding, False)


def test_renewing_a_lease_moves_it_on_only_while_the_run_is_running(db, settings):
    settings.OPS_WORKER_STALE_SECONDS = 120
    run = running("backup", lease_in=timedelta(seconds=5))
    now = timezone.now()
    assert run.renew_lease(now=now)
    lease = RunLease.objects.get(run=run)
    assert (lease.heartbeat_at, lease.expires_at) == (
        now,
        now + timedelta(seconds=120),
    )
    OpsRun.objects.filter(pk=run.pk).mark_failed("Marked failed by admin:alice.")
    assert not run.renew_lease(now=now + timedelta(seconds=1))
    assert RunLease.objects.get(run=run).heartbeat_at == now


def test_taking_a_lease_names_the_holder_and_runs_for_the_stale_threshold(db, settings):
    settings.OPS_WORKER_STALE_SECONDS = 90
    run = OpsRun.objects.create(kind="backup", trigger="command", status="running")
    now = timezone.now()
    run.take_lease("command on web-1 (pid 9)", now)
    lease = RunLease.objects.get(run=run)
    assert (lease.holder, lease.heartbeat_at, lease.expires_at) == (
        "command on web-1 (pid 9)",
        now,
        now + timedelta(seconds=90),
    )


def test_a_worker_heartbeat_goes_stale_after_the_threshold(db, settings):
    settings.OPS_WORKER_STALE_SECONDS = 120
    now = timezone.now()
    old = WorkerHeartbeat.objects.create(
        hostname="web-1", pid=1, seen_at=now - timedelta(seconds=121)
    )
    fresh = WorkerHeartbeat.objects.create(
        hostname="web-2", pid=2, seen_at=now - timedelta(seconds=119)
    )
    assert old.is_stale(now)
    assert not fresh.is_stale(now)
    assert old.age(now) == timedelta(seconds=121)
    assert WorkerHeartbeat.objects.newest() == fresh
    assert list(WorkerHeartbeat.objects.stale(now)) == [old]
