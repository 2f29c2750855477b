"""The operations facts about the worker, the run queue and the database
that /health/full, /metrics and the admin share."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from opsconsole import status
from opsconsole.models import OpsRun, Schedule, WorkerHeartbeat
from opsconsole.opsmetrics import operations_gauges
from tests.opsconsole.test_status import backup_dir, finished_run, gauges  # noqa: F401

WORKER_GAUGES = [
    "tinylink_opsworker_last_heartbeat_timestamp_seconds",
    "tinylink_opsworkers_alive",
    "tinylink_ops_schedules_overdue",
    "tinylink_ops_runs_queued",
    "tinylink_ops_runs_running",
    "tinylink_ops_runs_failed_last_24h",
]


def test_without_a_worker_its_gauges_say_so(db):
    Schedule.objects.all().delete()
    assert gauges(WORKER_GAUGES) == {
        "tinylink_opsworker_last_heartbeat_timestamp_seconds": 0,
        "tinylink_opsworkers_alive": 0,
        "tinylink_ops_schedules_overdue": 0,
        "tinylink_ops_runs_queued": 0,
        "tinylink_ops_runs_running": 0,
        "tinylink_ops_runs_failed_last_24h": 0,
    }
    facts = status.gather_facts()
    assert facts.worker_state == "none"
    assert (
        "No worker is running: queued runs wait. Start manage.py opsworker."
        in facts.warnings()
    )


def test_worker_and_queue_gauges_count_what_there_is(db, settings):
    settings.OPS_WORKER_STALE_SECONDS = 120
    settings.OPS_SCHEDULE_GRACE_MINUTES = 60
    now = timezone.now()
    Schedule.objects.all().delete()
    Schedule.objects.create(
        kind="backup", interval_hours=24, next_run_at=now - timedelta(hours=2)
    )
    newest = WorkerHeartbeat.objects.create(hostname="web-1", pid=1, seen_at=now)
    WorkerHeartbeat.objects.create(
        hostname="web-2", pid=2, seen_at=now - timedelta(minutes=5)
    )
    OpsRun.objects.create(kind="backup", trigger="admin:alice")
    OpsRun.objects.create(kind="integrity", trigger="admin:alice", status="running")
    finished_run("maintenance", hours_ago=2, ok=False)
    finished_run("maintenance", hours_ago=25, ok=False)
    finished_run("integrity", hours_ago=1)
    assert gauges(WORKER_GAUGES) == {
        "tinylink_opsworker_last_heartbeat_timestamp_seconds": pytest.approx(
            newest.seen_at.timestamp()
        ),
        "tinylink_opsworkers_alive": 1,
        "tinylink_ops_schedules_overdue": 1,
        "tinylink_ops_runs_queued": 1,
        "tinylink_ops_runs_running": 1,
        "tinylink_ops_runs_failed_last_24h": 1,
    }


def test_a_stale_worker_is_a_warning_with_its_heartbeat_age(db, settings):
    settings.OPS_WORKER_STALE_SECONDS = 120
    now = timezone.now()
    WorkerHeartbeat.objects.create(
        hostname="web-1", pid=7, seen_at=now - timedelta(minutes=10)
    )
    facts = status.gather_facts(now=now)
    assert facts.worker_state == "stale"
    assert facts.worker_age == timedelta(minutes=10)
    assert (
        "No worker is running: the last heartbeat, of opsworker on web-1 (pid 7), "
        "is 10\xa0minutes old; queued runs wait. Start manage.py opsworker."
    ) in facts.warnings()


def test_the_database_size_is_a_gauge_and_the_pool_one_on_postgresql(db):
    values = {name: value for name, _, value in operations_gauges()}
    assert values["tinylink_database_size_bytes"] > 0
    pool = {name for name in values if name.startswith("tinylink_db_pool_")}
    if connection.vendor == "postgresql":
        assert pool == {
            "tinylink_db_pool_connections",
            "tinylink_db_pool_idle_connections",
            "tinylink_db_pool_max_connections",
            "tinylink_db_pool_requests_waiting",
        }
        assert (
            values["tinylink_db_pool_max_connections"]
            == (connection.settings_dict["OPTIONS"]["pool"]["max_size"])
        )
    else:
        assert pool == set()
