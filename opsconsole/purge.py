"""Retention of links: delete the ones long expired, keeping a record."""

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from links.models import Link
from opsconsole.errors import OpsError
from opsconsole.results import OperationResult

logger = logging.getLogger("tinylink.ops")
# The codes of the deleted links kept in the run's record; the count is exact.
CODES_KEPT = 1000


@dataclass
class PurgeResult(OperationResult):
    expired_for_days: int = 0
    count: int = 0
    clicks: int = 0
    codes: list = field(default_factory=list)
    dry_run: bool = False

    @property
    def summary(self):
        verb = "Would delete" if self.dry_run else "Deleted"
        return (
            f"{verb} {self.count} link(s) expired over {self.expired_for_days} days "
            f"ago, with {self.clicks} clicks in total."
        )

    def as_dict(self):
        return {
            "ok": True,
            "dry_run": self.dry_run,
            "count": self.count,
            "clicks": self.clicks,
            "codes": self.codes,
        }

    def details(self):
        return ["codes: " + ", ".join(self.codes)]


def purge_links(*, expired_for_days, dry_run=False, now=None):
    """Delete links that expired more than `expired_for_days` days ago; their
    codes and click totals are logged (and returned) before they go."""
    if expired_for_days < 0:
        raise OpsError("--expired-for must be 0 or more days.")
    cutoff = (now or timezone.now()) - timedelta(days=expired_for_days)
    doomed = Link.objects.filter(expires_at__lte=cutoff)
    with transaction.atomic():
        result = PurgeResult(
            expired_for_days=expired_for_days,
            count=doomed.count(),
            clicks=doomed.aggregate(total=Sum("click_count"))["total"] or 0,
            codes=list(
                doomed.order_by("expires_at").values_list("short_code", flat=True)[
                    :CODES_KEPT
                ]
            ),
            dry_run=dry_run,
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
