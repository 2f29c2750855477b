"""The operations worker (`manage.py opsworker`): runs the operations that the
admin and the schedules queue, one at a time and outside any web request."""

import logging
import os
import signal
import socket
import threading
from datetime import timedelta

from django.db import close_old_connections, transaction
from django.utils import timezone

from opsconsole.errors import OpsError
from opsconsole.models import OpsRun, OpsStatus, Schedule
from opsconsole.operations import OPERATIONS, perform

logger = logging.getLogger("tinylink.ops")


def claim_next():
    """Mark the oldest queued run running and return it, or None. Several
    workers may poll: the UPDATE ... WHERE status='queued' succeeds for one of
    them only (on PostgreSQL, SKIP LOCKED also spares them the wait)."""
    while True:
        with transaction.atomic():
            run = OpsRun.objects.queued().select_for_update(skip_locked=True).first()
            if run is None:
                return None
            now = timezone.now()
            note = f"Run by opsworker on {socket.gethostname()} (pid {os.getpid()}).\n"
            claimed = OpsRun.objects.filter(pk=run.pk, status=OpsStatus.QUEUED).update(
                status=OpsStatus.RUNNING, started_at=now, output=note
            )
        if claimed:
            run.status, run.started_at, run.output = OpsStatus.RUNNING, now, note
            return run


def execute(run):
    """Run a claimed run; never raises for a failed operation, which is the
    run's status and summary. Returns the run as recorded."""
    operation = OPERATIONS.get(run.kind)
    if operation is None or not operation.queueable:
        OpsRun.objects.filter(pk=run.pk).mark_failed(
            f"The worker does not run {run.get_kind_display()} operations."
        )
    else:
        try:
            perform(run.kind, trigger=run.trigger, run=run, **run.options)
        except Exception as exc:  # one failed run never stops the worker
            logger.warning(
                "opsworker: run %s (%s) failed: %s",
                run.pk,
                run.kind,
                exc,
                # A traceback only for the unexpected.
                exc_info=not isinstance(exc, OpsError),
            )
    run.refresh_from_db()
    return run


def queue_due_schedules(now=None):
    """Queue a run for each enabled schedule that is due and has no run of
    its kind queued or running. The next run is one interval from now, not
    from when it was due: after an outage the worker runs each operation
    once, not once per missed interval. Returns the queued runs."""
    now = now or timezone.now()
    queued = []
    for schedule in Schedule.objects.filter(enabled=True, next_run_at__lte=now):
        with transaction.atomic():
            if OpsRun.objects.active(schedule.kind).exists():
                continue
            # Conditional, like the claim: another worker may have just
            # queued this schedule's run.
            advanced = Schedule.objects.filter(
                pk=schedule.pk, next_run_at=schedule.next_run_at
            ).update(next_run_at=now + timedelta(hours=schedule.interval_hours))
            if not advanced:
                continue
            run, _ = OpsRun.objects.queue(
                schedule.kind, trigger=f"schedule:{schedule.kind}"
            )
            Schedule.objects.filter(pk=schedule.pk).update(last_run=run)
        queued.append(run)
    return queued


def describe(run):
    duration = (
        f" in {run.duration_seconds:.1f} s" if run.duration_seconds is not None else ""
    )
    return (
        f"#{run.pk} {run.kind} ({run.trigger}): {run.status}{duration}. {run.summary}"
    )


class Worker:
    def __init__(self, *, poll=5.0, report=None):
        self.poll = poll
        self.report = report or (lambda line: None)
        self.stopping = threading.Event()

    def stop(self, *args):
        # Only the flag: a signal handler that wrote to stdout could land in
        # the middle of another write to it.
        self.stopping.set()

    def stop_on_sigterm(self):
        signal.signal(signal.SIGTERM, self.stop)

    def run_queued(self):
        """Claim and run queued runs until none is left (or SIGTERM)."""
        done = []
        while not self.stopping.is_set():
            run = claim_next()
            if run is None:
                break
            self.report(f"opsworker: running #{run.pk} {run.kind} ({run.trigger})")
            run = execute(run)
            self.report("opsworker: " + describe(run))
            done.append(run)
        return done

    def run_once(self):
        """Due schedules, then everything queued (theirs included)."""
        for run in queue_due_schedules():
            self.report(f"opsworker: queued #{run.pk} {run.kind} ({run.trigger})")
        return self.run_queued()

    def run_forever(self):
        while not self.stopping.is_set():
            # A long-lived process: drop connections the server has closed
            # (restart, failover) instead of failing on them forever.
            close_old_connections()
            try:
                done = self.run_once()
            except Exception:  # e.g. the database is down: retry later
                logger.exception("opsworker: could not read the queue")
                done = []
            finally:
                close_old_connections()
            if not done:
                self.stopping.wait(self.poll)
