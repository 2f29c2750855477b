"""The operations worker (`manage.py opsworker`): runs the operations that the
admin and the schedules queue, one at a time and outside any web request."""

import logging
import os
import signal
import socket
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, transaction
from django.utils import timezone

from opsconsole.errors import OpsError
from opsconsole.heartbeat import Beating
from opsconsole.models import OpsRun, OpsStatus, Schedule, WorkerHeartbeat
from opsconsole.operations import OPERATIONS, perform
from opsconsole.runs import this_process

logger = logging.getLogger("tinylink.ops")


def claim_next(holder=None):
    """Mark the oldest queued run running, under a lease in `holder`'s name
    (this process's), and return it, or None. Several workers may poll: the
    UPDATE ... WHERE status='queued' succeeds for one of them only (on
    PostgreSQL, SKIP LOCKED also spares them the wait)."""
    holder = holder or this_process("opsworker")
    while True:
        with transaction.atomic():
            run = OpsRun.objects.queued().select_for_update(skip_locked=True).first()
            if run is None:
                return None
            now = timezone.now()
            note = f"Run by {holder}.\n"
            claimed = OpsRun.objects.filter(pk=run.pk, status=OpsStatus.QUEUED).update(
                status=OpsStatus.RUNNING, started_at=now, output=note
            )
            if claimed:
                run.take_lease(holder, now)
        if claimed:
            run.status, run.started_at, run.output = OpsStatus.RUNNING, now, note
            return run


def execute(run, holder):
    """Run a claimed run in `holder`'s name; never raises for a failed
    operation, which is the run's status and summary. Returns the run as
    recorded."""
    operation = OPERATIONS.get(run.kind)
    if operation is None or not operation.queueable:
        OpsRun.objects.filter(pk=run.pk).mark_failed(
            f"The worker does not run {run.get_kind_display()} operations."
        )
    else:
        try:
            perform(
                run.kind, trigger=run.trigger, run=run, holder=holder, **run.options
            )
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


# Schedules armed together start this far apart, the first one stagger after
# the worker first sees them: not all at once on the first start, and still
# soon (a new installation has no backup and no proven restore until they
# run: the alerts say so). Backup first, so the restore test has one.
SCHEDULE_STAGGER = timedelta(minutes=10)


def schedule_trigger(kind):
    return f"schedule:{kind}"


def arm_new_schedules(now=None):
    """Give each enabled schedule without a next run (a new installation's,
    or one whose time was cleared) one: the n-th of them, shortest interval
    first, n + 1 staggers from now. So a worker's first start runs nothing
    at once, and a new installation has its first backup within minutes, not
    a day later. Returns them."""
    now = now or timezone.now()
    armed = []
    new = Schedule.objects.filter(enabled=True, next_run_at__isnull=True).order_by(
        "interval_hours", "kind"
    )
    for position, schedule in enumerate(new):
        when = now + (position + 1) * SCHEDULE_STAGGER
        # Conditional: another worker may be arming it too.
        if Schedule.objects.filter(pk=schedule.pk, next_run_at__isnull=True).update(
            next_run_at=when
        ):
            schedule.next_run_at = when
            armed.append(schedule)
    return armed


def recent_run_by_hand(schedule, now):
    """The newest successful run of the schedule's kind that the schedule did
    not queue (a button, a command) and that started less than an interval
    before `now`, or None."""
    since = now - timedelta(hours=schedule.interval_hours)
    return (
        OpsRun.objects.of_kind(schedule.kind)
        .succeeded()
        .exclude(trigger=schedule_trigger(schedule.kind))
        .filter(started_at__gt=since)
        .defer("output")
        .order_by("-started_at", "-pk")
        .first()
    )


