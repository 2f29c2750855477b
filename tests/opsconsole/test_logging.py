"""JSON log lines: the formatter, the request line, request ids, slow queries,
and gunicorn's own output."""

import io
import json
import logging
import re
import sys
from datetime import UTC, datetime

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from links.models import Link
from opsconsole import slowqueries
from opsconsole.logging import JsonFormatter, request_id_var
from tests.servers import GunicornServer, http_request

JSON = {"HTTP_ACCEPT": "application/json"}
GENERATED_ID = re.compile(r"[0-9a-f]{32}")
# Counts to the parameter in SQL: slow enough on SQLite and PostgreSQL alike,
# and the parameter is distinctive enough to look for in the log.
SLOW_SQL = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < %s) "
    "SELECT COUNT(*) FROM c"
)
SLOW_PARAM = 200_003


@pytest.fixture
def json_log():
    """json_log("logger.name") attaches a JsonFormatter handler at INFO and
    returns a reader of the JSON objects logged since."""
    attached = []

    def attach(name):
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(JsonFormatter())
        logger = logging.getLogger(name)
        attached.append((logger, handler, logger.level))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)

        def read():
            lines = stream.getvalue().splitlines()
            return [json.loads(line) for line in lines]

        read.raw = stream.getvalue
        return read

    yield attach
    for logger, handler, level in attached:
        logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.fixture
def request_log(json_log):
    return json_log("tinylink.request")


def record(message="hello %s", args=("world",), exc_info=None, **extra):
    entry = logging.LogRecord(
        "tinylink.test", logging.WARNING, __file__, 1, message, args, exc_info
    )
    entry.__dict__.update(extra)
    return entry


# --- The formatter --------------------------------------------------------------------


def test_a_record_is_one_json_object_on_one_line():
    line = JsonFormatter().format(record("two\nlines: %s", ("and more",)))
    assert "\n" not in line
    entry = json.loads(line)
    assert set(entry) == {"time", "level", "logger", "message"}
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "tinylink.test"
    assert entry["message"] == "two\nlines: and more"
    logged_at = datetime.fromisoformat(entry["time"])
    assert logged_at.utcoffset().total_seconds() == 0
    assert abs((datetime.now(UTC) - logged_at).total_seconds()) < 60


def test_request_fields_are_kept_and_other_extras_are_not():
    line = JsonFormatter().format(
        record(
            method="GET",
            path="/go",
            status=302,
            duration_ms=1.5,
            user_id=7,
            request=object(),
            password="hunter2",
        )
    )
    entry = json.loads(line)
    assert {k: entry[k] for k in ("method", "path", "status", "duration_ms")} == {
        "method": "GET",
        "path": "/go",
        "status": 302,
        "duration_ms": 1.5,
    }
    assert entry["user_id"] == 7
    assert "request" not in entry
    assert "hunter2" not in line


def test_the_request_id_of_the_current_request_is_on_every_line():
    token = request_id_var.set("req-from-context")
    try:
        entry = json.loads(JsonFormatter().format(record()))
    finally:
        request_id_var.reset(token)
    assert entry["request_id"] == "req-from-context"
    assert "request_id" not in json.loads(JsonFormatter().format(record()))


def test_an_exception_is_logged_with_its_traceback_on_the_same_line():
    try:
        raise ValueError("boom")
    except ValueError:
        line = JsonFormatter().format(record(exc_info=sys.exc_info()))
    assert "\n" not in line
    trace = json.loads(line)["exc_info"]
    assert trace.startswith("Traceback (most recent call last):")
    assert trace.endswith("ValueError: boom")


# --- The request line -----------------------------------------------------------------


def test_each_request_logs_one_line_without_its_query_string(client, db, request_log):
    response = client.get(
        "/nope?token=secret", HTTP_X_REQUEST_ID="req-0001-abc", **JSON
    )
    assert response.status_code == 404
    (entry,) = request_log()
    assert entry["request_id"] == "req-0001-abc"
    assert (entry["method"], entry["path"], entry["status"]) == ("GET", "/nope", 404)
    assert isinstance(entry["duration_ms"], float)
    assert entry["duration_ms"] >= 0
    assert "secret" not in request_log.raw()


def test_an_anonymous_redirect_logs_no_user(client, db, request_log):
    Link.objects.create(short_code="go", target_url="https://example.com/")
    assert client.get("/go").status_code == 302
    (entry,) = request_log()
    assert entry["status"] == 302
    assert "user_id" not in entry


def test_a_signed_in_redirect_neither_looks_up_nor_logs_the_user(
    client, user, request_log
):
    Link.objects.create(short_code="go", target_url="https://example.com/")
    client.force_login(user)
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/go").status_code == 302
    assert not [q for q in queries if "django_session" in q["sql"]]
    (entry,) = request_log()
    assert "user_id" not in entry


def test_a_page_that_uses_the_user_logs_its_id(client, user, request_log):
    client.force_login(user)
    assert client.get("/links/").status_code == 200
    (entry,) = request_log()
    assert entry["user_id"] == user.pk
    assert entry["path"] == "/links/"


def test_a_server_error_is_logged_with_traceback_and_request_id(
    client, db, settings, json_log, request_log
):
    settings.ROOT_URLCONF = "tests.opsconsole.failing_urls"
    errors = json_log("django.request")
    client.raise_request_exception = False

    response = client.get("/test/fail", HTTP_X_REQUEST_ID="req-broken-view", **JSON)

    assert response.status_code == 500
    assert response.json()["error"]["request_id"] == "req-broken-view"
    (error,) = errors()
    assert error["level"] == "ERROR"
    assert error["request_id"] == "req-broken-view"
    assert "Traceback" in error["exc_info"]
    assert "RuntimeError: a bug, on purpose" in error["exc_info"]
    (entry,) = request_log()
    assert (entry["status"], entry["request_id"]) == (500, "req-broken-view")


