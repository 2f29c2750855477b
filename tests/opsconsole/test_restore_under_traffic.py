"""A restore while visitors follow links, on the production entry point
(gunicorn, several workers): every redirect answered is counted in the
restored data or in the safety copy of what it replaced; none is lost."""

import threading

import pytest
from django.db import connection
from django.db.models import Sum

from links.models import Link
from opsconsole.backups.catalog import list_backups
from opsconsole.backups.create import create_backup
from opsconsole.backups.manifest import SAFETY
from tests.opsconsole.helpers import manage, wait_for
from tests.servers import GunicornServer, http_request

pytestmark = pytest.mark.slow
CODES = [f"t{number}" for number in range(20)]


@pytest.fixture(autouse=True)
def _backups_in_tmp(settings, tmp_path):
    settings.BACKUP_DIR = tmp_path / "backups"
    settings.CLICK_HOLD_CHECK_SECONDS = 0.2


def _clicks():
    connection.close()
    return Link.objects.aggregate(total=Sum("click_count"))["total"] or 0


class Visitors:
    """Threads following the links until stopped; counts the redirects."""

    def __init__(self, url, threads=4):
        self.url, self.redirects, self.other = url, 0, {}
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.visit) for _ in range(threads)]

    def visit(self):
        number = 0
        while not self.stopping.is_set():
            number += 1
            status, _, _ = http_request(f"{self.url}/{CODES[number % len(CODES)]}")
            with self.lock:
                if status == 302:
                    self.redirects += 1
                else:
                    self.other[status] = self.other.get(status, 0) + 1

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=30)


def test_no_click_is_lost_to_a_restore_under_traffic(
    transactional_db, settings, tmp_path
):
    for code in CODES:
        Link.objects.create(short_code=code, target_url=f"https://example.com/{code}")
    backup = create_backup()
    server = GunicornServer(
        tmp_path,
        workers=3,
        threads=4,
        extra_env={
            "BACKUP_DIR": str(settings.BACKUP_DIR),
            "BACKUP_STAGING_DIR": str(settings.BACKUP_STAGING_DIR),
            "CLICK_HOLD_CHECK_SECONDS": str(settings.CLICK_HOLD_CHECK_SECONDS),
        },
    )
    try:
        server.start()
        with Visitors(server.url) as visitors:
            wait_for(lambda: visitors.redirects > 200, timeout=60, message="traffic")
            # Some clicks written before the restore (each worker writes its
            # clicks every CLICK_FLUSH_SECONDS), so that the safety copy has some.
            wait_for(lambda: _clicks() > 0, timeout=60, message="clicks written")
            restored = manage("restore", backup.name, "--noinput", timeout=300)
            done_at = visitors.redirects
            # Enough traffic afterwards for every worker to look again.
            wait_for(
                lambda: visitors.redirects > done_at + 300, timeout=60, message="more"
            )
    finally:
        server.stop()  # graceful: a worker adds what it still holds at exit
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert visitors.other == {}, visitors.other
    after_restore = _clicks()
    # What the restore replaced (clicks before it raised the hold) is in its
    # safety copy; restoring that copy shows how many.
    [safety] = list_backups(purpose=SAFETY)
    assert manage("restore", safety.name, "--noinput").returncode == 0
    before_hold = _clicks()
    assert before_hold > 0
    assert after_restore > 0
    assert after_restore + before_hold == visitors.redirects
