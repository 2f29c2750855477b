"""The monthly "test restore", automated: restore into a scratch database,
check it, compare with the manifest, time it. Never touches the live database."""

import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import connections

from opsconsole.errors import OpsError
from opsconsole.manifest import list_backups
from opsconsole.restore import compare_counts
from opsconsole.verify import verify_backup

SCRATCH_ALIAS = "tinylink_restore_test"


@dataclass
class RestoreTestResult:
    path: Path
    passed: bool
    rto_seconds: float
    problems: list = field(default_factory=list)
    row_counts: dict = field(default_factory=dict)


def latest_backup(directory=None):
    backups = list_backups(directory or settings.BACKUP_DIR)
    if not backups:
        raise OpsError(
            f"no backup in {directory or settings.BACKUP_DIR}; run "
            "`manage.py backup` first."
        )
    return backups[0][0]


def run_restore_test(artifact=None, *, alias="default"):
    """Returns a RestoreTestResult; raises OpsError only when the test could
    not run at all. A failed check is a result (passed=False), not an error."""
    from opsconsole.engines import engine_for
    from opsconsole.integrity import check_integrity

    artifact = Path(artifact) if artifact else latest_backup()
    started = time.monotonic()
    try:
        verified = verify_backup(artifact, alias=alias)
    except OpsError as exc:
        return RestoreTestResult(
            artifact, False, time.monotonic() - started, [str(exc)]
        )
    manifest = verified.manifest
    engine = engine_for(alias)
    scratch_settings, cleanup = engine.load_into_scratch(verified.path)
    try:
        connections.settings[SCRATCH_ALIAS] = scratch_settings
        scratch = connections[SCRATCH_ALIAS]
        rto = time.monotonic() - started
        problems = []
        counts = engine_for(SCRATCH_ALIAS).table_row_counts(manifest["row_counts"])
        problems += compare_counts(manifest["row_counts"], counts)
        with scratch.cursor() as cursor:
            cursor.execute("SELECT app, name FROM django_migrations")
            restored = sorted([list(row) for row in cursor.fetchall()])
        if restored != sorted(manifest["migrations"]):
            problems.append("applied migrations differ from the manifest")
        integrity = check_integrity(alias=SCRATCH_ALIAS)
        problems += [str(finding) for finding in integrity.findings]
    finally:
        if SCRATCH_ALIAS in connections:
            connections[SCRATCH_ALIAS].close()
            del connections[SCRATCH_ALIAS]
        connections.settings.pop(SCRATCH_ALIAS, None)
        cleanup()
    return RestoreTestResult(artifact, not problems, rto, problems, counts)
