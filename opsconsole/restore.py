"""Restoring a backup into the live database, safely."""

import time
from dataclasses import dataclass, field
from pathlib import Path

from django.core.management import call_command
from django.db import connections

from opsconsole.engines import engine_for
from opsconsole.locks import operation_lock
from opsconsole.verify import verify_backup


@dataclass
class RestoreResult:
    path: Path
    safety_backup: Path
    duration_seconds: float
    row_counts: dict
    migrations_applied: list = field(default_factory=list)
    sequences_fixed: list = field(default_factory=list)
    count_differences: list = field(default_factory=list)


def count_rows(alias, tables):
    engine = engine_for(alias)
    return engine.table_row_counts(tables)


def compare_counts(expected, actual):
    """The tables whose counts differ, as 'table: expected N, found M'."""
    return [
        f"{table}: expected {count}, found {actual.get(table)}"
        for table, count in sorted(expected.items())
        if actual.get(table) != count
    ]


def restore_backup(artifact, *, alias="default", progress=None, apply_migrations=True):
    """Verify the artifact, take a safety backup of the current database, then
    load the artifact in one transaction: a failure part-way leaves the
    current database exactly as it was."""
    from opsconsole.backup import create_backup

    started = time.monotonic()
    verified = verify_backup(artifact, alias=alias)
    manifest = verified.manifest
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
        fixed = engine.fix_sequences() if hasattr(engine, "fix_sequences") else []
        # The load committed as one transaction (pg_restore
        # --single-transaction / the backup API), so the data is the backup's.
        # The app keeps serving meanwhile: a request may already have written,
        # so differences are reported for the operator, not treated as failure.
        counts = count_rows(alias, manifest["row_counts"])
        mismatches = compare_counts(manifest["row_counts"], counts)
        applied = []
        if apply_migrations:
            applied = _apply_pending_migrations(alias)
    return RestoreResult(
        verified.path,
        safety.path,
        time.monotonic() - started,
        counts,
        applied,
        fixed,
        mismatches,
    )


def _apply_pending_migrations(alias):
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connections[alias])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if not plan:
        return []
    call_command("migrate", database=alias, interactive=False, verbosity=0)
    return [f"{migration.app_label}.{migration.name}" for migration, _ in plan]


def _close_interrupted_runs(alias):
    """The restored OpsRun table may hold the row of the very backup being
    restored, still 'running' when the snapshot was taken."""
    from opsconsole.models import OpsRun, OpsStatus

    OpsRun.objects.using(alias).filter(status=OpsStatus.RUNNING).update(
        status=OpsStatus.FAILED,
        summary="Interrupted: the database was restored from a snapshot taken "
        "while this ran.",
    )
