"""A process killed with SIGKILL in the middle of a run: nothing in it can
record the end, so its run stays "running". Its lease, no longer renewed,
runs out, and the next queueing fails the run and queues a new one instead
of finding the kind "already running" forever."""

import os
import signal
import socket
import subprocess
import sys
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from opsconsole.models import OpsRun, Schedule, WorkerHeartbeat
from tests.opsconsole.helpers import add_links, subprocess_env, wait_for
from tests.opsconsole.test_worker import run_opsworker
from tests.servers import ROOT

pytestmark = pytest.mark.slow

# Enough links that an integrity check takes seconds (it checks every
# target against the URL rules), so the kill lands mid-run.
LINKS = 100_000
FAST_LEASES = {"OPS_WORKER_HEARTBEAT_SECONDS": "0.2", "OPS_WORKER_STALE_SECONDS": "2"}
BEATS = timedelta(seconds=0.3)


@pytest.fixture(autouse=True)
def backup_dir(settings, tmp_path):
    settings.BACKUP_DIR = tmp_path / "backups"
    return settings.BACKUP_DIR


@pytest.fixture
def many_links(transactional_db):
    Schedule.objects.all().delete()
    add_links(LINKS, "k")
    yield
    # Faster than the flush's row-by-row delete on SQLite.
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM links_link")


def start(*args):
    """manage.py ARGS in a session of its own, so that SIGKILL reaches every
    process it started."""
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=subprocess_env(**FAST_LEASES),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def kill_when_running(process, find_run):
    try:
        run = wait_for(
            find_run, timeout=60, interval=0.02, message="the run to be running"
        )
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    return run


def renewed_integrity_run():
    """The running integrity run once its lease has been renewed: its
    process is past the start and well into the check."""
    run = OpsRun.objects.filter(kind="integrity", status="running").first()
    lease = run and run.current_lease()
    return run if lease and lease.heartbeat_at > run.started_at else None


def queue_a_new_integrity_run():
    run, created = OpsRun.objects.queue("integrity", trigger="admin:alice")
    return run if created else None


@pytest.mark.parametrize(
    ("command", "holder"),
    [
        (["opsworker", "--poll", "0.1"], "opsworker"),
        (["check_integrity"], "command"),
    ],
    ids=["worker", "command"],
)
def test_a_killed_process_s_run_expires_and_its_kind_runs_again(
    many_links, command, holder
):
    if command[0] == "opsworker":
        OpsRun.objects.queue("integrity", trigger="schedule:integrity")
    process = start(*command)
    killed = kill_when_running(process, renewed_integrity_run)

    killed.refresh_from_db()
    # Killed mid-run: nothing recorded an end.
    assert killed.status == "running", killed.summary
    # Until its lease runs out it still holds the kind; then the next queueing
    # fails it and queues a new run.
    new = wait_for(
        queue_a_new_integrity_run,
        timeout=30,
        interval=0.1,
        message="a new integrity run to be queued",
    )
    killed.refresh_from_db()
    assert killed.status == "failed"
    assert killed.summary == (
        f"{holder} on {socket.gethostname()} (pid {process.pid}) stopped (no "
        f"heartbeat since {killed.lease.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC): the run "
        "did not finish."
    )
    assert killed.finished_at <= timezone.now()

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM links_link")
    run_opsworker()
    new.refresh_from_db()
    assert new.status == "succeeded", new.summary


def test_a_killed_worker_leaves_a_heartbeat_that_goes_stale(many_links, settings):
    settings.OPS_WORKER_STALE_SECONDS = 2
    run, _ = OpsRun.objects.queue("integrity", trigger="schedule:integrity")
    process = start("opsworker", "--poll", "0.1")

    def beaten_during_the_run():
        # Twice past the run's start: by the worker's thread, while the check
        # holds its main thread.
        heartbeat = WorkerHeartbeat.objects.filter(
            pid=process.pid, current_run=run
        ).first()
        started = OpsRun.objects.get(pk=run.pk).started_at
        if heartbeat and started and heartbeat.seen_at > started + BEATS:
            return heartbeat
        return None

    heartbeat = kill_when_running(process, beaten_during_the_run)

    assert heartbeat.hostname == socket.gethostname()
    assert OpsRun.objects.get(pk=run.pk).status == "running"
    assert wait_for(
        lambda: WorkerHeartbeat.objects.get(pk=heartbeat.pk).is_stale(),
        timeout=30,
        interval=0.1,
        message="the heartbeat to go stale",
    )
