"""The operations console in the admin: buttons that queue runs, the run
page, the Operations and Backups pages, and the schedules."""

import io
import shlex
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.template.defaultfilters import floatformat
from django.utils import timezone

from opsconsole.models import OpsRun, Schedule, WorkerHeartbeat
from tests.opsconsole.helpers import listed
from tests.opsconsole.test_worker import run_opsworker

CHANGELIST = "/admin/opsconsole/opsrun/"
OPERATIONS = "/admin/opsconsole/opsrun/operations/"
BACKUPS = "/admin/opsconsole/opsrun/backups/"
BUTTONS = [
    ("backup", "Back up now", {}),
    ("restore_test", "Test-restore latest backup", {}),
    ("integrity", "Check integrity", {}),
    ("maintenance", "Run maintenance", {}),
]


def queue_url(kind):
    return f"/admin/opsconsole/opsrun/queue/{kind}/"


def run_url(run):
    return f"/admin/opsconsole/opsrun/{run.pk}/change/"


@pytest.fixture(autouse=True)
def backup_dir(settings, tmp_path):
    settings.BACKUP_DIR = tmp_path / "backups"
    return settings.BACKUP_DIR


@pytest.fixture
def no_schedules(db):
    Schedule.objects.all().delete()


@pytest.fixture
def committed(transactional_db):
    Schedule.objects.all().delete()


@pytest.fixture
def viewer(db, client):
    """Staff who may look at runs but not queue them."""
    user = get_user_model().objects.create_user(
        "viewer", password="pw-viewer-1", is_staff=True
    )
    user.user_permissions.add(Permission.objects.get(codename="view_opsrun"))
    client.force_login(user)
    return client


@pytest.mark.parametrize(("kind", "label", "options"), BUTTONS)
def test_each_button_queues_its_operation_and_returns_at_once(
    admin_client, no_schedules, backup_dir, kind, label, options
):
    page = admin_client.get(CHANGELIST).content.decode()
    assert f'action="{queue_url(kind)}"' in page
    assert label in page
    response = admin_client.post(queue_url(kind))
    run = OpsRun.objects.get()
    assert response.status_code == 302
    assert response.url == run_url(run)
    assert (run.kind, run.status, run.trigger) == (kind, "queued", "admin:admin")
    assert run.options == options
    # Nothing ran inside the request.
    assert run.started_at is None
    assert not backup_dir.exists() or not any(backup_dir.iterdir())


def test_the_run_page_of_a_queued_run_says_so_and_reloads_itself(
    admin_client, no_schedules
):
    WorkerHeartbeat.objects.create(hostname="web-1", pid=42)
    response = admin_client.post(queue_url("backup"), follow=True)
    page = response.content.decode()
    assert "Queued backup run #" in page
    assert "waiting for <code>manage.py opsworker</code>" in page
    assert '<meta http-equiv="refresh" content="3">' in page


def test_a_second_click_shows_the_waiting_run_instead_of_queueing_another(
    admin_client, no_schedules
):
    admin_client.post(queue_url("backup"))
    response = admin_client.post(queue_url("backup"), follow=True)
    assert OpsRun.objects.count() == 1
    assert "A backup run is already queued" in response.content.decode()


def test_queueing_needs_a_post(admin_client, no_schedules):
    assert admin_client.get(queue_url("backup")).status_code == 405
    assert not OpsRun.objects.exists()


@pytest.mark.parametrize("kind", ["restore", "purge_links", "nonsense"])
def test_the_admin_queues_no_restore_and_nothing_unknown(
    admin_client, no_schedules, kind
):
    assert admin_client.post(queue_url(kind)).status_code == 404
    assert not OpsRun.objects.exists()


def test_staff_who_may_only_view_see_no_buttons_and_cannot_queue(viewer):
    page = viewer.get(CHANGELIST).content.decode()
    assert "Back up now" not in page
    assert viewer.post(queue_url("backup")).status_code == 403
    assert viewer.get(OPERATIONS).status_code == 200
    assert not OpsRun.objects.exists()


def test_staff_without_permission_cannot_see_the_operations_pages(db, client):
    user = get_user_model().objects.create_user(
        "clerk", password="pw-clerk-1", is_staff=True
    )
    client.force_login(user)
    assert client.get(OPERATIONS).status_code == 403
    assert client.get(BACKUPS).status_code == 403


