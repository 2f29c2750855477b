"""/debug/version and /debug/database-stats: staff only, 404 for everyone else."""

import platform
import sqlite3

import django
import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from links.models import Link
from opsconsole import version

JSON = {"HTTP_ACCEPT": "application/json"}
DEBUG_PAGES = ["/debug/version", "/debug/database-stats"]


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user(
        "ops", password="correct horse 3", is_staff=True
    )


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def without_request_id(response):
    error = dict(response.json()["error"])
    error.pop("request_id")
    return error


@pytest.mark.parametrize("path", DEBUG_PAGES)
def test_anonymous_visitors_get_the_ordinary_404(client, db, path):
    response = client.get(path, **JSON)
    assert response.status_code == 404
    # The same answer as for an address that does not exist at all.
    unknown = client.get("/debug/nothing-here", **JSON)
    assert without_request_id(response) == without_request_id(unknown)


@pytest.mark.parametrize("path", DEBUG_PAGES)
def test_signed_in_users_who_are_not_staff_get_404(client, user, path):
    client.force_login(user)
    assert client.get(path, **JSON).status_code == 404


@pytest.mark.parametrize("path", DEBUG_PAGES)
def test_superusers_without_staff_status_get_404(client, db, path):
    admin = get_user_model().objects.create_user(
        "root", password="correct horse 4", is_superuser=True, is_staff=False
    )
    client.force_login(admin)
    assert client.get(path, **JSON).status_code == 404


@pytest.mark.parametrize("path", DEBUG_PAGES)
def test_debug_pages_are_never_cached(staff_client, path):
    response = staff_client.get(path)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


def test_version_page_shows_versions_of_the_app_and_its_platform(staff_client):
    response = staff_client.get("/debug/version")
    assert response.status_code == 200
    body = response.json()
    assert body["version"] == version.VERSION
    assert body["commit"] == version.commit()
    assert body["python"] == platform.python_version()
    assert body["django"] == django.get_version()
    assert body["database"]["vendor"] == connection.vendor
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            expected = cursor.fetchone()[0]
        else:
            expected = sqlite3.sqlite_version
    assert body["database"]["server_version"] == expected


def test_database_stats_count_the_real_rows(staff_client, staff):
    for code in ("one", "two", "three"):
        Link.objects.create(short_code=code, target_url="https://example.com/")
    response = staff_client.get("/debug/database-stats")
    assert response.status_code == 200
    body = response.json()
    assert body["vendor"] == connection.vendor
    assert body["tables"]["links_link"] == Link.objects.count() == 3
    assert body["tables"]["auth_user"] == get_user_model().objects.count() == 1
    assert body["database_size_bytes"] > 0
    assert isinstance(body["queries_this_request"], int)
    # At least one COUNT per table.
    assert body["queries_this_request"] >= len(body["tables"]) > 0


def test_database_stats_show_the_engine_specific_facts(staff_client):
    body = staff_client.get("/debug/database-stats").json()
    if connection.vendor == "postgresql":
        assert body["wal_size_bytes"] is None
        assert isinstance(body["pool"], dict)
        assert body["pool"]["pool_max"] >= body["pool"]["pool_min"] >= 1
    else:
        assert isinstance(body["wal_size_bytes"], int)
        assert body["wal_size_bytes"] >= 0
        assert body["pool"] is None
