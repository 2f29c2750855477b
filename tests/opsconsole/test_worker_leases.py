"""The worker's heartbeat, and the leases of the runs it claims: a worker or
a run whose process was killed is seen as such, and holds nothing back."""

import os
import socket
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from opsconsole.models import OpsRun, RunLease, Schedule, WorkerHeartbeat
from opsconsole.worker import Worker, claim_next, queue_due_schedules


@pytest.fixture
def no_schedules(db):
    Schedule.objects.all().delete()


@pytest.fixture
def committed(transactional_db):
    """Committed rows, as the threads that renew leases and heartbeats see
    them (each has a connection of its own)."""
    Schedule.objects.all().delete()


def expired_run(kind):
    """A run left "running" by a process that was killed a while ago."""
    past = timezone.now() - timedelta(minutes=10)
    run = OpsRun.objects.create(
        kind=kind, trigger=f"schedule:{kind}", status="running", started_at=past
    )
    run.take_lease("opsworker on web-1 (pid 4242)", past)
    return run


def test_a_due_schedule_is_not_held_back_by_a_run_whose_lease_ran_out(no_schedules):
    now = timezone.now()
    Schedule.objects.create(
        kind="backup", interval_hours=24, next_run_at=now - timedelta(minutes=1)
    )
    killed = expired_run("backup")
    [run] = queue_due_schedules(now=now)
    killed.refresh_from_db()
    assert killed.status == "failed"
    assert killed.summary.startswith("opsworker on web-1 (pid 4242) stopped")
    assert (run.kind, run.status) == ("backup", "queued")


def test_the_worker_fails_runs_whose_lease_ran_out_when_it_polls(committed):
    killed = expired_run("maintenance")
    lines = []
    Worker(report=lines.append).run_once()
    killed.refresh_from_db()
    assert killed.status == "failed"
    assert f"opsworker: #{killed.pk} maintenance (schedule:maintenance): failed" in (
        "\n".join(lines)
    )


def test_the_worker_beats_when_it_polls_and_names_the_run_it_runs(committed):
    run, _ = OpsRun.objects.queue("integrity", trigger="admin:alice")
    seen = []

    def report(line):
        if line.startswith("opsworker: running"):
            seen.append(WorkerHeartbeat.objects.get(pid=os.getpid()).current_run)

    worker = Worker(report=report)
    worker.run_once()
    heartbeat = WorkerHeartbeat.objects.get()
    assert (heartbeat.hostname, heartbeat.pid) == (socket.gethostname(), os.getpid())
    assert seen == [run]
    assert heartbeat.current_run is None
    assert heartbeat.seen_at >= OpsRun.objects.get(pk=run.pk).finished_at
    worker.run_once()
    assert WorkerHeartbeat.objects.count() == 1


def test_a_starting_worker_removes_the_heartbeats_of_stopped_workers(
    no_schedules, settings
):
    settings.OPS_WORKER_STALE_SECONDS = 120
    now = timezone.now()
    WorkerHeartbeat.objects.create(
        hostname="web-1", pid=1, seen_at=now - timedelta(minutes=10)
    )
    other = WorkerHeartbeat.objects.create(hostname="web-2", pid=2, seen_at=now)
    Worker().run_once()
    assert set(WorkerHeartbeat.objects.values_list("pid", flat=True)) == {
        other.pid,
        os.getpid(),
    }


def test_a_claimed_run_holds_a_lease_in_the_workers_name(no_schedules, settings):
    settings.OPS_WORKER_STALE_SECONDS = 120
    OpsRun.objects.queue("backup", trigger="admin:alice")
    run = claim_next(holder="opsworker on web-1 (pid 7)")
    lease = RunLease.objects.get(run=run)
    assert lease.holder == "opsworker on web-1 (pid 7)"
    assert lease.heartbeat_at == OpsRun.objects.get(pk=run.pk).started_at
    assert lease.expires_at == lease.heartbeat_at + timedelta(seconds=120)


def test_poll_must_leave_room_for_the_heartbeat(db, settings):
    settings.OPS_WORKER_HEARTBEAT_SECONDS = 15
    settings.OPS_WORKER_STALE_SECONDS = 120
    with pytest.raises(CommandError, match="OPS_WORKER_STALE_SECONDS"):
        call_command("opsworker", "--poll", "105")
