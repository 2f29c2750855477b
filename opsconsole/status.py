"""Facts about the operations that health, metrics and the admin share.

Backups are recorded by the data-operations work (OpsRun); until a backup has
been recorded the answer is "missing"."""

import shutil

from django.conf import settings


def backup_status():
    """'ok', 'stale' or 'missing' for the newest successful backup."""
    return "missing"


def disk_status():
    """'ok' or 'low' for the volume that holds the data directory."""
    usage = shutil.disk_usage(settings.DATA_DIR)
    min_free = settings.HEALTH_MIN_FREE_DISK_MB * 2**20
    return "low" if usage.free < min_free else "ok"


def operations_facts():
    """(metric name, help, value or None) for the operations gauges."""
    return [
        (
            "tinylink_backup_last_success_timestamp_seconds",
            "Unix time of the newest successful backup.",
            None,
        ),
        (
            "tinylink_backup_last_size_bytes",
            "Size of the newest successful backup.",
            None,
        ),
        (
            "tinylink_restore_test_last_success",
            "1 if the newest restore test passed, 0 if it failed.",
            None,
        ),
        (
            "tinylink_restore_test_last_timestamp_seconds",
            "Unix time of the newest restore test.",
            None,
        ),
        (
            "tinylink_integrity_check_last_success",
            "1 if the newest integrity check found nothing, 0 otherwise.",
            None,
        ),
    ]
