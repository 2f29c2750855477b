"""Issue 15, item 11: `make run` starts the operations worker beside the
development server, and one Ctrl-C stops both. The Makefile's own recipe,
in a process group of its own, on the test database."""

import os
import signal
import subprocess
from pathlib import Path

import pytest

from opsconsole.models import Schedule, WorkerHeartbeat
from tests.opsconsole.helpers import wait_for
from tests.servers import ROOT, database_url, free_port, http_request

pytestmark = pytest.mark.slow


def processes():
    """{pid: ppid} of the live (not zombie) processes (Linux /proc)."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # "pid (comm) state ppid pgrp ...": comm may hold spaces.
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if fields[0] != "Z":
            found[int(stat.parent.name)] = int(fields[1])
    return found


def descendants(pid):
    """Every live process started, directly or not, by `pid`."""
    parents = processes()
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, ppid in parents.items() if ppid in frontier}
        found |= frontier
    return found


def alive(pids):
    return set(pids) & set(processes())


def answers(url):
    try:
        return http_request(url, timeout=2)[0] == 200
    except OSError:
        return False


@pytest.mark.parametrize(
    "stop",
    [
        # Ctrl-C: SIGINT to the terminal's foreground process group.
        lambda make: os.killpg(make.pid, signal.SIGINT),
        # An IDE's stop button, `kill PID`: SIGTERM to make alone. With
        # runserver in the foreground, everything kept running.
        lambda make: make.send_signal(signal.SIGTERM),
    ],
    ids=["ctrl-c", "sigterm-to-make"],
)
def test_item11_make_run_starts_the_worker_and_stopping_make_stops_both(
    transactional_db, tmp_path, stop
):
    # Only the worker's heartbeat matters here, no schedule of its own.
    Schedule.objects.all().delete()
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DATA_DIR": str(tmp_path / "data"),
        "BACKUP_DIR": str(tmp_path / "backups"),
        "OPS_WORKER_HEARTBEAT_SECONDS": "1",
        "OPS_WORKER_STALE_SECONDS": "30",
    }
    log = open(tmp_path / "make.log", "wb")  # noqa: SIM115 - closed below
    # -o: never reinstall the shared .venv or rewrite .env from a test; the
    # test database is migrated, and runserver needs no collectstatic.
    skip = ["-o", ".venv/.runtime", "-o", ".env", "-o", "migrate", "-o", "static"]
    make = subprocess.Popen(
        ["make", "--no-print-directory", *skip, "run", f"RUN_PORT={port}"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        # Its own process group, as a terminal gives a foreground job.
        start_new_session=True,
    )
    started = set()
    try:
        wait_for(
            lambda: (
                make.poll() is not None
                or answers(f"http://127.0.0.1:{port}/health/live")
            ),
            timeout=90,
            interval=0.2,
            message="the development server",
        )
        assert make.poll() is None, (tmp_path / "make.log").read_text()
        heartbeat = wait_for(
            lambda: WorkerHeartbeat.objects.first(),
            timeout=60,
            interval=0.2,
            message="the worker's heartbeat",
        )
        started |= descendants(make.pid)
        assert heartbeat.pid in started
        # make, its shell, the worker, runserver and its autoreloader child.
        assert len(started) >= 4, started
        stop(make)
        make.wait(timeout=60)
        wait_for(
            lambda: not alive(started),
            timeout=30,
            interval=0.1,
            message="every process of `make run` to end",
        )
    finally:
        for pid in alive(started | descendants(make.pid)):
            os.kill(pid, signal.SIGKILL)
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
            make.wait()
        log.close()
    output = (tmp_path / "make.log").read_text()
    assert "opsworker: stopped." in output, output
    assert not answers(f"http://127.0.0.1:{port}/health/live")
    # Stopped on purpose: it took its heartbeat with it.
    assert not WorkerHeartbeat.objects.filter(pid=heartbeat.pid).exists()
