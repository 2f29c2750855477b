"""Restoring a backup into the live database, safely, including on the day
the live database is lost or damaged."""

import logging
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.core.management import call_command
from django.db import DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from links import lookup
from links.click_hold import hold_clicks
from opsconsole.backups.create import create_backup
from opsconsole.backups.locks import operation_lock
from opsconsole.backups.manifest import SAFETY
from opsconsole.backups.verify import verified_backup
from opsconsole.engines import engine_for
from opsconsole.errors import OpsError
from opsconsole.models import OpsKind, OpsRun, OpsStatus
from opsconsole.results import OperationResult


@dataclass
class RestoreResult(OperationResult):
    name: str
    location: str
    duration_seconds: float
    row_counts: dict
    # What became of the data the restore replaced: a safety backup, the
    # damaged files moved aside, or nothing because there was nothing.
    safety_backup: object = None  # its BackupResult
    set_aside: list = field(default_factory=list)
    replaced: str = ""
    migrations_applied: list = field(default_factory=list)
    sequences_fixed: list = field(default_factory=list)
    count_differences: list = field(default_factory=list)

    @property
    def summary(self):
        summary = (
            f"Restored {self.name} in {self.duration_seconds:.1f} s; {self.replaced}."
        )
        if self.migrations_applied:
            summary += f" Applied migrations: {', '.join(self.migrations_applied)}."
        return summary

    def as_dict(self):
        return {
            "ok": True,
            "name": self.name,
            "path": self.location,
            "safety_backup": self.safety_backup.location
            if self.safety_backup
            else None,
            "set_aside": [str(path) for path in self.set_aside],
            "replaced": self.replaced,
            "duration_seconds": round(self.duration_seconds, 3),
            "row_counts": self.row_counts,
            "count_differences": self.count_differences,
            "migrations_applied": self.migrations_applied,
        }

    def details(self):
        return [
            f"note: rows changed since the load: {difference}"
            for difference in self.count_differences
        ]


@dataclass
class _Replaced:
    """What a restore did with the data it is about to replace."""

    description: str
    safety: object = None  # the safety backup's BackupResult
    set_aside: list = field(default_factory=list)


def compare_counts(expected, actual):
    """The tables whose counts differ, as 'table: expected N, found M'."""
    return [
        f"{table}: expected {count}, found {actual.get(table)}"
        for table, count in sorted(expected.items())
        if actual.get(table) != count
    ]


def restore_backup(
    backup=None,
    *,
    confirm=None,
    alias="default",
    progress=None,
    apply_migrations=True,
    trust_unsigned=False,
):
    """Verify the backup (once; the newest one when none is named), let
    `confirm(manifest)` cancel by raising OpsError, save what the database
    holds now, then load the backup in one transaction: a failure part-way
    leaves the current database exactly as it was."""
    started = time.monotonic()
    engine = engine_for(alias)
    with (
        verified_backup(backup, alias=alias, trust_unsigned=trust_unsigned) as verified,
    ):
        manifest = verified.manifest
        if confirm is not None:
            confirm(manifest)
        # Clicks counted from here on would land in data about to be
        # replaced: every process holds them until the load is done.
        with (
            operation_lock("restore", alias),
            hold_clicks(alias),
            ExitStack() as stack,
        ):
            replaced = _keep_current_data(engine, alias, progress)
            engine.load(verified.path, progress=progress)
            # Each process caches links of the data just replaced: at the end
            # (after the migrations, which may create the version table), and
            # also should anything below fail.
            stack.callback(_forget_links, alias)
            connections[alias].close()
            fixed = engine.fix_sequences()
            # The load committed as one transaction (pg_restore
            # --single-transaction / the backup API), so the data is the
            # backup's. The app keeps serving meanwhile: a request may already
            # have written, so differences are reported for the operator, not
            # treated as failure. Counted before this restore writes its own
            # run rows, and before migrations change the schema.
            counts = engine.table_row_counts(manifest["row_counts"])
            mismatches = compare_counts(manifest["row_counts"], counts)
            applied = _apply_pending_migrations(alias) if apply_migrations else []
            # After the migrations: an older backup's run table may lack
            # columns the code writes.
            _rewrite_history(alias, verified.backup, replaced)
    return RestoreResult(
        name=verified.backup.name,
        location=verified.backup.location,
        duration_seconds=time.monotonic() - started,
        row_counts=counts,
        safety_backup=replaced.safety,
        set_aside=replaced.set_aside,
        replaced=replaced.description,
        migrations_applied=applied,
        sequences_fixed=fixed,
        count_differences=mismatches,
    )