def test_a_running_run_shows_its_output_so_far(admin_client, no_schedules):
    run = OpsRun.objects.create(
        kind="backup",
        trigger="admin:admin",
        status="running",
        started_at=timezone.now(),
        output="  … 12.0 MiB of 40.0 MiB\n",
    )
    page = admin_client.get(run_url(run)).content.decode()
    assert "12.0 MiB of 40.0 MiB" in page
    assert "Running" in page
    assert 'http-equiv="refresh"' in page


def test_the_button_and_the_worker_record_a_backup_on_the_run_page(
    admin_client, committed, backup_dir
):
    admin_client.post(queue_url("backup"))
    run = OpsRun.objects.get()
    call_command("opsworker", "--once", stdout=io.StringIO())
    [(artifact, _)] = listed(backup_dir)
    page = admin_client.get(run_url(run)).content.decode()
    assert "Succeeded" in page
    assert str(artifact) in page
    assert OpsRun.objects.get().artifact_sha256 in page
    assert 'http-equiv="refresh"' not in page


def test_the_changelist_filters_by_kind_and_status(admin_client, no_schedules):
    failed = OpsRun.objects.create(
        kind="backup", trigger="command", status="failed", summary="disk full"
    )
    OpsRun.objects.create(kind="backup", trigger="command", status="succeeded")
    OpsRun.objects.create(kind="integrity", trigger="command", status="failed")
    response = admin_client.get(CHANGELIST, {"kind": "backup", "status": "failed"})
    assert list(response.context["cl"].result_list) == [failed]
    assert "disk full" in response.content.decode()


def test_mark_failed_releases_a_stuck_run(admin_client, no_schedules):
    stuck = OpsRun.objects.create(
        kind="backup", trigger="schedule:backup", status="running"
    )
    done = OpsRun.objects.create(kind="backup", trigger="command", status="succeeded")
    admin_client.post(
        CHANGELIST,
        {"action": "mark_failed", "_selected_action": [stuck.pk, done.pk]},
    )
    stuck.refresh_from_db()
    done.refresh_from_db()
    assert stuck.status == "failed"
    assert stuck.summary == "Marked failed by admin:admin."
    assert done.status == "succeeded"


def test_the_changelist_links_the_operations_and_backups_pages(
    admin_client, no_schedules
):
    page = admin_client.get(CHANGELIST).content.decode()
    assert f'href="{OPERATIONS}"' in page
    assert f'href="{BACKUPS}"' in page


@pytest.mark.slow
def test_the_operations_page_shows_the_facts_of_real_runs(
    admin_client, committed, backup_dir
):
    for kind in ("backup", "restore_test", "integrity"):
        OpsRun.objects.queue(kind, trigger="admin:admin")
    run_opsworker()
    backup = OpsRun.objects.get(kind="backup")
    restore_test = OpsRun.objects.get(kind="restore_test")
    response = admin_client.get(OPERATIONS)
    page = response.content.decode()
    facts = response.context["facts"]
    assert facts.backup_state == "ok"
    assert facts.backups_on_disk == 1
    assert facts.database_size > 0
    assert backup.artifact_path in page
    assert response.context["sizes"]["last_backup"] in page
    # floatformat rounds half up (0.185 -> 0.19) where an f-string's :.2f rounds
    # the binary float (0.185 -> 0.18): format the way the page does.
    rto = floatformat(restore_test.result["rto_seconds"], 2)
    assert f"restore time (RTO) {rto} s" in page
    assert "Integrity check passed: no findings." in page
    assert "1 backup</a>" in page
    assert "Needs attention" not in page


def test_the_operations_page_warns_about_overdue_schedules_and_no_backup(
    admin_client, no_schedules, backup_dir
):
    Schedule.objects.create(
        kind="backup",
        interval_hours=24,
        next_run_at=timezone.now() - timedelta(hours=5),
    )
    page = admin_client.get(OPERATIONS).content.decode()
    assert "Needs attention" in page
    assert f"No verified backup is in {backup_dir}." in page
    assert "The backup schedule is overdue" in page
    assert '<strong class="ops-overdue">Overdue</strong>' in page


NO_WORKER = "No worker is running: queued runs wait. Start manage.py opsworker."


def test_the_operations_page_warns_when_no_worker_was_ever_seen(
    admin_client, no_schedules
):
    response = admin_client.get(OPERATIONS)
    page = response.content.decode()
    assert NO_WORKER in page
    assert response.context["facts"].worker_state == "none"