# --- X-Request-ID ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "incoming",
    ["abcdefgh", "a" * 128, "req.1:2-3_4", "3f2b8c1e9d7a4b6c8e0f1a2b3c4d5e6f"],
    ids=["8-chars", "128-chars", "punctuation", "hex"],
)
def test_a_well_formed_request_id_is_kept(client, db, request_log, incoming):
    response = client.get("/nope", HTTP_X_REQUEST_ID=incoming, **JSON)
    assert response["X-Request-ID"] == incoming
    assert response.json()["error"]["request_id"] == incoming
    assert request_log()[0]["request_id"] == incoming


@pytest.mark.parametrize(
    "incoming",
    [
        "has spaces in it",
        'quote"inside-1',
        "single'quote-1",
        "<script>alert(1)</script>",
        "short",
        "a" * 7,
        "a" * 129,
        "a" * 500,
        "",
    ],
    ids=[
        "spaces",
        "double-quote",
        "single-quote",
        "markup",
        "short",
        "7-chars",
        "129-chars",
        "500-chars",
        "empty",
    ],
)
def test_a_malformed_request_id_is_replaced(client, db, request_log, incoming):
    response = client.get("/nope", HTTP_X_REQUEST_ID=incoming, **JSON)
    generated = response["X-Request-ID"]
    assert GENERATED_ID.fullmatch(generated)
    assert response.json()["error"]["request_id"] == generated
    assert request_log()[0]["request_id"] == generated


def test_each_request_without_an_id_gets_a_new_one(client, db):
    first = client.get("/nope", **JSON)["X-Request-ID"]
    second = client.get("/nope", **JSON)["X-Request-ID"]
    assert GENERATED_ID.fullmatch(first)
    assert first != second


# --- Slow queries ---------------------------------------------------------------------


def run_slow_query(conn):
    with conn.cursor() as cursor:
        cursor.execute(SLOW_SQL, [SLOW_PARAM])
        assert cursor.fetchone()[0] == SLOW_PARAM


def test_a_query_over_the_threshold_is_logged_without_its_parameters(
    db, settings, json_log
):
    slow = json_log("tinylink.db")
    settings.LOG_SLOW_QUERY_MS = 1
    run_slow_query(connection)
    (entry,) = [e for e in slow() if "WITH RECURSIVE" in e.get("sql", "")]
    assert entry["level"] == "WARNING"
    assert entry["sql_ms"] >= 1
    assert re.fullmatch(r"slow query took \d+ ms", entry["message"])
    assert entry["sql"] == SLOW_SQL
    assert str(SLOW_PARAM) not in slow.raw()


def test_a_query_under_the_threshold_is_not_logged(db, settings, json_log):
    slow = json_log("tinylink.db")
    settings.LOG_SLOW_QUERY_MS = 60_000
    run_slow_query(connection)
    assert slow() == []


def test_a_new_connection_gets_the_slow_query_log_exactly_once(db, settings, json_log):
    slow = json_log("tinylink.db")
    settings.LOG_SLOW_QUERY_MS = 1
    fresh = connections.create_connection("default")
    try:
        assert slowqueries.log_slow_query not in fresh.execute_wrappers
        fresh.ensure_connection()  # connection_created installs the wrapper
        # A pooled connection fires connection_created on every checkout.
        fresh.close()
        fresh.ensure_connection()
        assert fresh.execute_wrappers.count(slowqueries.log_slow_query) == 1
        run_slow_query(fresh)
    finally:
        fresh.close()
    assert [e for e in slow() if e.get("sql") == SLOW_SQL]


def test_no_slow_query_log_is_installed_when_the_threshold_is_zero(db, settings):
    settings.LOG_SLOW_QUERY_MS = 0
    fresh = connections.create_connection("default")
    try:
        fresh.ensure_connection()
        assert slowqueries.log_slow_query not in fresh.execute_wrappers
    finally:
        fresh.close()


# --- gunicorn -------------------------------------------------------------------------


@pytest.mark.slow
def test_gunicorn_writes_only_json_lines_and_an_access_line_per_request(
    transactional_db, tmp_path
):
    # A server of its own: the access log is opt-in, and every line of the
    # output is checked, so no other test may have written to it.
    server = GunicornServer(
        tmp_path, workers=1, threads=2, extra_env={"GUNICORN_ACCESSLOG": "-"}
    )
    server.start()
    try:
        status, _, _ = http_request(
            f"{server.url}/nope?token=secret",
            headers={"X-Request-ID": "gunicorn-req-0001", "Accept": "text/html"},
        )
    finally:
        server.stop()
    assert status == 404

    output = server.log()
    entries = []
    for line in filter(str.strip, output.splitlines()):
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"not a JSON line in gunicorn's output: {line!r}")
    for entry in entries:
        assert {"time", "level", "logger", "message"} <= set(entry), entry
    assert "secret" not in output

    (access,) = [
        e for e in entries if e["logger"] == "gunicorn.access" and e["path"] == "/nope"
    ]
    assert (access["method"], access["status"]) == ("GET", 404)
    assert access["request_id"] == "gunicorn-req-0001"
    assert isinstance(access["duration_ms"], float)
    (app,) = [
        e for e in entries if e["logger"] == "tinylink.request" and e["path"] == "/nope"
    ]
    assert app["request_id"] == "gunicorn-req-0001"
    assert any(e["logger"] == "gunicorn.error" for e in entries)
