"""Retention of backups: keep the newest N, never the newest good one, and
clear away what is never a backup (orphaned artifacts)."""

import logging
from dataclasses import dataclass, field

from django.conf import settings

from opsconsole.backups.catalog import list_backups, orphans
from opsconsole.backups.manifest import BACKUP, SAFETY, drill_name, manifest_name
from opsconsole.backups.store import backup_store
from opsconsole.backups.verify import verify_backup
from opsconsole.errors import OpsError
from opsconsole.results import OperationResult

logger = logging.getLogger("tinylink.ops")


@dataclass
class PruneResult(OperationResult):
    deleted: list = field(default_factory=list)
    orphans: list = field(default_factory=list)
    dry_run: bool = False

    @property
    def summary(self):
        verb = "Would delete" if self.dry_run else "Deleted"
        orphans = f" and {len(self.orphans)} orphaned file(s)" if self.orphans else ""
        return f"{verb} {len(self.deleted)} backup(s){orphans}."

    def as_dict(self):
        return {
            "ok": True,
            "dry_run": self.dry_run,
            "deleted": self.deleted,
            "orphans": self.orphans,
        }

    def details(self):
        verb = "would delete" if self.dry_run else "deleted"
        return [f"{verb} {name}" for name in self.deleted] + [
            f"{verb} orphan {name} (an artifact whose manifest never came)"
            for name in self.orphans
        ]


def prune_backups(*, keep=None, known_good=None, dry_run=False, store=None):
    """Delete all but the `keep` newest backups, and all but the `keep`
    newest safety copies (a restore's copy of what it replaced never pushes
    out a backup), and the orphans. Never deleted, whatever `keep` says: the
    newest backup that verifies and passed its integrity check at backup
    time, and the newest one a restore drill passed, so a run of bad backups
    cannot push out the last good one. `known_good` names a backup the caller
    has just written and checked: kept, and not fetched and hashed again."""
    keep = settings.BACKUP_KEEP if keep is None else keep
    if keep < 1:
        raise OpsError("keep must be at least 1.")
    store = store or backup_store()
    backups = list_backups(purpose=BACKUP, store=store)
    copies = list_backups(purpose=SAFETY, store=store)
    kept = {
        *(b.name for b in backups[:keep]),
        *(b.name for b in copies[:keep]),
        known_good,
        next((b.name for b in backups if b.drilled_ok), None),
    }
    if any(b.name not in kept for b in backups):
        # Only worth fetching and hashing when a backup would go.
        kept.add(_newest_good(backups, known_good))
    doomed = [b.name for b in backups + copies if b.name not in kept]
    lost = orphans(store)
    if not dry_run:
        for name in doomed:
            # The manifest first: a half-deleted backup never looks complete.
            for part in (manifest_name(name), name, drill_name(name)):
                if store.exists(part):
                    store.delete(part)
            logger.info("pruned backup %s", store.describe(name))
        for name in lost:
            store.delete(name)
            logger.info("pruned orphaned artifact %s", store.describe(name))
    return PruneResult(doomed, lost, dry_run)


def _newest_good(backups, known_good):
    for backup in backups:
        if backup.name == known_good:
            return backup.name
        if not backup.integrity_ok:
            continue
        try:
            # Signed, whole, and loadable.
            verify_backup(backup)
        except OpsError:
            continue
        return backup.name
    return None
