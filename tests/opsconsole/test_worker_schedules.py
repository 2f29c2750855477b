"""Issue 15, item 11: a worker's first start runs no schedule at once, and a
run by hand stands in for its schedule's next one (no scheduled backup a
second after a manual one). The real worker loop, on the real database."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from opsconsole.models import OpsRun, Schedule
from opsconsole.worker import SCHEDULE_STAGGER, Worker, queue_due_schedules
from tests.opsconsole.helpers import listed

INITIAL = ("opsconsole", "0001_initial")


@pytest.fixture(autouse=True)
def backup_dir(settings, tmp_path):
    settings.BACKUP_DIR = tmp_path / "backups"
    return settings.BACKUP_DIR


@pytest.fixture
def fresh_installation(transactional_db):
    """The schedules exactly as `migrate` leaves them on a new installation:
    the tables emptied back to the first migration, then every migration."""
    executor = MigrationExecutor(connection)
    executor.migrate([INITIAL])
    Schedule.objects.all().delete()
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    return list(Schedule.objects.order_by("interval_hours", "kind"))


@pytest.fixture
def committed(transactional_db):
    Schedule.objects.all().delete()


def test_item11_a_new_installations_first_worker_start_runs_no_schedule(
    fresh_installation,
):
    assert [s.kind for s in fresh_installation] == [
        "backup",
        "integrity",
        "restore_test",
        "maintenance",
    ]
    before = timezone.now()
    assert Worker(poll=0.1).run_once() == []
    after = timezone.now()
    assert not OpsRun.objects.exists()
    schedules = list(Schedule.objects.order_by("interval_hours", "kind"))
    for position, schedule in enumerate(schedules):
        # Soon, not a day later (a new installation has no backup yet), and
        # one after another: the backup before the restore test needs one.
        first = (position + 1) * SCHEDULE_STAGGER
        assert before + first <= schedule.next_run_at <= after + first
        assert not schedule.is_overdue()
    # Staggered: the weekly ones do not fall due on the daily backup's poll.
    assert len({s.next_run_at for s in schedules}) == len(schedules)
    # The second poll finds nothing due either.
    assert Worker(poll=0.1).run_once() == []
    assert not OpsRun.objects.exists()


def test_item11_a_manual_backup_moves_the_due_backup_schedule_instead_of_a_second_one(
    committed, backup_dir
):
    due = timezone.now() - timedelta(minutes=1)
    schedule = Schedule.objects.create(
        kind="backup", interval_hours=24, next_run_at=due
    )
    manual, _ = OpsRun.objects.queue("backup", trigger="admin:alice")
    worker = Worker(poll=0.1)
    [done] = worker.run_once()
    assert done == manual
    assert done.status == "succeeded"
    # The next poll: the schedule is due, but the button's backup just ran.
    assert worker.run_once() == []
    assert OpsRun.objects.count() == 1
    assert len(listed(backup_dir)) == 1
    schedule.refresh_from_db()
    manual.refresh_from_db()
    assert schedule.next_run_at == manual.started_at + timedelta(hours=24)
    assert schedule.last_run == manual
    assert not schedule.is_overdue()


def test_item11_only_a_recent_successful_run_by_hand_moves_a_schedule(committed):
    now = timezone.now()
    Schedule.objects.create(
        kind="integrity", interval_hours=24, next_run_at=now - timedelta(minutes=1)
    )
    OpsRun.objects.create(
        kind="integrity",
        trigger="admin:alice",
        status="failed",
        started_at=now - timedelta(minutes=5),
    )
    OpsRun.objects.create(
        kind="integrity",
        trigger="command",
        status="succeeded",
        started_at=now - timedelta(hours=25),
    )
    [run] = queue_due_schedules(now=now)
    assert run.trigger == "schedule:integrity"
    assert Schedule.objects.get().next_run_at == now + timedelta(hours=24)


def test_item11_a_cleared_next_run_waits_a_stagger_from_the_next_poll(committed):
    Schedule.objects.create(kind="integrity", interval_hours=168, next_run_at=None)
    assert not Schedule.objects.get().is_overdue()
    now = timezone.now()
    assert queue_due_schedules(now=now) == []
    assert Schedule.objects.get().next_run_at == now + SCHEDULE_STAGGER
    # Then it runs, once, and waits its interval.
    later = now + SCHEDULE_STAGGER
    [run] = queue_due_schedules(now=later)
    assert run.trigger == "schedule:integrity"
    assert Schedule.objects.get().next_run_at == later + timedelta(hours=168)
