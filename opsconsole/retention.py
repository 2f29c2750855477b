"""Retention: old backups and long-expired links."""

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from opsconsole.errors import OpsError
from opsconsole.manifest import list_backups, manifest_path

logger = logging.getLogger("tinylink.ops")


def prune_backups(*, directory=None, keep, protect=None, dry_run=False):
    """Delete all but the `keep` newest complete backups. The newest backup
    whose checksum verifies is never deleted, so a run of bad backups cannot
    push out the last good one. Returns the deleted (or would-be) paths."""
    from opsconsole.verify import verify_backup

    if keep < 1:
        raise OpsError("keep must be at least 1.")
    backups = [
        artifact for artifact, _ in list_backups(directory or settings.BACKUP_DIR)
    ]
    newest_verified = None
    for artifact in backups:
        try:
            verify_backup(artifact)
        except OpsError:
            continue
        newest_verified = artifact
        break
    keep_set = set(backups[:keep]) | {newest_verified, protect} - {None}
    doomed = [artifact for artifact in backups if artifact not in keep_set]
    if not dry_run:
        for artifact in doomed:
            # The manifest first: a half-deleted backup never looks complete.
            manifest_path(artifact).unlink(missing_ok=True)
            Path(artifact).unlink(missing_ok=True)
            logger.info("pruned backup %s", artifact)
    return doomed


@dataclass
class PurgeResult:
    count: int = 0
    clicks: int = 0
    codes: list = field(default_factory=list)


def purge_links(*, expired_for_days, dry_run=False, now=None):
    """Delete links that expired more than `expired_for_days` days ago; their
    codes and click totals are logged (and returned) before they go."""
    from links.models import Link

    if expired_for_days < 0:
        raise OpsError("--expired-for must be 0 or more days.")
    cutoff = (now or timezone.now()) - timedelta(days=expired_for_days)
    doomed = Link.objects.filter(expires_at__lte=cutoff)
    with transaction.atomic():
        result = PurgeResult(
            count=doomed.count(),
            clicks=doomed.aggregate(total=Sum("click_count"))["total"] or 0,
            codes=list(
                doomed.order_by("expires_at").values_list("short_code", flat=True)[
                    :1000
                ]
            ),
        )
        logger.info(
            "purge_links: %s links expired before %s with %s clicks%s",
            result.count,
            cutoff.isoformat(),
            result.clicks,
            " (dry run)" if dry_run else "",
        )
        if not dry_run:
            doomed.delete()
    return result
