"""The restore drill (`manage.py restore_test`): the monthly "test restore",
automated. Loads a backup into a scratch database, checks it, compares it
with its manifest and times it. Never touches the live database."""

import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from django.db import connections
from django.utils import timezone

from opsconsole.backups.catalog import latest_backup
from opsconsole.backups.manifest import drill_name, sign
from opsconsole.backups.restore import compare_counts
from opsconsole.backups.verify import verified_backup
from opsconsole.engines import engine_for
from opsconsole.errors import OpsError
from opsconsole.integrity import check_integrity
from opsconsole.results import OperationResult

SCRATCH_ALIAS = "tinylink_restore_test"


@dataclass
class DrillResult(OperationResult):
    name: str
    location: str
    passed: bool
    rto_seconds: float
    problems: list = field(default_factory=list)
    row_counts: dict = field(default_factory=dict)

    @property
    def ok(self):
        return self.passed

    @property
    def summary(self):
        if self.passed:
            return (
                f"Restore test of {self.name} passed; restore took "
                f"{self.rto_seconds:.2f} s."
            )
        return f"Restore test of {self.name} FAILED: {self.problems[0]}"

    def as_dict(self):
        return {
            "ok": self.passed,
            "name": self.name,
            "path": self.location,
            "rto_seconds": round(self.rto_seconds, 3),
            "problems": self.problems,
            "row_counts": self.row_counts,
        }

    def details(self):
        return [f"problem: {problem}" for problem in self.problems]


def run_restore_test(backup=None, *, alias="default", trust_unsigned=False):
    """Drill `backup` (a name in the store or a local path), or the newest
    backup when none is named. Returns a DrillResult; raises OpsError only
    when the drill could not run at all. A backup that fails verification or
    a check is a result (passed=False), not an error."""
    target = backup or latest_backup()
    started = time.monotonic()
    with ExitStack() as stack:
        try:
            verified = stack.enter_context(
                verified_backup(target, alias=alias, trust_unsigned=trust_unsigned)
            )
        except OpsError as exc:
            name = getattr(target, "name", None) or Path(str(target)).name
            location = getattr(target, "location", None) or str(target)
            return DrillResult(
                name, location, False, time.monotonic() - started, [str(exc)]
            )
        problems, counts, rto = _drill(verified, alias, started)
    result = DrillResult(
        verified.backup.name,
        verified.backup.location,
        not problems,
        rto,
        problems,
        counts,
    )
    _record(verified.backup, result)
    return result


def _drill(verified, alias, started):
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
    return problems, counts, rto


def _record(backup, result):
    """The drill's outcome beside the backup, signed: what retention and the
    health checks read, since a restore can rewind the run history."""
    record = {
        "passed": result.passed,
        "at": timezone.now().isoformat(),
        "rto_seconds": round(result.rto_seconds, 3),
        "problems": result.problems[:5],
        "sha256": backup.manifest["artifact"]["sha256"],
    }
    backup.store.write_json(drill_name(backup.name), sign(record), replace=True)
