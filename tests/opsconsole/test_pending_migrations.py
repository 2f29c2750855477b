"""The image no longer migrates on every start: a real gunicorn whose database
lacks migrations says so once per worker, keeps serving its probes, and does
not crash when the database is down."""

import json
import os

import psycopg
import pytest
from django.db import connection

from tests.servers import GunicornServer, free_port, http_request, poll

pytestmark = pytest.mark.slow

WORKERS = 2


def records(server, logger):
    found = []
    for line in server.log().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("logger") == logger:
            found.append(record)
    return found


def started(tmp_path, database_url, **env):
    server = GunicornServer(
        tmp_path,
        workers=WORKERS,
        threads=2,
        extra_env={"DATABASE_URL": database_url, "LOG_FORMAT": "json", **env},
    )
    server.start(wait_path="/health/live")
    return server


@pytest.fixture
def empty_database_url(tmp_path):
    """A database no migration ever ran on, of the engine under test."""
    if connection.vendor == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    s = connection.settings_dict
    name = f"tinylink_empty_{os.getpid()}"
    admin = psycopg.connect(
        host=s["HOST"] or "127.0.0.1",
        port=s["PORT"] or 5432,
        user=s["USER"],
        password=s["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
            yield (
                f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:"
                f"{s['PORT'] or 5432}/{name}"
            )
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_each_worker_logs_the_pending_migrations_once(
    db, tmp_path, empty_database_url
):
    server = started(tmp_path, empty_database_url)
    try:
        errors = poll(
            lambda: len(records(server, "tinylink.migrations")), WORKERS, deadline=20
        )
        status, _, body = http_request(server.url + "/health/ready")
        log = records(server, "tinylink.migrations")
    finally:
        server.stop()
    assert errors == WORKERS, server.log()
    assert {record["level"] for record in log} == {"ERROR"}
    message = log[0]["message"]
    assert " migrations pending (contenttypes.0001_initial, " in message
    assert message.endswith(
        "run `manage.py migrate --noinput` once; /health/ready answers 503 "
        "until then"
    )
    assert int(message.split()[0]) > 10  # every app's migrations, not one
    assert status == 503
    assert json.loads(body)["checks"]["migrations"] == "pending"


def test_a_migrated_database_logs_nothing(transactional_db, tmp_path):
    from tests.servers import database_url

    server = started(tmp_path, database_url())
    try:
        checked = poll(
            lambda: len(records(server, "tinylink.migrations")), WORKERS, deadline=20
        )
    finally:
        server.stop()
    assert checked == WORKERS, server.log()
    assert [
        (record["level"], record["message"])
        for record in records(server, "tinylink.migrations")
    ] == [("INFO", "no migrations pending")] * WORKERS


def test_a_database_down_at_start_gets_a_warning_not_a_crash(tmp_path):
    down = f"postgres://postgres@127.0.0.1:{free_port()}/tinylink"
    # The pool gives up on a server that refuses connections after its
    # timeout: 1 s instead of 10 keeps the test short.
    server = started(tmp_path, down, DATABASE_POOL_TIMEOUT="1")
    try:
        warnings = poll(
            lambda: len(records(server, "tinylink.migrations")), WORKERS, deadline=20
        )
        live = http_request(server.url + "/health/live")[0]
        ready = http_request(server.url + "/health/ready")[0]
        workers = len(server.worker_pids())
    finally:
        server.stop()
    assert warnings == WORKERS, server.log()
    log = records(server, "tinylink.migrations")
    assert {record["level"] for record in log} == {"WARNING"}
    assert log[0]["message"].startswith("could not check for pending migrations: ")
    assert (live, ready, workers) == (200, 503, WORKERS)
