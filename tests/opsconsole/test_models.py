"""OpsRunQuerySet: which run is "the newest", on both databases.

PostgreSQL sorts NULL above every value in a descending order, SQLite below:
a run without a finish time must never count as the newest finished one."""

from datetime import timedelta

import pytest
from django.utils import timezone

from opsconsole.models import OpsRun


def run(kind, status, *, finished_at, **fields):
    return OpsRun.objects.create(
        kind=kind,
        trigger="command",
        status=status,
        finished_at=finished_at,
        **fields,
    )


@pytest.mark.parametrize("status", ["succeeded", "failed"])
def test_a_run_without_a_finish_time_is_never_the_latest(db, status):
    finished = run("restore_test", "succeeded", finished_at=timezone.now())
    run("restore_test", status, finished_at=None)
    assert OpsRun.objects.latest_finished("restore_test") == finished
    assert OpsRun.objects.latest_success("restore_test") == finished


def test_the_latest_is_the_newest_finish_time_not_the_newest_row(db):
    now = timezone.now()
    newer = run("backup", "succeeded", finished_at=now)
    run("backup", "succeeded", finished_at=now - timedelta(hours=1))
    assert OpsRun.objects.latest_success("backup") == newer


def test_a_files_last_verification_is_its_newest_finished_test(db):
    path = "/backups/tinylink-sqlite-1.sqlite3"
    tested = run(
        "restore_test", "succeeded", finished_at=timezone.now(), result={"path": path}
    )
    run("restore_test", "failed", finished_at=None, result={"path": path})
    assert OpsRun.objects.last_verifications([path]) == {path: tested}
