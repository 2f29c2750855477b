"""Recording every data operation as an OpsRun row."""

import logging
import os
import socket
import time
from contextlib import contextmanager

from django.conf import settings
from django.db import DatabaseError, transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from opsconsole.heartbeat import Beating
from opsconsole.models import OpsRun, OpsStatus

logger = logging.getLogger("tinylink.ops")
# Progress lines are kept in the run's output and echoed at most this often.
PROGRESS_EVERY_SECONDS = 1
# The run's output is saved while it runs, but not one write per line.
SAVE_EVERY_SECONDS = 2


class RunRecorder:
    def __init__(self, run, echo=None):
        self.run = run
        self.echo = echo
        self._last_save = time.monotonic()
        self._last_progress = 0.0

    def log(self, text):
        self.run.append_output(text if text.endswith("\n") else text + "\n")
        saved = self.run.pk is not None
        if saved and time.monotonic() - self._last_save > SAVE_EVERY_SECONDS:
            self.run.save(update_fields=["output"])
            self._last_save = time.monotonic()

    def progress(self, done, total=None):
        """The operations' progress callback: bytes (or rows) done of total,
        or a word on what it is doing."""
        now = time.monotonic()
        if now - self._last_progress < PROGRESS_EVERY_SECONDS:
            return
        self._last_progress = now
        if isinstance(done, str):
            line = f"  … {done}"
        elif total:
            line = f"  … {filesizeformat(done)} of {filesizeformat(total)}"
        else:
            line = f"  … {filesizeformat(done) if done > 10_000 else done}"
        if self.echo:
            self.echo(line)
        self.log(line)

    def finish(self, result):
        for line in result.details():
            self.log(line)
        self.run.summary = result.summary[:500]
        self.run.result = result.as_dict()
        artifact = result.artifact
        if artifact is not None:
            self.run.artifact_path = str(artifact["path"])
            self.run.artifact_size = artifact["size"]
            self.run.artifact_sha256 = artifact["sha256"]
        if not result.ok:
            self.run.status = OpsStatus.FAILED


@contextmanager
def _recording(run, *, echo, save):
    """Yield a recorder for `run`; mark the run succeeded or failed (with the
    error as its summary), time it, and `save(run)` whatever happens."""
    recorder = RunRecorder(run, echo)
    started = time.monotonic()
    try:
        yield recorder
    except BaseException as exc:
        run.status = OpsStatus.FAILED
        run.summary = (str(exc) or type(exc).__name__)[:500]
        raise
    else:
        if run.status == OpsStatus.RUNNING:
            run.status = OpsStatus.SUCCEEDED
    finally:
        run.finished_at = timezone.now()
        run.duration_seconds = time.monotonic() - started
        save(run)


def this_process(name):
    """How a run names the process that runs it: `name` on host (pid n)."""
    return f"{name} on {socket.gethostname()} (pid {os.getpid()})"


@contextmanager
def recorded_run(kind, *, trigger, options=None, run=None, holder=None, echo=None):
    """Create (or take over a queued) OpsRun, mark it running under a lease
    in `holder`'s name (this process) that a thread renews while the
    operation runs, and mark it succeeded or failed with the error as its
    summary. A process killed meanwhile leaves a lease that runs out
    (OpsRunQuerySet.expire_leases)."""
    now = timezone.now()
    # Never "running" without a lease, which nothing could expire.
    with transaction.atomic():
        if run is None:
            run = OpsRun.objects.create(
                kind=kind,
                trigger=trigger,
                options=options or {},
                status=OpsStatus.RUNNING,
                started_at=now,
            )
        else:
            run.status, run.started_at = OpsStatus.RUNNING, now
            run.save(update_fields=["status", "started_at"])
        run.take_lease(holder or this_process(trigger), now)
    lease = Beating(
        run.renew_lease,
        interval=settings.OPS_WORKER_HEARTBEAT_SECONDS,
        name=f"lease of run #{run.pk}",
    )
    # A restore replaces this table too: save() inserts the row again if the
    # restored data does not have it.
    with lease, _recording(run, echo=echo, save=OpsRun.save) as recorder:
        yield recorder


@contextmanager
def recorded_afterwards(kind, *, trigger, options=None, echo=None):
    """For a restore, which replaces the run table itself: its row is written
    once, after the data is back (or after it failed and the data is as it
    was). A database too broken to take the row does not hide the error."""
    run = OpsRun(
        kind=kind,
        trigger=trigger,
        options=options or {},
        status=OpsStatus.RUNNING,
        started_at=timezone.now(),
    )

    def insert(run):
        try:
            run.save(force_insert=True)
        except DatabaseError as exc:
            logger.warning("could not record the %s run: %s", kind, exc)

    with _recording(run, echo=echo, save=insert) as recorder:
        yield recorder
