from datetime import timedelta

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone

# Captured command output is kept up to this many characters (the tail).
OUTPUT_LIMIT = 20_000


class OpsKind(models.TextChoices):
    BACKUP = "backup", "Backup"
    RESTORE = "restore", "Restore"
    RESTORE_TEST = "restore_test", "Restore test"
    INTEGRITY = "integrity", "Integrity check"
    MAINTENANCE = "maintenance", "Maintenance"
    PRUNE_BACKUPS = "prune_backups", "Prune backups"
    PURGE_LINKS = "purge_links", "Purge expired links"


class OpsStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


ACTIVE = [OpsStatus.QUEUED, OpsStatus.RUNNING]
# Newest finish first. PostgreSQL puts NULL first in a descending order
# (SQLite last): a run without a finish time must not count as the newest.
NEWEST_FINISHED = [F("finished_at").desc(nulls_last=True), "-pk"]


def lease_until(now):
    """When a lease taken or renewed at `now` runs out."""
    return now + timedelta(seconds=settings.OPS_WORKER_STALE_SECONDS)


class OpsRunQuerySet(models.QuerySet):
    def of_kind(self, kind):
        return self.filter(kind=kind)

    def succeeded(self):
        return self.filter(status=OpsStatus.SUCCEEDED)

    def finished(self):
        return self.filter(status__in=[OpsStatus.SUCCEEDED, OpsStatus.FAILED])

    def latest_finished(self, kind):
        return self.of_kind(kind).finished().order_by(*NEWEST_FINISHED).first()

    def latest_success(self, kind):
        return self.of_kind(kind).succeeded().order_by(*NEWEST_FINISHED).first()

    def queued(self):
        return self.filter(status=OpsStatus.QUEUED).order_by("created_at", "pk")

    def running(self):
        return self.filter(status=OpsStatus.RUNNING)

    def active(self, kind=None):
        """Queued or running, oldest first."""
        runs = self.filter(status__in=ACTIVE).order_by("created_at", "pk")
        return runs if kind is None else runs.of_kind(kind)

    def lease_expired(self, now=None):
        """Running runs whose process stopped renewing their lease (killed,
        host lost). A run without a lease is never among them: nothing says
        whether its process still lives."""
        return self.running().filter(lease__expires_at__lt=now or timezone.now())

    def expire_leases(self, now=None):
        """Fail the running runs whose lease ran out, each with a summary
        that names its process; returns them. They are not run again: the
        kind is free to be queued anew."""
        now = now or timezone.now()
        expired = []
        for run in self.lease_expired(now).select_related("lease").defer("output"):
            summary = run.abandoned_summary()
            # Only if not renewed since it was read.
            failed = self.filter(
                pk=run.pk,
                status=OpsStatus.RUNNING,
                lease__expires_at=run.lease.expires_at,
            ).update(status=OpsStatus.FAILED, summary=summary, finished_at=now)
            if failed:
                run.status, run.summary, run.finished_at = (
                    OpsStatus.FAILED,
                    summary,
                    now,
                )
                expired.append(run)
        return expired

    def renew_leases(self, now=None):
        """Extend the leases of those of these runs that are still running
        (never of one failed meanwhile); returns how many."""
        now = now or timezone.now()
        return RunLease.objects.filter(run__in=self.running()).update(
            heartbeat_at=now, expires_at=lease_until(now)
        )

    def mark_failed(self, summary):
        """Fail the active runs among these (a worker killed mid-run, a run
        rewound by a restore); returns how many."""
        return self.filter(status__in=ACTIVE).update(
            status=OpsStatus.FAILED, summary=summary[:500], finished_at=timezone.now()
        )

    def queue(self, kind, *, trigger, options=None):
        """Queue a run of `kind` unless one is queued or running already (a
        double click queues one backup, not two). A run whose process was
        killed does not count: its expired lease fails it first. Returns
        (run, created)."""
        with transaction.atomic(using=self.db):
            self.expire_leases()
            active = self.active(kind).first()
            if active is not None:
                return active, False
            run = self.create(
                kind=kind,
                trigger=trigger[:100],
                options=options or {},
                status=OpsStatus.QUEUED,
            )
        return run, True

    def last_verifications(self, artifacts):
        """{artifact path: newest finished restore test of that file}."""
        paths = [str(artifact) for artifact in artifacts]
        tests = (
            self.of_kind(OpsKind.RESTORE_TEST)
            .finished()
            .filter(result__path__in=paths)
            .defer("output")
            .order_by(F("finished_at").asc(nulls_first=True), "pk")
        )
        # Oldest first (and runs without a finish time before all), so the
        # newest test of each file is the one kept.
        return {run.result["path"]: run for run in tests}


