"""Restoring a backup into the live database, safely."""

import time
from dataclasses import dataclass, field
from pathlib import Path

from django.core.management import call_command
from django.db import connections
from django.db.migrations.executor import MigrationExecutor

from opsconsole.backups.create import create_backup
from opsconsole.backups.locks import operation_lock
from opsconsole.backups.verify import verify_backup
from opsconsole.engines import engine_for
from opsconsole.models import OpsRun
from opsconsole.results import OperationResult


@dataclass
class RestoreResult(OperationResult):
    path: Path
    safety_backup: Path
    duration_seconds: float
    row_counts: dict
    migrations_applied: list = field(default_factory=list)
    sequences_fixed: list = field(default_factory=list)
    count_differences: list = field(default_factory=list)

    @property
    def summary(self):
        summary = (
            f"Restored {self.path.name} in {self.duration_seconds:.1f} s; "
            f"previous data saved as {self.safety_backup}."
        )
        if self.migrations_applied:
            summary += f" Applied migrations: {', '.join(self.migrations_applied)}."
        return summary

    def as_dict(self):
        return {
            "ok": True,
            "path": str(self.path),
            "safety_backup": str(self.safety_backup),
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


def compare_counts(expected, actual):
    """The tables whose counts differ, as 'table: expected N, found M'."""
    return [
        f"{table}: expected {count}, found {actual.get(table)}"
        for table, count in sorted(expected.items())
        if actual.get(table) != count
    ]


def restore_backup(
    backup, *, confirm=None, alias="default", progress=None, apply_migrations=True
):
    """Verify the backup (once), let `confirm(manifest)` cancel by raising
    OpsError, take a safety backup of the current database, then load the
    backup in one transaction: a failure part-way leaves the current database
    exactly as it was."""
    started = time.monotonic()
    verified = verify_backup(backup, alias=alias)
    manifest = verified.manifest
    if confirm is not None:
        confirm(manifest)
    engine = engine_for(alias)
    with operation_lock("restore", alias):
        safety = create_backup(
            label="before-restore",
            alias=alias,
            lock=False,
            keep=10**6,
            progress=progress,
        )
        engine.load(verified.path, progress=progress)
        connections[alias].close()
        _close_interrupted_runs(alias)
        fixed = engine.fix_sequences()
        # The load committed as one transaction (pg_restore
        # --single-transaction / the backup API), so the data is the backup's.
        # The app keeps serving meanwhile: a request may already have written,
        # so differences are reported for the operator, not treated as failure.
        counts = engine.table_row_counts(manifest["row_counts"])
        mismatches = compare_counts(manifest["row_counts"], counts)
        applied = _apply_pending_migrations(alias) if apply_migrations else []
    return RestoreResult(
        verified.path,
        safety.path,
        time.monotonic() - started,
        counts,
        applied,
        fixed,
        mismatches,
    )


def _close_interrupted_runs(alias):
    """The restored run table may hold the row of the very backup being
    restored, still "running" when the snapshot was taken."""
    OpsRun.objects.using(alias).running().mark_failed(
        "Interrupted: the database was restored from a snapshot taken while this ran."
    )


def _apply_pending_migrations(alias):
    executor = MigrationExecutor(connections[alias])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if not plan:
        return []
    call_command("migrate", database=alias, interactive=False, verbosity=0)
    return [f"{migration.app_label}.{migration.name}" for migration, _ in plan]
