"""Facts about the operations that health, metrics and the admin share.

Backups and restore drills are read from the backup listing, not from the
run history: a restore rewinds OpsRun to the snapshot, while the backups
and the drill records beside them stay on disk and tell the truth. The
worker's liveness, the schedules and the queue come from the database.
"""

import logging
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.timesince import timesince

from opsconsole.backups.catalog import list_backups
from opsconsole.backups.manifest import BACKUP
from opsconsole.engines import engine_for
from opsconsole.models import OpsKind, OpsRun, OpsStatus, Schedule, WorkerHeartbeat

logger = logging.getLogger("tinylink.ops")
DAY = timedelta(hours=24)
NO_WORKER = "No worker is running: queued runs wait. Start manage.py opsworker."


def newest_backups():
    """Every complete backup in the store (BACKUP_DIR or S3), newest first;
    never a restore's safety copy. The one place the facts read it from."""
    return list_backups(purpose=BACKUP)


def _parse_time(value):
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if timezone.is_aware(moment) else None


@dataclass(frozen=True)
class Backup:
    name: str
    path: str  # where it is, for people: a local path or s3://bucket/…/name
    created_at: datetime
    size: int
    verified: bool  # its integrity check passed when it was made
    problems: list
    drill: dict | None  # its signed drill record

    @classmethod
    def from_listing(cls, stored):
        """None for a manifest without a readable, zoned creation time: its
        age is unknown, so it cannot make the backups look fresh."""
        manifest = stored.manifest
        created_at = _parse_time(manifest.get("created_at"))
        if created_at is None:
            return None
        integrity = manifest.get("integrity") or {}
        return cls(
            name=stored.name,
            path=stored.location,
            created_at=created_at,
            size=(manifest.get("artifact") or {}).get("size") or 0,
            # A manifest this installation did not sign proves nothing.
            verified=integrity.get("ok") is True and stored.signed,
            problems=list(integrity.get("problems") or [])
            or ([] if stored.signed else ["its manifest is not signed here"]),
            drill=stored.drill,
        )


@dataclass(frozen=True)
class RestoreTest:
    """The newest restore drill: from its record beside the backup, or from
    the run history when that is newer (a drill that could not even load the
    backup leaves no record)."""

    passed: bool
    at: datetime
    rto_seconds: float | None
    path: str
    summary: str = ""
    run: OpsRun | None = None

    @classmethod
    def from_record(cls, artifact, record):
        at = _parse_time(record.get("at"))
        if at is None:
            return None
        problems = record.get("problems") or []
        return cls(
            passed=record.get("passed") is True,
            at=at,
            rto_seconds=record.get("rto_seconds"),
            path=str(artifact),
            summary=str(problems[0]) if problems else "",
        )

    @classmethod
    def from_run(cls, run):
        return cls(
            passed=run.status == OpsStatus.SUCCEEDED,
            at=run.finished_at,
            rto_seconds=run.result.get("rto_seconds"),
            path=run.result.get("path", ""),
            summary=run.summary,
            run=run,
        )


def newest_restore_test(backups, run=None):
    """The newest of the drill records beside `backups` and the newest
    finished restore-test `run` (on a tie the run, which the admin links)."""
    found = [RestoreTest.from_run(run)] if run and run.finished_at else []
    for backup in backups:
        if backup.drill is not None:
            found.append(RestoreTest.from_record(backup.path, backup.drill))
    found = [test for test in found if test is not None]
    return max(found, key=lambda test: (test.at, test.run is not None), default=None)


