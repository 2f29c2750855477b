"""Heartbeats from a thread of their own, and the leases of recorded runs
renewed by them while the operation holds the main thread."""

import logging
import os
import socket
import threading
from datetime import timedelta

import pytest
from django.db import DatabaseError
from django.utils import timezone

from opsconsole.heartbeat import Beating
from opsconsole.models import OpsRun, RunLease
from opsconsole.runs import recorded_run
from tests.opsconsole.helpers import wait_for


@pytest.fixture
def fast_beats(settings):
    settings.OPS_WORKER_HEARTBEAT_SECONDS = 0.05
    settings.OPS_WORKER_STALE_SECONDS = 1


def test_beating_calls_the_beat_from_another_thread_until_stopped():
    threads = []

    def beat():
        threads.append(threading.current_thread())

    with Beating(beat, interval=0.01, name="test-beat"):
        wait_for(lambda: len(threads) >= 3, timeout=10, message="three beats")
    count = len(threads)
    assert threading.current_thread() not in threads
    assert not any(thread.is_alive() for thread in threads)
    assert len(threads) == count


def test_a_failed_beat_is_logged_and_the_next_one_is_tried(caplog):
    calls = []

    def beat():
        calls.append(1)
        if len(calls) == 1:
            raise DatabaseError("database is locked")

    with (
        caplog.at_level(logging.WARNING, logger="tinylink.ops"),
        Beating(beat, interval=0.01, name="test-beat"),
    ):
        wait_for(lambda: len(calls) >= 2, timeout=10, message="a second beat")
    assert "test-beat: could not beat: database is locked" in caplog.text


def test_a_recorded_run_holds_a_lease_that_is_renewed_while_it_runs(
    transactional_db, fast_beats
):
    with recorded_run("integrity", trigger="command") as recorder:
        run = OpsRun.objects.get(pk=recorder.run.pk)
        lease = RunLease.objects.get(run=run)
        assert run.status == "running"
        assert lease.holder == f"command on {socket.gethostname()} (pid {os.getpid()})"
        assert lease.expires_at > lease.heartbeat_at == run.started_at
        renewed = wait_for(
            lambda: RunLease.objects.filter(
                run=run, expires_at__gt=lease.expires_at
            ).first(),
            timeout=10,
            message="the lease to be renewed",
        )
        assert renewed.heartbeat_at > lease.heartbeat_at
    run.refresh_from_db()
    assert run.status == "succeeded"


def test_a_run_expired_while_its_process_lived_ends_with_its_real_outcome(
    transactional_db, fast_beats
):
    # E.g. SQLite writes blocked for longer than the lease by a long VACUUM:
    # the run was taken for dead, but its process finishes and says so.
    with recorded_run("integrity", trigger="command") as recorder:
        RunLease.objects.filter(run=recorder.run).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
        [expired] = OpsRun.objects.expire_leases()
        assert expired.pk == recorder.run.pk
    run = OpsRun.objects.get(pk=recorder.run.pk)
    assert run.status == "succeeded"
    assert "stopped" not in run.summary
