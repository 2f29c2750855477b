"""An operator backs up from the admin, in a real browser against gunicorn,
with the worker in a process of its own; the console's pages fit a 1280 px
screen (issue 15, items 10, 11 and 14)."""

import re

import pytest
from django.conf import global_settings
from django.contrib.auth import get_user_model

from opsconsole.models import OpsRun, Schedule, WorkerHeartbeat
from tests.opsconsole.helpers import listed, manage
from tests.servers import GunicornServer

pytestmark = pytest.mark.slow
PASSWORD = "correct horse 1"


@pytest.fixture
def backup_dir(settings, tmp_path):
    # The test process, the server and the worker all use this directory.
    settings.BACKUP_DIR = tmp_path / "backups"
    return settings.BACKUP_DIR


@pytest.fixture
def ui_server(transactional_db, tmp_path, backup_dir):
    """The `page` fixture's server, with the test's BACKUP_DIR: a server of its
    own, since the module-wide one has no per-test environment."""
    server = GunicornServer(
        tmp_path, workers=1, threads=8, extra_env={"BACKUP_DIR": str(backup_dir)}
    )
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def operator(transactional_db, settings):
    # The server checks passwords with the real hashers, not the tests' fast one.
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    # Only the button's run, not the default schedules, which are all due.
    Schedule.objects.all().delete()
    return get_user_model().objects.create_superuser(
        "operator", "ops@example.com", PASSWORD
    )


def test_back_up_now_queues_the_worker_runs_it_and_the_pages_show_it(
    page, operator, backup_dir
):
    from playwright.sync_api import expect

    page.goto("/admin/")
    page.get_by_label("Username").fill("operator")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Operation runs").click()

    # The run page refreshes itself every few seconds, which clears the
    # one-time message: read it from the response the click led to.
    run_page = re.compile(r"/admin/opsconsole/opsrun/\d+/change/$")
    with page.expect_response(run_page) as landed:
        page.get_by_role("button", name="Back up now").click()
    assert re.search(r"Queued backup run #\d+", landed.value.text())
    page.wait_for_url(run_page)
    expect(page.locator("#ops-run-status")).to_contain_text("Queued")
    # Queued, not run in the request: no backup exists until the worker runs.
    assert listed(backup_dir) == []

    worker = manage("opsworker", "--once", timeout=300)
    assert worker.returncode == 0, worker.stdout + worker.stderr
    [(artifact, _)] = listed(backup_dir)
    assert OpsRun.objects.get().status == "succeeded"

    # The page's own refresh (every few seconds while the run is active)
    # shows the outcome; a reload of ours could collide with it mid-flight.
    expect(page.locator("#ops-run-status")).to_contain_text("Succeeded", timeout=15_000)
    expect(page.get_by_text(str(artifact)).first).to_be_visible()

    page.locator(".object-tools").get_by_role("link", name="Backups").click()
    row = page.locator("tr.ops-backup")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(artifact.name)
    expect(row.locator(".ops-command")).to_have_text(
        f"python manage.py restore {artifact.name}"
    )

    page.locator(".object-tools").get_by_role("link", name="Operations").click()
    expect(page.locator("#ops-last-backup")).to_contain_text(str(artifact))
    expect(page.locator("#ops-backups-on-disk")).to_contain_text("1 backup")


def sign_in(page):
    page.goto("/admin/")
    page.get_by_label("Username").fill("operator")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def horizontal_overflow(page, selector="html"):
    """How many pixels `selector` is wider than its visible box (0: no
    horizontal scroll)."""
    return page.eval_on_selector(selector, "e => e.scrollWidth - e.clientWidth")


def test_item10_the_operation_runs_list_fits_a_1280_px_screen(page, operator):
    from playwright.sync_api import expect

    for number in range(5):
        OpsRun.objects.create(
            kind="restore_test",
            trigger="admin:a-rather-long-operator-name",
            status="failed",
            summary=f"run {number}: " + "no backup in /var/lib/tinylink/backups " * 8,
        )
    sign_in(page)
    page.goto("/admin/opsconsole/opsrun/")
    expect(page.locator("#result_list")).to_be_visible()
    assert page.viewport_size["width"] == 1280
    assert horizontal_overflow(page) == 0
    assert horizontal_overflow(page, "#changelist .results") == 0
    action = page.locator("select[name=action]").bounding_box()
    assert action["width"] < 320, action
    # The last column, the summary, is on the screen.
    summary = page.locator("#result_list td.field-summary_text").first.bounding_box()
    assert summary["x"] + summary["width"] <= 1280, summary


def test_item14_the_operations_page_is_linked_from_the_index_and_says_no_worker_runs(
    page, operator
):
    from playwright.sync_api import expect

    sign_in(page)
    index = page.locator("#ops-console-links")
    index.get_by_role("link", name="Operations", exact=True).click()
    page.wait_for_url("**/admin/opsconsole/opsrun/operations/")
    expect(page.locator(".breadcrumbs")).to_have_text(
        re.compile(r"^\s*Home\s*›\s*Operations\s*$")
    )
    state = page.locator("#ops-worker-state")
    expect(state).to_be_visible()
    expect(state).to_contain_text("No worker is running")
    expect(state).to_contain_text("manage.py opsworker")
    # It is the first thing in the content, above the buttons.
    assert state.bounding_box()["y"] < page.locator("#ops-queue").bounding_box()["y"]
    assert horizontal_overflow(page) == 0

    WorkerHeartbeat.objects.create(hostname="web-1", pid=42)
    page.reload()
    expect(page.locator("#ops-worker-state")).to_contain_text("Worker running")
