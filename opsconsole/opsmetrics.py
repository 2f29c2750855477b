"""Gauges about the data operations, read when Prometheus scrapes: backups
and restore drills from the backup directory, the worker, the queue and the
database from the database (status.gather_facts).

Timestamps are 0 for "never", so that `time() - x > limit` alerts fire
instead of the series being absent. The database's reachability and the
free disk space are this process's view, as /health/full reports them; the
alerts in deploy/prometheus/alerts.yml are written against these names.
The pool gauges describe the pool of the one gunicorn worker process
that answered the scrape (each process has its own pool): a sample, not a
sum over the server.
"""

import logging
import shutil

from django.conf import settings
from prometheus_client.core import GaugeMetricFamily

from opsconsole.health import check_database
from opsconsole.models import OpsStatus
from opsconsole.status import read_facts

logger = logging.getLogger("tinylink.metrics")

# (gauge, help, key of psycopg_pool's get_stats())
POOL_GAUGES = [
    (
        "tinylink_db_pool_connections",
        "Connections this process's PostgreSQL pool holds open.",
        "pool_size",
    ),
    (
        "tinylink_db_pool_idle_connections",
        "Of those, idle in the pool (this process).",
        "pool_available",
    ),
    (
        "tinylink_db_pool_max_connections",
        "The most connections this process's pool opens (DATABASE_POOL_MAX).",
        "pool_max",
    ),
    (
        "tinylink_db_pool_requests_waiting",
        "Requests of this process waiting for a pooled connection.",
        "requests_waiting",
    ),
]


def _timestamp(value):
    return value.timestamp() if value is not None else 0


def _passed(run):
    return None if run is None else int(run.status == OpsStatus.SUCCEEDED)


def operations_gauges(*, database=True):
    """(metric name, help, value or None) for the operations gauges. What
    is on disk is exported while the database is down; the rest has no
    value then."""
    facts = read_facts(storage=True, database=database)
    backup, restore_test, worker = (
        facts.newest_backup,
        facts.restore_test,
        facts.worker,
    )
    on_database = facts.database_read
    gauges = [
        (
            "tinylink_backup_last_success_timestamp_seconds",
            "Unix time the newest verified backup was taken (0: none).",
            _timestamp(backup.created_at if backup else None),
        ),
        (
            "tinylink_backup_last_size_bytes",
            "Size of the newest verified backup.",
            backup.size if backup else None,
        ),
        (
            "tinylink_restore_test_last_success",
            "1 if the newest restore test passed, 0 if it failed.",
            None if restore_test is None else int(restore_test.passed),
        ),
        (
            "tinylink_restore_test_last_timestamp_seconds",
            "Unix time of the newest restore test (0: none).",
            _timestamp(restore_test.at if restore_test else None),
        ),
        (
            "tinylink_restore_test_last_rto_seconds",
            "Seconds the newest restore test took to load its backup (the RTO).",
            restore_test.rto_seconds if restore_test else None,
        ),
        (
            "tinylink_integrity_check_last_success",
            "1 if the newest integrity check found nothing, 0 otherwise.",
            _passed(facts.last_integrity),
        ),
        (
            "tinylink_opsworker_last_heartbeat_timestamp_seconds",
            "Unix time of the newest opsworker heartbeat (0: none).",
            _timestamp(worker.seen_at if worker else None) if on_database else None,
        ),
        (
            "tinylink_opsworkers_alive",
            "opsworker processes whose heartbeat is fresher than "
            "OPS_WORKER_STALE_SECONDS.",
            facts.workers_alive,
        ),
        (
            "tinylink_ops_schedules_overdue",
            "Enabled schedules due for longer than OPS_SCHEDULE_GRACE_MINUTES.",
            len(facts.overdue) if on_database else None,
        ),
        (
            "tinylink_ops_runs_queued",
            "Operation runs waiting for the worker.",
            facts.runs.get("queued"),
        ),
        (
            "tinylink_ops_runs_running",
            "Operation runs running now.",
            facts.runs.get("running"),
        ),
        (
            "tinylink_ops_runs_failed_last_24h",
            "Operation runs (of any kind) that failed in the last 24 hours.",
            facts.runs.get("failed_last_24h"),
        ),
        (
            "tinylink_database_size_bytes",
            "Size of the database on disk (without WAL).",
            facts.database_size,
        ),
    ]
    if facts.pool is not None:
        gauges += [
            (name, help_text, facts.pool.get(key))
            for name, help_text, key in POOL_GAUGES
        ]
    return gauges


def watched_directories():
    """(label, directory) whose volume's free space is exported: the data
    directory (SQLite, its WAL) and where backups are written on this host.
    A store off this host (S3) has no local directory to watch."""
    directories = [
        ("data", settings.DATA_DIR),
        ("backup_staging", settings.BACKUP_STAGING_DIR),
    ]
    if not settings.BACKUP_STORE_URL:
        directories.append(("backups", settings.BACKUP_DIR))
    return directories


def disk_gauges():
    """The free bytes of each watched directory's volume, and the floor
    below which /health/full says the disk is low (HEALTH_MIN_FREE_DISK_MB),
    so that the alert and the probe agree without a second setting."""
    free = GaugeMetricFamily(
        "tinylink_disk_free_bytes",
        "Free bytes on the volume of a directory TinyLink writes to.",
        labels=["directory"],
    )
    for label, directory in watched_directories():
        try:
            free.add_metric([label], shutil.disk_usage(directory).free)
        except OSError:
            # Not created yet (the staging directory before the first
            # backup): nothing has been written there to fill it.
            continue
    floor = GaugeMetricFamily(
        "tinylink_disk_free_min_bytes",
        "Free bytes below which /health/full reports the disk as low.",
    )
    floor.add_metric([], settings.HEALTH_MIN_FREE_DISK_MB * 2**20)
    return [free, floor]


class OperationsCollector:
    def collect(self):
        # Asked with the probe's short timeout first: with the database
        # down, the pool's own wait would outlast Prometheus's scrape
        # timeout. What is on disk (the backups) is exported regardless.
        database = check_database() == "ok"
        up = GaugeMetricFamily(
            "tinylink_database_up",
            "1 if this process reached the database at this scrape, else 0.",
        )
        up.add_metric([], int(database))
        yield up
        yield from disk_gauges()
        try:
            gauges = operations_gauges(database=database)
        except Exception as exc:  # noqa: BLE001 - a scrape must not fail on this
            logger.warning("metrics: could not read operations facts: %s", exc)
            return
        for name, help_text, value in gauges:
            gauge = GaugeMetricFamily(name, help_text)
            if value is not None:
                gauge.add_metric([], value)
            yield gauge