class OpsRun(models.Model):
    """One run of a data operation, from a command, the admin or the schedule."""

    kind = models.CharField(max_length=20, choices=OpsKind.choices, db_index=True)
    status = models.CharField(
        max_length=10,
        choices=OpsStatus.choices,
        default=OpsStatus.QUEUED,
        db_index=True,
    )
    # Plain words: the admin shows help text as HTML, where "<user>" vanished.
    trigger = models.CharField(
        max_length=100,
        help_text=(
            "What started it: “command” (a manage.py command), “admin:” and a user "
            "name (a button in the admin), or “schedule:” and an operation (its "
            "schedule)."
        ),
    )
    options = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    summary = models.CharField(max_length=500, blank=True)
    output = models.TextField(blank=True)
    result = models.JSONField(default=dict, blank=True)
    artifact_path = models.CharField(max_length=1000, blank=True)
    artifact_size = models.BigIntegerField(null=True, blank=True)
    artifact_sha256 = models.CharField(max_length=64, blank=True)

    objects = OpsRunQuerySet.as_manager()

    class Meta:
        verbose_name = "operation run"
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(
                fields=["kind", "status", "-finished_at"], name="opsrun_kind_status"
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk} ({self.status})"

    def append_output(self, text):
        self.output = (self.output + text)[-OUTPUT_LIMIT:]

    def take_lease(self, holder, now=None):
        """Hold this run's lease in `holder`'s name from `now` on."""
        now = now or timezone.now()
        RunLease.objects.update_or_create(
            run=self,
            defaults={
                "holder": holder[:200],
                "heartbeat_at": now,
                "expires_at": lease_until(now),
            },
        )

    def renew_lease(self, now=None):
        """True if the run was still running and its lease now runs on."""
        return bool(OpsRun.objects.filter(pk=self.pk).renew_leases(now))

    def current_lease(self):
        try:
            return self.lease
        except RunLease.DoesNotExist:
            return None

    def is_abandoned(self, now=None):
        """Running, but its lease ran out: its process was killed. It is
        failed at the next worker poll or queueing."""
        lease = self.current_lease()
        return (
            self.status == OpsStatus.RUNNING
            and lease is not None
            and lease.expires_at < (now or timezone.now())
        )

    def abandoned_summary(self):
        lease = self.current_lease()
        holder = lease.holder if lease else "Its process"
        since = lease.heartbeat_at if lease else self.started_at
        when = f"{since:%Y-%m-%d %H:%M:%S} UTC" if since else "it started"
        return (
            f"{holder} stopped (no heartbeat since {when}): the run did not finish."
        )[:500]


class RunLease(models.Model):
    """The lease of a running run: taken by the process that runs it and
    renewed every heartbeat. A running run whose lease ran out was abandoned
    (kill -9, host lost) and is failed (OpsRunQuerySet.expire_leases).

    A table of its own rather than columns of OpsRun: a restore rewrites the
    run table of the snapshot before migrating it, so that table keeps the
    shape snapshots from before leases have."""

    # No constraints in the database: restoring an older PostgreSQL snapshot
    # drops and re-creates the run table, which a foreign key from a table
    # the snapshot does not have would forbid.
    run = models.OneToOneField(
        OpsRun,
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="lease",
        db_constraint=False,
    )
    holder = models.CharField(max_length=200, help_text="opsworker on <host> (pid n)")
    heartbeat_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    def __str__(self):
        return f"lease of run #{self.run_id} by {self.holder}"


class Schedule(models.Model):
    """A recurring operation, executed by `manage.py opsworker`."""

    kind = models.CharField(max_length=20, choices=OpsKind.choices, unique=True)
    enabled = models.BooleanField(default=True)
    interval_hours = models.PositiveIntegerField(
        validators=[MinValueValidator(1)],
        help_text="Hours between runs: 24 = daily, 168 = weekly, 720 = monthly.",
    )
    # Empty until a worker first sees the schedule: it then sets it a few
    # staggered minutes ahead, so a new installation's first worker start
    # does not run every operation at once (worker.arm_new_schedules).
    next_run_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=(
            "Leave empty to run a few minutes after the worker next looks at "
            "the schedules."
        ),
    )
    last_run = models.ForeignKey(
        OpsRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["kind"]

    def __str__(self):
        return f"{self.get_kind_display()} every {self.interval_hours} h"

    def is_overdue(self, now=None):
        """Due for longer than a grace period: the worker is down or stuck."""
        now = now or timezone.now()
        if not self.enabled or self.next_run_at is None:
            return False
        grace = timedelta(minutes=settings.OPS_SCHEDULE_GRACE_MINUTES)
        return self.next_run_at + grace < now


def _stale_before(now=None):
    """Heartbeats older than this are stale (OPS_WORKER_STALE_SECONDS)."""
    stale = timedelta(seconds=settings.OPS_WORKER_STALE_SECONDS)
    return (now or timezone.now()) - stale


class WorkerHeartbeatQuerySet(models.QuerySet):
    def newest(self):
        return self.order_by("-seen_at", "-pk").first()

    def stale(self, now=None):
        return self.filter(seen_at__lt=_stale_before(now))

    def alive(self, now=None):
        return self.filter(seen_at__gte=_stale_before(now))


class WorkerHeartbeat(models.Model):
    """The last sign of life of one `manage.py opsworker` process: written
    when it polls and, from a thread, while it runs an operation."""

    hostname = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    seen_at = models.DateTimeField(default=timezone.now, db_index=True)
    # No constraint in the database, as for RunLease.run.
    current_run = models.ForeignKey(
        OpsRun,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
    )

    objects = WorkerHeartbeatQuerySet.as_manager()

    class Meta:
        ordering = ["-seen_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["hostname", "pid"], name="workerheartbeat_process"
            ),
        ]

    def __str__(self):
        return f"opsworker on {self.hostname} (pid {self.pid})"

    def age(self, now=None):
        return (now or timezone.now()) - self.seen_at

    def is_stale(self, now=None):
        """Silent for longer than OPS_WORKER_STALE_SECONDS: stopped or hung."""
        return self.seen_at < _stale_before(now)
