"""A damaged SQLite file: the links on the damaged page answer 503 in the
envelope (not 500), the damage is logged once, and /health/full says what to
do until the file is sound again."""

import logging
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from django.db import connection

from links.models import Link
from opsconsole import health
from tests.links.ratelimit_helpers import api_for
from tests.opsconsole.test_disaster import corrupt_table_page

pytestmark = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="SQLite's database file"
)

JSON = {"HTTP_ACCEPT": "application/json"}
HTML = {"HTTP_ACCEPT": "text/html"}
MESSAGE = "TinyLink is briefly unavailable; please try again in a moment."


@pytest.fixture(autouse=True)
def _full_health_on_its_own(settings, tmp_path, monkeypatch):
    settings.BACKUP_DIR = tmp_path / "backups"
    settings.HEALTH_MIN_FREE_DISK_MB = 0
    monkeypatch.setattr(health, "_migrations", {"checked_at": None, "pending": None})


def damage_header(path):
    """The file's first bytes overwritten: SQLite no longer knows it."""
    with open(path, "r+b") as handle:
        handle.write(b"not a database!!")


@pytest.fixture
def damaged_links(request, transactional_db, tmp_path):
    """A copy of the test database, with a link, damaged (by default in
    links_link's b-tree, where the link is stored) and used for the test.
    A copy, so that no other connection of the session ever sees a damaged
    or swapped file. Yields a function that makes the copy sound again."""
    damage = getattr(request, "param", corrupt_table_page)
    Link.objects.create(short_code="up", target_url="https://example.com/")
    live = connection.settings_dict["NAME"]
    connection.close()
    damaged, sound = tmp_path / "damaged.db", tmp_path / "sound.db"
    with closing(sqlite3.connect(live)) as source:
        for target in (damaged, sound):
            with closing(sqlite3.connect(target)) as copy:
                source.backup(copy)
    damage(damaged)
    connection.settings_dict["NAME"] = str(damaged)

    def repair():
        connection.close()
        shutil.copyfile(sound, damaged)
        # The log of the damaged file must not be replayed over the sound one.
        for ending in ("-wal", "-shm"):
            Path(f"{damaged}{ending}").unlink(missing_ok=True)

    yield repair
    connection.close()
    connection.settings_dict["NAME"] = live


@pytest.mark.parametrize(
    "damaged_links",
    [corrupt_table_page, damage_header],
    ids=["disk image is malformed", "file is not a database"],
    indirect=True,
)
@pytest.mark.usefixtures("damaged_links")
def test_a_link_on_a_damaged_page_is_503_in_the_envelope(client):
    response = client.get("/up", **JSON)
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["error"] == {
        "code": "unavailable",
        "message": MESSAGE,
        "details": {},
        "request_id": response["X-Request-ID"],
    }


@pytest.mark.usefixtures("damaged_links")
def test_a_browser_gets_the_503_page(client):
    response = client.get("/up", **HTML)
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    assert MESSAGE in response.text
    assert "malformed" not in response.text


@pytest.mark.usefixtures("damaged_links")
def test_the_api_answers_503_in_the_envelope(admin_user):
    response = api_for(admin_user).get("/api/links/up")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable"


@pytest.mark.usefixtures("damaged_links")
def test_the_damage_is_logged_once_with_what_to_do(client, caplog):
    with caplog.at_level(logging.INFO):
        statuses = [client.get("/up", **JSON).status_code for _ in range(3)]
    assert statuses == [503] * 3
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    [error] = errors
    assert "database disk image is malformed" in error.getMessage()
    assert "manage.py check_integrity" in error.getMessage()
    assert error.exc_info is not None


def test_full_health_is_degraded_with_a_hint_until_the_file_is_sound(
    client, damaged_links
):
    before = client.get("/health/full").json()
    assert (before["checks"]["storage"], before["hints"]) == ("ok", [])

    assert client.get("/up", **JSON).status_code == 503
    response = client.get("/health/full")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["checks"]["storage"]) == ("degraded", "damaged")
    [hint] = body["hints"]
    assert "manage.py check_integrity" in hint
    assert "manage.py restore" in hint

    damaged_links()
    body = client.get("/health/full").json()
    assert (body["checks"]["storage"], body["hints"]) == ("ok", [])
    assert client.get("/up").status_code == 302


@pytest.mark.parametrize("damaged_links", [damage_header], indirect=True)
def test_a_file_that_is_no_database_makes_full_health_unhealthy_with_the_hint(
    client, damaged_links
):
    assert client.get("/up", **JSON).status_code == 503
    response = client.get("/health/full")
    assert response.status_code == 503
    body = response.json()
    assert (body["status"], body["checks"]["database"]) == ("unhealthy", "unavailable")
    assert body["checks"]["storage"] == "damaged"
    [hint] = body["hints"]
    assert "file is not a database" in hint
