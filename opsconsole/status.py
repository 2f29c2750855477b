"""Facts about the operations that health, metrics and the admin share, read
from the recorded runs (OpsRun) and the backup directory."""

import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from opsconsole.backups.catalog import list_backups
from opsconsole.engines import engine_for
from opsconsole.models import OpsKind, OpsRun, OpsStatus, Schedule


@dataclass
class OperationsFacts:
    now: datetime
    last_backup: OpsRun | None  # newest successful backup
    last_backup_attempt: OpsRun | None  # newest finished backup, failed or not
    last_restore_test: OpsRun | None  # newest finished restore test
    last_integrity: OpsRun | None  # newest finished integrity check
    overdue: list = field(default_factory=list)  # enabled schedules past grace
    # Only with storage=True: they stat files or ask the database server.
    database_size: int | None = None
    wal_size: int | None = None
    backups_on_disk: int | None = None
    backups_on_disk_bytes: int | None = None

    @property
    def backup_file_exists(self):
        return bool(
            self.last_backup
            and self.last_backup.artifact_path
            and Path(self.last_backup.artifact_path).is_file()
        )

    @property
    def backup_age(self):
        if self.last_backup is None or self.last_backup.finished_at is None:
            return None
        return self.now - self.last_backup.finished_at

    @property
    def backup_state(self):
        """'missing' when no successful backup is recorded or its file is
        gone, 'stale' when it is older than BACKUP_MAX_AGE hours, else 'ok'."""
        if not self.backup_file_exists or self.backup_age is None:
            return "missing"
        if self.backup_age > timedelta(hours=settings.BACKUP_MAX_AGE):
            return "stale"
        return "ok"

    @property
    def backup_attempt_failed(self):
        attempt = self.last_backup_attempt
        return attempt is not None and attempt.status == OpsStatus.FAILED

    def warnings(self):
        """One line per thing an operator should act on."""
        found = []
        state = self.backup_state
        if state == "missing" and self.last_backup is None:
            found.append("No successful backup is recorded.")
        elif state == "missing":
            found.append(
                f"The newest backup's file is gone: {self.last_backup.artifact_path}."
            )
        elif state == "stale":
            found.append(
                f"The newest backup is older than {settings.BACKUP_MAX_AGE} hours "
                "(BACKUP_MAX_AGE)."
            )
        if self.backup_attempt_failed:
            found.append(
                f"The newest backup attempt failed: {self.last_backup_attempt.summary}"
            )
        if self.last_restore_test is None:
            found.append("No restore test is recorded.")
        elif self.last_restore_test.status == OpsStatus.FAILED:
            found.append(
                f"The newest restore test failed: {self.last_restore_test.summary}"
            )
        if (
            self.last_integrity is not None
            and self.last_integrity.status == OpsStatus.FAILED
        ):
            found.append(
                f"The newest integrity check failed: {self.last_integrity.summary}"
            )
        for schedule in self.overdue:
            found.append(
                f"The {schedule.get_kind_display().lower()} schedule is overdue "
                f"(due since {schedule.next_run_at:%Y-%m-%d %H:%M} UTC): is "
                "manage.py opsworker running?"
            )
        return found


def gather_facts(*, now=None, storage=False):
    """The operations facts; storage=True adds database, WAL and backup
    directory sizes (for the admin page, not for every probe)."""
    now = now or timezone.now()
    runs = OpsRun.objects.defer("output")
    facts = OperationsFacts(
        now=now,
        last_backup=runs.latest_success(OpsKind.BACKUP),
        last_backup_attempt=runs.latest_finished(OpsKind.BACKUP),
        last_restore_test=runs.latest_finished(OpsKind.RESTORE_TEST),
        last_integrity=runs.latest_finished(OpsKind.INTEGRITY),
        overdue=[s for s in Schedule.objects.filter(enabled=True) if s.is_overdue(now)],
    )
    if storage:
        engine = engine_for()
        facts.database_size = engine.database_size()
        facts.wal_size = engine.wal_size()
        backups = list_backups()
        facts.backups_on_disk = len(backups)
        facts.backups_on_disk_bytes = sum(backup.size for backup in backups)
    return facts


def backup_status():
    """'ok', 'stale' or 'missing' for the newest successful backup."""
    return gather_facts().backup_state


def disk_status():
    """'ok' or 'low' for the volume that holds the data directory."""
    usage = shutil.disk_usage(settings.DATA_DIR)
    min_free = settings.HEALTH_MIN_FREE_DISK_MB * 2**20
    return "low" if usage.free < min_free else "ok"


def _timestamp(value):
    return value.timestamp() if value is not None else None


def _passed(run):
    if run is None:
        return None
    return 1 if run.status == OpsStatus.SUCCEEDED else 0


def operations_facts():
    """(metric name, help, value or None) for the operations gauges."""
    facts = gather_facts()
    backup, restore_test = facts.last_backup, facts.last_restore_test
    return [
        (
            "tinylink_backup_last_success_timestamp_seconds",
            "Unix time of the newest successful backup.",
            _timestamp(backup.finished_at) if backup else None,
        ),
        (
            "tinylink_backup_last_size_bytes",
            "Size of the newest successful backup.",
            backup.artifact_size if backup else None,
        ),
        (
            "tinylink_restore_test_last_success",
            "1 if the newest restore test passed, 0 if it failed.",
            _passed(restore_test),
        ),
        (
            "tinylink_restore_test_last_timestamp_seconds",
            "Unix time of the newest restore test.",
            _timestamp(restore_test.finished_at) if restore_test else None,
        ),
        (
            "tinylink_integrity_check_last_success",
            "1 if the newest integrity check found nothing, 0 otherwise.",
            _passed(facts.last_integrity),
        ),
    ]
