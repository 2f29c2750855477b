"""Retention of backups: keep the newest N, never the newest good one."""

import logging
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from opsconsole.backups.manifest import (
    BACKUP,
    SAFETY,
    drill_path,
    list_backups,
    manifest_path,
    read_drill,
)
from opsconsole.backups.verify import verify_backup
from opsconsole.errors import OpsError
from opsconsole.results import OperationResult

logger = logging.getLogger("tinylink.ops")


@dataclass
class PruneResult(OperationResult):
    deleted: list = field(default_factory=list)
    dry_run: bool = False

    @property
    def summary(self):
        verb = "Would delete" if self.dry_run else "Deleted"
        return f"{verb} {len(self.deleted)} backup(s)."

    def as_dict(self):
        return {
            "ok": True,
            "dry_run": self.dry_run,
            "deleted": [str(path) for path in self.deleted],
        }

    def details(self):
        verb = "would delete" if self.dry_run else "deleted"
        return [f"{verb} {path}" for path in self.deleted]


def prune_backups(*, directory=None, keep, known_good=None, dry_run=False):
    """Delete all but the `keep` newest backups, and all but the `keep`
    newest safety copies (a restore's copy of what it replaced never pushes
    out a backup). Never deleted, whatever `keep` says: the newest backup
    that verifies and passed its integrity check at backup time, and the
    newest one a restore drill passed, so a run of bad backups cannot push
    out the last good one. `known_good` is a backup the caller has just
    written and checked: it is kept and not hashed again."""
    if keep < 1:
        raise OpsError("keep must be at least 1.")
    directory = directory or settings.BACKUP_DIR
    listed = list_backups(directory, purpose=BACKUP)
    backups = [artifact for artifact, _ in listed]
    copies = [artifact for artifact, _ in list_backups(directory, purpose=SAFETY)]
    if len(backups) <= keep and len(copies) <= keep:
        return PruneResult([], dry_run)
    keep_set = {
        *backups[:keep],
        *copies[:keep],
        known_good,
        _newest_good(backups, known_good),
        _newest_drilled(listed),
    } - {None}
    doomed = [artifact for artifact in backups + copies if artifact not in keep_set]
    if not dry_run:
        for artifact in doomed:
            # The manifest first: a half-deleted backup never looks complete.
            manifest_path(artifact).unlink(missing_ok=True)
            Path(artifact).unlink(missing_ok=True)
            drill_path(artifact).unlink(missing_ok=True)
            logger.info("pruned backup %s", artifact)
    return PruneResult(doomed, dry_run)


def _newest_good(backups, known_good):
    for artifact in backups:
        if artifact == known_good:
            return artifact
        try:
            # Signed, whole, and not a copy of a damaged database.
            verify_backup(artifact)
        except OpsError:
            continue
        return artifact
    return None


def _newest_drilled(listed):
    for artifact, manifest in listed:
        record = read_drill(artifact)
        # The record must be of this very file, not of one it replaced.
        if (
            record
            and record.get("passed")
            and record.get("sha256") == manifest["artifact"]["sha256"]
        ):
            return artifact
    return None
