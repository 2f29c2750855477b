"""`manage.py uptime_check`: the seeds' uptime test, against a real gunicorn."""

import io
import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from links.models import Link
from tests.opsconsole.helpers import manage
from tests.servers import GunicornServer, free_port


def uptime_check(*args):
    """(stdout, CommandError message or None)."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("uptime_check", *args, stdout=out, stderr=err)
    except CommandError as exc:
        return out.getvalue(), str(exc)
    return out.getvalue(), None


def rows(table):
    """{check: (status, detail)} of the last table printed."""
    last = table.strip().split("CHECK")[-1].splitlines()[1:]
    found = {}
    for line in last:
        check, status, _ms, *detail = line.split()
        found[check] = (status, " ".join(detail))
    return found


@pytest.mark.parametrize(
    "url",
    ["ftp://sho.rt", "sho.rt", "http://", "http://[::1", "https://sho.rt/?x=1"],
)
def test_a_bad_url_is_one_line(url):
    out, error = uptime_check("--url", url)
    assert error is not None
    assert "\n" not in error
    assert url in error
    assert out == ""


def test_retries_below_one_are_refused():
    _, error = uptime_check("--url", "http://127.0.0.1:1", "--retries", "0")
    assert error.startswith("--retries must be at least 1")


@pytest.mark.slow
def test_a_healthy_site_with_a_working_code_passes_with_a_table(gunicorn_server):
    Link.objects.create(short_code="up", target_url="https://example.com/up")
    out, error = uptime_check("--url", gunicorn_server.url + "/", "--code", "up")
    assert error is None, out
    assert out.splitlines()[0].split() == ["CHECK", "STATUS", "MS", "DETAIL"]
    found = rows(out)
    assert found["live"] == ("200", "ok")
    assert found["ready"] == ("200", "ok")
    # From loopback the full report is served; with no worker it is degraded.
    assert found["full"][0] == "200"
    assert found["full"][1].startswith(("healthy", "degraded"))
    assert found["/up"][0] in {"301", "302", "307", "308"}
    assert found["/up"][1] == "→ https://example.com/up"


@pytest.mark.slow
def test_a_code_that_does_not_exist_fails_every_round(gunicorn_server):
    out, error = uptime_check(
        "--url",
        gunicorn_server.url,
        "--code",
        "nothing-here",
        "--retries",
        "2",
        "--interval",
        "0",
    )
    assert out.count("CHECK") == 2
    assert rows(out)["/nothing-here"][0] == "404"
    assert error == (
        f"{gunicorn_server.url} failed 2 round(s) in a row; last: /nothing-here: "
        "404 expected a redirect (301/302/307/308)"
    )


@pytest.mark.slow
def test_a_dead_port_fails_after_n_rounds_with_one_line_and_exit_1():
    url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    done = manage(
        "uptime_check",
        "--url",
        url,
        "--retries",
        "3",
        "--interval",
        "0.1",
        env={"METRICS_TOKEN": ""},
    )
    assert done.returncode == 1
    assert done.stdout.count("CHECK") == 3
    assert rows(done.stdout)["live"][0] == "error"
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(
        f"CommandError: {url} failed 3 round(s) in a row; last: live"
    )
    assert done.stderr.count("round ") == 2  # the two retries announced
    assert time.monotonic() - started < 60


def unreachable_database_url(tmp_path):
    if connection.vendor == "postgresql":
        return f"postgres://postgres@127.0.0.1:{free_port()}/tinylink"
    # A directory where the file should be: SQLite cannot open it.
    (tmp_path / "app.db").mkdir()
    return f"sqlite:///{tmp_path}/app.db"


@pytest.fixture
def server_without_its_database(transactional_db, tmp_path):
    """A gunicorn whose database cannot be reached, and that serves the
    full report only with a token (as to a check from outside)."""
    server = GunicornServer(
        tmp_path,
        workers=1,
        threads=2,
        extra_env={
            "DATABASE_URL": unreachable_database_url(tmp_path),
            "METRICS_ALLOWED_NETWORKS": "192.0.2.0/24",
            "METRICS_TOKEN": "uptime-secret-token",
            "HEALTH_DB_TIMEOUT": "1",
            "DATABASE_CONNECT_TIMEOUT": "1",
        },
    )
    server.start(wait_path="/health/live")
    yield server
    server.stop()


@pytest.mark.slow
def test_a_database_that_is_down_fails_ready(server_without_its_database):
    url = server_without_its_database.url
    out, error = uptime_check("--url", url, "--retries", "1", "--token", "")
    found = rows(out)
    assert found["live"] == ("200", "ok")
    assert found["ready"][0] == "503"
    assert "database=unavailable" in found["ready"][1]
    # No token: refused, which is reported and is not the failure.
    assert found["full"] == ("403", "refused (needs METRICS_TOKEN)")
    assert error.endswith("last: ready: 503 database=unavailable, migrations=unknown")

    out, _ = uptime_check(
        "--url", url, "--retries", "1", "--token", "uptime-secret-token"
    )
    assert rows(out)["full"][0] == "503"
    assert rows(out)["full"][1].startswith("database=unavailable")
