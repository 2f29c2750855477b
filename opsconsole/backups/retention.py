"""Retention of backups: keep the newest N, never the newest good one."""

import logging
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from opsconsole.backups.manifest import list_backups, manifest_path
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
    """Delete all but the `keep` newest complete backups. The newest backup
    whose checksum verifies is never deleted, so a run of bad backups cannot
    push out the last good one. `known_good` is a backup the caller has just
    written and hashed: it is kept and not hashed again."""
    if keep < 1:
        raise OpsError("keep must be at least 1.")
    backups = [
        artifact for artifact, _ in list_backups(directory or settings.BACKUP_DIR)
    ]
    if len(backups) <= keep:
        return PruneResult([], dry_run)
    newest_good = None
    for artifact in backups:
        if artifact == known_good:
            newest_good = artifact
            break
        try:
            verify_backup(artifact)
        except OpsError:
            continue
        newest_good = artifact
        break
    keep_set = set(backups[:keep]) | {newest_good, known_good} - {None}
    doomed = [artifact for artifact in backups if artifact not in keep_set]
    if not dry_run:
        for artifact in doomed:
            # The manifest first: a half-deleted backup never looks complete.
            manifest_path(artifact).unlink(missing_ok=True)
            Path(artifact).unlink(missing_ok=True)
            logger.info("pruned backup %s", artifact)
    return PruneResult(doomed, dry_run)