def queue_due_schedules(now=None):
    """Queue a run for each enabled schedule that is due and has no run of
    its kind queued or running. The next run is one interval from now, not
    from when it was due: after an outage the worker runs each operation
    once, not once per missed interval. A run of that kind by hand (the
    admin's button, a command) that succeeded less than an interval ago
    stands in for the schedule's: the schedule moves to one interval after
    it instead, so no scheduled backup follows a manual one a second later.
    Returns the queued runs."""
    now = now or timezone.now()
    arm_new_schedules(now)
    # A run whose process was killed no longer holds its kind back.
    OpsRun.objects.expire_leases()
    queued = []
    for schedule in Schedule.objects.filter(enabled=True, next_run_at__lte=now):
        with transaction.atomic():
            if OpsRun.objects.active(schedule.kind).exists():
                continue
            by_hand = recent_run_by_hand(schedule, now)
            interval = timedelta(hours=schedule.interval_hours)
            start = now if by_hand is None else by_hand.started_at
            # Conditional, like the claim: another worker may have just
            # queued this schedule's run.
            advanced = Schedule.objects.filter(
                pk=schedule.pk, next_run_at=schedule.next_run_at
            ).update(
                next_run_at=start + interval,
                **({} if by_hand is None else {"last_run": by_hand}),
            )
            if not advanced:
                continue
            if by_hand is not None:
                logger.info(
                    "opsworker: the %s schedule waits until %s: run %s (%s) did it",
                    schedule.kind,
                    start + interval,
                    by_hand.pk,
                    by_hand.trigger,
                )
                continue
            run, _ = OpsRun.objects.queue(
                schedule.kind, trigger=schedule_trigger(schedule.kind)
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
        self.hostname, self.pid = socket.gethostname(), os.getpid()
        self.holder = this_process("opsworker")
        self.started_at = timezone.now()
        self._last_beat = None

    def stop(self, *args):
        # Only the flag: a signal handler that wrote to stdout could land in
        # the middle of another write to it.
        self.stopping.set()

    def stop_on_sigterm(self):
        signal.signal(signal.SIGTERM, self.stop)

    # --- heartbeat ----------------------------------------------------------

    def beat(self, current_run=None):
        """Say that this worker lives, and what it runs."""
        seen = {"seen_at": timezone.now(), "current_run": current_run}
        WorkerHeartbeat.objects.update_or_create(
            hostname=self.hostname,
            pid=self.pid,
            defaults=seen,
            create_defaults={**seen, "started_at": self.started_at},
        )
        self._last_beat = time.monotonic()

    def beat_if_due(self):
        # At most once per heartbeat interval while idle: a poll every few
        # seconds need not be a write every few seconds.
        last = self._last_beat
        if last is None:
            # Workers silent for that long are gone (killed, or an earlier
            # `--once`): their heartbeats would only go on saying "stale".
            WorkerHeartbeat.objects.stale().delete()
        if last is None or time.monotonic() - last >= (
            settings.OPS_WORKER_HEARTBEAT_SECONDS
        ):
            self.beat()

    def forget(self):
        """A worker stopped on purpose leaves no heartbeat to go stale."""
        WorkerHeartbeat.objects.filter(hostname=self.hostname, pid=self.pid).delete()

    # --- the loop -----------------------------------------------------------

    def run_one(self, run):
        """Run the claimed `run` while a thread keeps this worker's heartbeat
        (the run's own lease is renewed by its recording, runs.recorded_run)."""
        beating = Beating(
            lambda: self.beat(current_run=run),
            interval=settings.OPS_WORKER_HEARTBEAT_SECONDS,
            name="opsworker heartbeat",
        )
        with beating:
            run = execute(run, self.holder)
        self.beat()
        return run

    def expire_abandoned(self):
        """Fail the runs whose process was killed; returns them."""
        expired = OpsRun.objects.expire_leases()
        for run in expired:
            self.report("opsworker: " + describe(run))
        return expired

    def run_queued(self):
        """Claim and run queued runs until none is left (or SIGTERM)."""
        done = []
        while not self.stopping.is_set():
            run = claim_next(self.holder)
            if run is None:
                break
            self.beat(current_run=run)
            self.report(f"opsworker: running #{run.pk} {run.kind} ({run.trigger})")
            run = self.run_one(run)
            self.report("opsworker: " + describe(run))
            done.append(run)
        return done

    def run_once(self):
        """Heartbeat, abandoned runs, due schedules, then everything queued
        (theirs included)."""
        self.beat_if_due()
        self.expire_abandoned()
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
        try:
            self.forget()
        except Exception:  # noqa: BLE001 - it goes stale instead
            logger.warning("opsworker: could not remove its heartbeat")