@dataclass
class OperationsFacts:
    now: datetime
    backups: list  # Backup, newest first
    restore_test: RestoreTest | None = None
    # From the database: None (or empty) when it could not be read.
    database_read: bool = True
    last_backup_attempt: OpsRun | None = None  # newest finished backup run
    last_integrity: OpsRun | None = None  # newest finished integrity check
    schedules: list = field(default_factory=list)
    overdue: list = field(default_factory=list)  # enabled schedules past grace
    worker: WorkerHeartbeat | None = None  # the newest heartbeat
    workers_alive: int | None = None
    runs: dict = field(default_factory=dict)  # queued, running, failed_last_24h
    # Only with storage=True: they stat files or ask the database server.
    database_size: int | None = None
    wal_size: int | None = None
    pool: dict | None = None  # PostgreSQL: this process's connection pool

    @property
    def newest_backup(self):
        """The newest backup whose integrity check passed, or None."""
        return next((backup for backup in self.backups if backup.verified), None)

    @property
    def newest_unverified(self):
        """A backup newer than every verified one that failed its check."""
        newest = self.backups[0] if self.backups else None
        return newest if newest is not None and not newest.verified else None

    @property
    def backups_on_disk(self):
        return len(self.backups)

    @property
    def backups_on_disk_bytes(self):
        return sum(backup.size for backup in self.backups)

    @property
    def backup_age(self):
        backup = self.newest_backup
        return None if backup is None else self.now - backup.created_at

    @property
    def backup_state(self):
        """'missing' without a verified backup in BACKUP_DIR, 'stale' when
        the newest is older than BACKUP_MAX_AGE hours, else 'ok'."""
        if self.newest_backup is None:
            return "missing"
        if self.backup_age > timedelta(hours=settings.BACKUP_MAX_AGE):
            return "stale"
        return "ok"

    @property
    def worker_age(self):
        return None if self.worker is None else self.worker.age(self.now)

    @property
    def worker_state(self):
        """'none' when no worker is seen (never started, or stopped on
        purpose), 'stale' when the newest heartbeat is older than
        OPS_WORKER_STALE_SECONDS (killed, hung, host lost), else 'ok';
        'unknown' without the database."""
        if not self.database_read:
            return "unknown"
        if self.worker is None:
            return "none"
        return "stale" if self.worker.is_stale(self.now) else "ok"

    @property
    def schedules_state(self):
        if not self.database_read:
            return "unknown"
        return "overdue" if self.overdue else "ok"

    @property
    def backup_attempt_failed(self):
        attempt = self.last_backup_attempt
        return attempt is not None and attempt.status == OpsStatus.FAILED

    def warnings(self):
        """One line per thing an operator should act on."""
        found = []
        if self.worker_state == "none":
            found.append(NO_WORKER)
        elif self.worker_state == "stale":
            found.append(
                f"No worker is running: the last heartbeat, of {self.worker}, is "
                f"{timesince(self.worker.seen_at, self.now)} old; queued runs wait. "
                "Start manage.py opsworker."
            )
        state = self.backup_state
        if state == "missing":
            found.append(f"No verified backup is in {settings.BACKUP_DIR}.")
        elif state == "stale":
            found.append(
                f"The newest backup is older than {settings.BACKUP_MAX_AGE} hours "
                "(BACKUP_MAX_AGE)."
            )
        unverified = self.newest_unverified
        if unverified is not None:
            problem = unverified.problems[0] if unverified.problems else "unknown"
            found.append(
                f"The newest backup, {unverified.name}, failed its integrity "
                f"check: {problem}"
            )
        if self.backup_attempt_failed:
            found.append(
                f"The newest backup attempt failed: {self.last_backup_attempt.summary}"
            )
        if self.restore_test is None:
            found.append("No restore test is recorded.")
        elif not self.restore_test.passed:
            found.append(f"The newest restore test failed: {self.restore_test.summary}")
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


def gather_facts(*, now=None, storage=False, database=True):
    """The operations facts; storage=True adds the database and WAL sizes
    (for the admin page, not for every probe); database=False reads only
    what is on disk (for a scrape while the database is down)."""
    now = now or timezone.now()
    backups = [Backup.from_listing(stored) for stored in newest_backups()]
    facts = OperationsFacts(now=now, backups=[b for b in backups if b is not None])
    if not database:
        facts.database_read = False
        facts.restore_test = newest_restore_test(facts.backups)
        return facts
    runs = OpsRun.objects.defer("output")
    facts.restore_test = newest_restore_test(
        facts.backups, runs.latest_finished(OpsKind.RESTORE_TEST)
    )
    facts.last_backup_attempt = runs.latest_finished(OpsKind.BACKUP)
    facts.last_integrity = runs.latest_finished(OpsKind.INTEGRITY)
    facts.schedules = list(Schedule.objects.all())
    facts.overdue = [s for s in facts.schedules if s.is_overdue(now)]
    facts.worker = WorkerHeartbeat.objects.newest()
    facts.workers_alive = WorkerHeartbeat.objects.alive(now).count()
    facts.runs = OpsRun.objects.aggregate(
        queued=Count("pk", filter=Q(status=OpsStatus.QUEUED)),
        running=Count("pk", filter=Q(status=OpsStatus.RUNNING)),
        failed_last_24h=Count(
            "pk",
            filter=Q(status=OpsStatus.FAILED, finished_at__gte=now - DAY),
        ),
    )
    if storage:
        engine = engine_for()
        facts.database_size = engine.database_size()
        facts.wal_size = engine.wal_size()
        facts.pool = engine.pool_stats()
    return facts


def read_facts(*, storage=False, database=True):
    """gather_facts, falling back to what is on disk when the database
    fails on the way (for probes and scrapes, which must answer)."""
    if database:
        try:
            return gather_facts(storage=storage)
        except DatabaseError as exc:
            logger.warning("operations facts without the database: %s", exc)
    return gather_facts(database=False)


def backup_status():
    """'ok', 'stale' or 'missing' for the newest verified backup on disk."""
    return gather_facts(database=False).backup_state


def disk_status():
    """'ok' or 'low' for the volume that holds the data directory."""
    usage = shutil.disk_usage(settings.DATA_DIR)
    min_free = settings.HEALTH_MIN_FREE_DISK_MB * 2**20
    return "low" if usage.free < min_free else "ok"
