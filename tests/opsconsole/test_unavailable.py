"""A database that cannot serve a request answers 503 + Retry-After, not 500.

Another connection holds a lock that blocks writers, and this connection
waits only briefly: the redirect's click update then fails as it would when
the server is gone, the pool is exhausted or a SQLite writer outlasts the
busy timeout. Real locks on the real database, on SQLite and PostgreSQL.
"""

import contextlib
import logging
import sqlite3

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from links import clickbuffer
from links.models import Link
from tests.links.ratelimit_helpers import api_for
from tests.servers import database_url, poll

JSON = {"HTTP_ACCEPT": "application/json"}
HTML = {"HTTP_ACCEPT": "text/html"}
MESSAGE = "TinyLink is briefly unavailable; please try again in a moment."


@contextlib.contextmanager
def writers_blocked():
    """Another connection holds the write lock; ours gives up after 200 ms."""
    if connection.vendor == "sqlite":
        other = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")  # in WAL mode readers still read
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA busy_timeout = 200")
        try:
            yield
        finally:
            other.execute("ROLLBACK")
            other.close()
            busy_ms = int(settings.DATABASES["default"]["OPTIONS"]["timeout"] * 1000)
            with connection.cursor() as cursor:
                cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
    else:
        other = psycopg.connect(database_url())
        other.execute("LOCK TABLE links_link IN EXCLUSIVE MODE")  # reads pass
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '200ms'")
        try:
            yield
        finally:
            other.rollback()
            other.close()
            # The pool hands this connection to the next test.
            with connection.cursor() as cursor:
                cursor.execute("RESET lock_timeout")


@pytest.fixture
def link(transactional_db):
    # With a click limit: its click is counted in the database before the
    # redirect answers (an unlimited link's waits in memory and redirects:
    # test_an_unlimited_link_redirects_while_its_click_waits).
    return Link.objects.create(
        short_code="up", target_url="https://example.com/", max_clicks=1000
    )


def test_an_unlimited_link_redirects_while_its_click_waits(client, transactional_db):
    free = Link.objects.create(short_code="free", target_url="https://example.com/")
    with writers_blocked():
        response = client.get("/free", **JSON)
        assert response.status_code == 302
        free.refresh_from_db()
        assert free.click_count == 0
    # Kept in memory, and written by the process's thread once the database
    # takes writes again.
    assert poll(lambda: Link.objects.get(pk=free.pk).click_count, 1) == 1
    assert clickbuffer.pending() == 0


def test_a_redirect_that_cannot_count_its_click_is_503_json(client, link, caplog):
    with writers_blocked(), caplog.at_level(logging.ERROR):
        response = client.get("/up", **JSON)
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "no-store" in response["Cache-Control"]
    assert response.json()["error"] == {
        "code": "unavailable",
        "message": MESSAGE,
        "details": {},
        "request_id": response["X-Request-ID"],
    }
    # The operator gets the cause in one line, with its traceback (the first
    # of the minute).
    [record] = [r for r in caplog.records if r.name == "tinylink.unavailable"]
    assert record.getMessage().startswith("database unavailable: OperationalError: ")
    assert record.exc_info is not None
    # Nothing was counted, and the lock gone, the link works and counts again:
    # a lock timeout is not an outage, so the breaker did not open.
    link.refresh_from_db()
    assert link.click_count == 0
    assert client.get("/up").status_code == 302
    link.refresh_from_db()
    assert link.click_count == 1


def test_a_browser_gets_a_plain_503_page(client, link):
    with writers_blocked():
        response = client.get("/up", **HTML)
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    assert response["Retry-After"] == "5"
    body = response.content.decode()
    assert MESSAGE in body
    assert "Traceback" not in body


def test_an_api_write_that_cannot_reach_the_database_is_503_in_the_envelope(
    link, admin_user
):
    api = api_for(admin_user)
    with writers_blocked():
        response = api.patch(
            "/api/links/up", {"target_url": "https://example.org/"}, format="json"
        )
    assert response.status_code == 503, response.content
    assert response["Retry-After"] == "5"
    assert response.json()["error"]["code"] == "unavailable"
    link.refresh_from_db()
    assert link.target_url == "https://example.com/"


def test_each_failure_is_one_line_and_the_traceback_comes_once_a_minute(
    client, link, caplog
):
    with writers_blocked(), caplog.at_level(logging.INFO):
        statuses = [client.get("/up", **JSON).status_code for _ in range(3)]
    assert statuses == [503] * 3
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    # Not Django's "Service Unavailable" besides: one record per failure.
    assert [r.name for r in errors] == ["tinylink.unavailable"] * 3
    assert [r.exc_info is not None for r in errors] == [True, False, False]
