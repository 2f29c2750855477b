"""An operator backs up from the admin, in a real browser against gunicorn,
with the worker in a process of its own."""

import re

import pytest
from django.conf import global_settings
from django.contrib.auth import get_user_model

from opsconsole.models import OpsRun, Schedule
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