def _keep_current_data(engine, alias, progress):
    """A safety backup of what the database holds now; nothing when it holds
    nothing (a lost file, a re-created database); its files moved aside when
    it is too damaged to be backed up. Never silently: the description says
    which, and the restore's summary repeats it."""
    try:
        if not engine.has_schema():
            return _Replaced("the database held no TinyLink data, nothing to save")
        safety = create_backup(
            label="before-restore",
            alias=alias,
            lock=False,
            keep=10**6,
            progress=progress,
            purpose=SAFETY,
        )
    except OpsError as exc:
        damage = engine.damage()
        if damage is None:
            raise OpsError(
                f"the safety backup of the current data failed, nothing was "
                f"changed: {exc}"
            ) from exc
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        moved = engine.set_aside(f"damaged-{stamp}")
        return _Replaced(
            f"the current database was damaged ({damage}) and could not be "
            f"backed up; its files were moved aside to "
            f"{', '.join(str(path) for path in moved)}",
            set_aside=moved,
        )
    if not safety.ok:
        return _Replaced(
            f"the current database failed its integrity check; its copy "
            f"{safety.location} is kept",
            safety=safety,
        )
    return _Replaced(f"previous data saved as {safety.location}", safety=safety)


def _rewrite_history(alias, restored, replaced):
    """The run table came back as it was in the snapshot. Finish its story:
    the backup that was running when the snapshot was taken did complete
    (its file is what was just restored); every other run that was running
    or queued then did not, and is not run again; the safety backup that
    this restore took is recorded after the fact."""
    runs = OpsRun.objects.using(alias)
    now = timezone.now()
    runs.running().of_kind(OpsKind.BACKUP).update(
        status=OpsStatus.SUCCEEDED,
        finished_at=now,
        summary=f"Completed: its backup {restored.name} was restored.",
        artifact_path=restored.location,
    )
    runs.active().mark_failed(
        "Not run: the database was restored from a snapshot taken while this "
        "was queued or running."
    )
    safety = replaced.safety
    if safety is not None:
        OpsRun.objects.using(alias).create(
            kind=OpsKind.BACKUP,
            trigger="restore",
            status=OpsStatus.SUCCEEDED if safety.ok else OpsStatus.FAILED,
            started_at=now,
            finished_at=now,
            duration_seconds=safety.duration_seconds,
            summary=safety.summary[:500],
            result=safety.as_dict(),
            artifact_path=safety.location,
            artifact_size=safety.size,
            artifact_sha256=safety.sha256,
        )


def _apply_pending_migrations(alias):
    executor = MigrationExecutor(connections[alias])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if not plan:
        return []
    call_command("migrate", database=alias, interactive=False, verbosity=0)
    return [f"{migration.app_label}.{migration.name}" for migration, _ in plan]


def _forget_links(alias):
    """A new links version, so that every process's link cache starts over."""
    try:
        lookup.bump_version(alias)
    except DatabaseError as exc:
        # Restored without its migrations, an old schema may lack the
        # version table; the caches start over within a minute anyway
        # (links.lookup.MAX_AGE_SECONDS).
        logging.getLogger("tinylink.ops").warning(
            "link caches not told of the restore: %s", exc
        )
    lookup.forget_all()
