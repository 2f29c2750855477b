"""Issue 15, items 10, 11 and 14: the ops console says whether a worker
runs, is linked from the admin index, has honest breadcrumbs, readable help
and times, and offers no schedule form that cannot succeed."""

import html
import json
import re
from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.timezone import localtime

from opsconsole.models import OpsRun, Schedule, WorkerHeartbeat
from opsconsole.operations import queueable_kinds
from tests.opsconsole.helpers import manifest_path, write_backup

OPERATIONS = "/admin/opsconsole/opsrun/operations/"
BACKUPS = "/admin/opsconsole/opsrun/backups/"
SCHEDULES = "/admin/opsconsole/schedule/"


@pytest.fixture(autouse=True)
def backup_dir(settings, tmp_path):
    settings.BACKUP_DIR = tmp_path / "backups"
    return settings.BACKUP_DIR


@pytest.fixture
def no_schedules(db):
    Schedule.objects.all().delete()


def messages_of(response):
    return [str(message) for message in response.context["messages"]]


def text(page):
    """The page's words, without tags: what a reader sees."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


# --- item 11: the worker's state --------------------------------------------


def test_item11_the_operations_page_says_first_that_no_worker_runs_and_what_to_do(
    admin_client, no_schedules
):
    page = admin_client.get(OPERATIONS).content.decode()
    state = page[page.index('id="ops-worker-state"') :]
    state = state[: state.index("</div>")]
    assert "ops-worker-none" in page
    assert "No worker is running" in state
    assert "manage.py opsworker" in state
    assert "make run" in state
    assert "docs/operations.md" in state
    # Above the buttons and the facts: the first thing on the page.
    assert page.index('id="ops-worker-state"') < page.index('id="ops-queue"')


def test_item11_the_operations_page_shows_a_running_worker_as_running(
    admin_client, no_schedules
):
    WorkerHeartbeat.objects.create(hostname="web-1", pid=42)
    page = admin_client.get(OPERATIONS).content.decode()
    assert "ops-worker-ok" in page
    assert "Worker running" in text(page)
    assert "opsworker on web-1 (pid 42)" in page
    assert "No worker is running" not in page


def test_item11_the_operations_page_says_when_the_worker_stopped_beating(
    admin_client, no_schedules, settings
):
    settings.OPS_WORKER_STALE_SECONDS = 120
    WorkerHeartbeat.objects.create(
        hostname="web-1", pid=42, seen_at=timezone.now() - timedelta(minutes=10)
    )
    page = admin_client.get(OPERATIONS).content.decode()
    assert "ops-worker-stale" in page
    assert "The worker stopped" in text(page)


def test_item11_back_up_now_without_a_worker_says_it_waits_for_one(
    admin_client, no_schedules
):
    response = admin_client.post(
        "/admin/opsconsole/opsrun/queue/backup/", follow=True
    )
    run = OpsRun.objects.get()
    [message] = messages_of(response)
    assert message.startswith(
        f"Queued backup run #{run.pk}, but no worker is running: it will run "
        "when `manage.py opsworker` starts"
    )
    assert "no worker is running" in text(response.content.decode())


def test_item11_back_up_now_with_a_live_worker_says_it_is_queued(
    admin_client, no_schedules
):
    WorkerHeartbeat.objects.create(hostname="web-1", pid=42)
    response = admin_client.post(
        "/admin/opsconsole/opsrun/queue/backup/", follow=True
    )
    [message] = messages_of(response)
    assert "no worker is running" not in message
    assert "waiting for manage.py opsworker" in text(response.content.decode())


# --- item 10: the run list fits ---------------------------------------------


def test_item10_the_run_list_has_few_columns_and_a_short_action_label(
    admin_client, no_schedules
):
    OpsRun.objects.create(
        kind="integrity", trigger="command", status="failed", summary="x" * 400
    )
    response = admin_client.get("/admin/opsconsole/opsrun/")
    page = response.content.decode()
    headers = re.findall(r'<th scope="col" class="([^"]+)"', page)
    assert len(headers) <= 7, headers
    assert "Integrity check" in page
    assert ">Mark failed</option>" in page
    assert "x" * 61 not in page


# --- item 14: index link, breadcrumbs, help text, times, schedules -----------


def test_item14_the_admin_index_links_the_operations_and_backups_pages(admin_client):
    page = admin_client.get("/admin/").content.decode()
    assert f'href="{OPERATIONS}"' in page
    assert f'href="{BACKUPS}"' in page


def test_item14_the_operations_page_breadcrumb_is_home_then_operations(
    admin_client, no_schedules
):
    page = admin_client.get(OPERATIONS).content.decode()
    crumbs = page[page.index('<div class="breadcrumbs">') :]
    crumbs = text(crumbs[: crumbs.index("</div>")]).strip()
    assert crumbs == "Home › Operations"
    backups = admin_client.get(BACKUPS).content.decode()
    crumbs = backups[backups.index('<div class="breadcrumbs">') :]
    crumbs = text(crumbs[: crumbs.index("</div>")]).strip()
    assert crumbs == "Home › Operations › Backups"


def test_item14_a_run_page_explains_the_trigger_in_words(admin_client, no_schedules):
    run = OpsRun.objects.create(kind="backup", trigger="admin:admin")
    page = admin_client.get(f"/admin/opsconsole/opsrun/{run.pk}/change/")
    words = text(page.content.decode())
    assert "command, admin:, schedule:" not in words
    assert "“admin:” and a user name (a button in the admin)" in words


def test_item14_the_backups_page_shows_times_as_the_admin_does_with_the_iso_beside(
    admin_client, no_schedules, backup_dir
):
    artifact = write_backup(backup_dir, hours_ago=2)
    manifest = json.loads(manifest_path(artifact).read_text())
    created = localtime(datetime.fromisoformat(manifest["created_at"]))
    page = admin_client.get(BACKUPS).content.decode()
    row = page[page.index('<tr class="ops-backup">') :]
    row = row[: row.index("</tr>")]
    # As the links list shows times: minutes and the time zone.
    shown = date_format(created, "Y-m-d H:i T")
    assert f">{shown}</time>" in row
    assert f'<time datetime="{created.isoformat()}"' in row
    # No raw ISO timestamp as the visible text outside the manifest.
    visible = text(re.sub(r"<details>.*?</details>", "", row, flags=re.S))
    assert created.isoformat() not in visible
    assert f"{created:%Y-%m-%dT%H:%M}" not in visible


def test_item14_no_add_schedule_when_every_operation_has_one(admin_client, db):
    Schedule.objects.all().delete()
    for kind in queueable_kinds():
        Schedule.objects.create(kind=kind, interval_hours=24)
    listing = admin_client.get(SCHEDULES).content.decode()
    assert f'href="{SCHEDULES}add/"' not in listing
    assert admin_client.get(f"{SCHEDULES}add/").status_code == 403


def test_item14_add_schedule_offers_only_the_operations_without_one(
    admin_client, no_schedules
):
    Schedule.objects.create(kind="backup", interval_hours=24)
    listing = admin_client.get(SCHEDULES).content.decode()
    assert f'href="{SCHEDULES}add/"' in listing
    form = admin_client.get(f"{SCHEDULES}add/").content.decode()
    assert 'value="integrity"' in form
    assert 'value="backup"' not in form
    response = admin_client.post(
        f"{SCHEDULES}add/", {"kind": "integrity", "enabled": "on", "interval_hours": 6}
    )
    assert response.status_code == 302
    integrity = Schedule.objects.get(kind="integrity")
    # Left empty: the worker's next poll sets it an interval ahead.
    assert integrity.next_run_at is None