def test_the_operations_page_warns_about_a_stale_worker_and_its_abandoned_run(
    admin_client, no_schedules, settings
):
    settings.OPS_WORKER_STALE_SECONDS = 120
    past = timezone.now() - timedelta(minutes=30)
    run = OpsRun.objects.create(
        kind="backup", trigger="schedule:backup", status="running", started_at=past
    )
    run.take_lease("opsworker on web-1 (pid 42)", past)
    WorkerHeartbeat.objects.create(
        hostname="web-1", pid=42, seen_at=past, current_run=run
    )
    page = admin_client.get(OPERATIONS).content.decode()
    assert "No worker is running: the last heartbeat, of opsworker on web-1" in page
    assert '<span class="ops-status ops-status-failed">stale</span>' in page
    # Failed as abandoned at the next worker poll or queueing; until then the
    # page says what happened to it.
    assert "opsworker on web-1 (pid 42) stopped (no heartbeat since" in page


def test_the_operations_page_shows_the_live_worker_and_what_it_runs(
    admin_client, no_schedules
):
    run = OpsRun.objects.create(
        kind="backup",
        trigger="admin:admin",
        status="running",
        started_at=timezone.now(),
    )
    run.take_lease("opsworker on web-1 (pid 42)")
    WorkerHeartbeat.objects.create(hostname="web-1", pid=42, current_run=run)
    page = admin_client.get(OPERATIONS).content.decode()
    assert NO_WORKER not in page
    assert "No worker is running" not in page
    assert '<span class="ops-status ops-status-succeeded">ok</span>' in page
    assert "opsworker on web-1 (pid 42)" in page
    assert f'href="{run_url(run)}">#{run.pk} Backup</a>' in page


@pytest.mark.slow
def test_the_backups_page_lists_manifests_verifications_and_restore_commands(
    admin_client, committed, backup_dir
):
    quiet = io.StringIO()
    call_command("backup", stdout=quiet, stderr=quiet)
    OpsRun.objects.queue("restore_test", trigger="admin:admin")
    run_opsworker()
    call_command("backup", "--label", "newer", stdout=quiet, stderr=quiet)
    (newer, newer_manifest), (tested, tested_manifest) = listed(backup_dir)
    restore_test = OpsRun.objects.get(kind="restore_test")
    page = admin_client.get(BACKUPS).content.decode()
    for artifact, manifest in [(newer, newer_manifest), (tested, tested_manifest)]:
        assert artifact.name in page
        assert manifest["artifact"]["sha256"] in page
        # The name in the backup store: the same command on any host.
        assert f"python manage.py restore {shlex.quote(artifact.name)}" in page
    assert page.count("never tested") == 1
    assert f"restore test #{restore_test.pk}</a>" in page
    assert page.index(newer.name) < page.index(tested.name)
    # Restoring is a command, never a button.
    assert "queue/restore/" not in page


def test_the_backups_page_without_backups_says_so(admin_client, no_schedules):
    assert "No backups yet." in admin_client.get(BACKUPS).content.decode()


def test_the_schedule_list_shows_which_schedules_are_overdue(
    admin_client, no_schedules, settings
):
    settings.OPS_SCHEDULE_GRACE_MINUTES = 60
    now = timezone.now()
    Schedule.objects.create(
        kind="backup", interval_hours=24, next_run_at=now - timedelta(hours=2)
    )
    Schedule.objects.create(
        kind="integrity", interval_hours=168, next_run_at=now + timedelta(hours=2)
    )
    page = admin_client.get("/admin/opsconsole/schedule/").content.decode()
    assert page.count('<strong class="ops-overdue">Overdue</strong>') == 1


def test_a_schedules_interval_is_editable_and_at_least_one_hour(
    admin_client, no_schedules
):
    schedule = Schedule.objects.create(kind="backup", interval_hours=24)
    url = f"/admin/opsconsole/schedule/{schedule.pk}/change/"
    form = {
        "enabled": "on",
        "next_run_at_0": "2030-01-02",
        "next_run_at_1": "03:00:00",
    }
    rejected = admin_client.post(url, {**form, "interval_hours": "0"})
    assert rejected.status_code == 200
    assert "At least 1 hour." in rejected.content.decode()
    assert admin_client.post(url, {**form, "interval_hours": "12"}).status_code == 302
    schedule.refresh_from_db()
    assert schedule.interval_hours == 12
    assert schedule.next_run_at.strftime("%Y-%m-%d %H:%M") == "2030-01-02 03:00"


def test_a_new_schedule_offers_only_what_the_worker_runs(admin_client, no_schedules):
    page = admin_client.get("/admin/opsconsole/schedule/add/").content.decode()
    assert 'value="backup"' in page
    assert 'value="restore_test"' in page
    assert 'value="restore"' not in page
    assert 'value="purge_links"' not in page
