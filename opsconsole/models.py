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

    def mark_failed(self, summary):
        """Fail the active runs among these (a worker killed mid-run, a run
        rewound by a restore); returns how many."""
        return self.filter(status__in=ACTIVE).update(
            status=OpsStatus.FAILED, summary=summary[:500], finished_at=timezone.now()
        )

    def queue(self, kind, *, trigger, options=None):
        """Queue a run of `kind` unless one is queued or running already (a
        double click queues one backup, not two). Returns (run, created)."""
        with transaction.atomic(using=self.db):
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
    trigger = models.CharField(
        max_length=100, help_text="command, admin:<user>, schedule:<name>"
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


class Schedule(models.Model):
    """A recurring operation, executed by `manage.py opsworker`."""

    kind = models.CharField(max_length=20, choices=OpsKind.choices, unique=True)
    enabled = models.BooleanField(default=True)
    interval_hours = models.PositiveIntegerField(
        validators=[MinValueValidator(1)],
        help_text="Hours between runs: 24 = daily, 168 = weekly, 720 = monthly.",
    )
    next_run_at = models.DateTimeField(default=timezone.now)
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
        grace = timedelta(minutes=settings.OPS_SCHEDULE_GRACE_MINUTES)
        return self.enabled and self.next_run_at + grace < now
