"""The database goes away under a running gunicorn and comes back.

gunicorn reaches PostgreSQL through a TCP proxy in this process. Cutting the
proxy drops every open connection and refuses new ones, as a stopped or
unreachable server does, without touching the PostgreSQL server that other
tests and sessions share. Restoring it accepts connections again; nothing is
restarted.
"""

import contextlib
import json
import select
import socket
import threading
import time
from datetime import datetime
from urllib.parse import urlsplit

import pytest
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families

from links.models import Link
from tests.opsconsole.helpers import manifest_path, write_backup
from tests.servers import GunicornServer, database_url, free_port, http_request

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite is a file in the process: there is no server to lose.",
    ),
]

JSON = {"Accept": "application/json"}
HTML = {"Accept": "text/html"}
RECOVERY_SECONDS = 30


class DatabaseProxy:
    """127.0.0.1:<port> → the database server, with a switch."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.port = free_port()
        self._sockets = set()
        self._lock = threading.Lock()
        self._listener = None
        self._stop = None
        self._thread = None

    def start(self):
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._accept, args=(self._listener, self._stop), daemon=True
        )
        self._thread.start()

    restore = start

    def cut(self):
        """Close the port (new connections are refused) and drop open ones."""
        self._stop.set()
        self._thread.join()
        self._listener.close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    close = cut

    def _accept(self, listener, stop):
        while not stop.is_set():
            readable, _, _ = select.select([listener], [], [], 0.05)
            if not readable:
                continue
            client, _ = listener.accept()
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self._sockets.update((client, server))
            for source, sink in ((client, server), (server, client)):
                threading.Thread(
                    target=self._pump, args=(source, sink), daemon=True
                ).start()

    def _pump(self, source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            # Either side gone: end both directions; each socket is closed
            # by the one thread that reads from it.
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            with self._lock:
                self._sockets.discard(source)
            source.close()


@pytest.fixture
def proxy():
    s = connection.settings_dict
    proxy = DatabaseProxy((s["HOST"] or "127.0.0.1", int(s["PORT"] or 5432)))
    proxy.start()
    yield proxy
    proxy.close()


@pytest.fixture
def backup_dir(settings, tmp_path):
    settings.BACKUP_DIR = tmp_path / "backups"
    return settings.BACKUP_DIR


def start_server(tmp_path, proxy, backup_dir, **env):
    # The test database, through the proxy. A server per test, not per
    # module: each test breaks its database connections, and reads the log
    # for the error that outage wrote, which an earlier test's would fake.
    url = urlsplit(database_url())
    auth = url.netloc.rpartition("@")[0]
    url = url._replace(netloc=f"{auth}@127.0.0.1:{proxy.port}").geturl()
    server = GunicornServer(
        tmp_path,
        workers=1,
        threads=4,
        extra_env={
            "DATABASE_URL": url,
            "BACKUP_DIR": str(backup_dir),
            "HEALTH_DB_TIMEOUT": "1",
            "DATABASE_CONNECT_TIMEOUT": "2",
            "DATABASE_POOL_TIMEOUT": "3",
            **env,
        },
    )
    server.start()
    return server


@pytest.fixture
def server(transactional_db, tmp_path, proxy, backup_dir):
    server = start_server(tmp_path, proxy, backup_dir)
    yield server
    server.stop()


def get(server, path, headers=None):
    status, _, body = http_request(server.url + path, headers=headers, timeout=20)
    return status, body


def probe(server, path):
    status, body = get(server, path)
    return status, json.loads(body)


def wait_for(condition, seconds):
    """The condition's last value; polls until it is truthy or time is up."""
    deadline = time.monotonic() + seconds
    while True:
        result = condition()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


def test_probes_report_the_outage_and_recover_without_a_restart(server, proxy):
    pid = server.process.pid
    assert probe(server, "/health/live") == (200, {"status": "ok"})
    assert probe(server, "/health/ready")[0] == 200
    status, body = probe(server, "/health/full")
    assert status == 200
    assert body["checks"]["database"] == "ok"

    proxy.cut()

    # That liveness runs no query at all is proven in test_health.py.
    assert probe(server, "/health/live") == (200, {"status": "ok"})
    assert probe(server, "/health/ready") == (
        503,
        {
            "status": "unavailable",
            "checks": {"database": "unavailable", "migrations": "unknown"},
        },
    )
    status, body = probe(server, "/health/full")
    assert status == 503
    assert body["status"] == "unhealthy"
    # Checks that need the database are not attempted; the backups are read
    # from the backup directory, which needs none.
    assert {k: body["checks"][k] for k in ("database", "migrations", "backups")} == {
        "database": "unavailable",
        "migrations": "unknown",
        "backups": "missing",
    }

    proxy.restore()

    assert wait_for(
        lambda: probe(server, "/health/ready")[0] == 200, RECOVERY_SECONDS
    ), server.log()[-3000:]
    assert probe(server, "/health/full")[0] == 200
    assert server.process.poll() is None
    assert server.process.pid == pid


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [(JSON, "application/json"), (HTML, "text/html")],
)
def test_redirect_during_the_outage_is_a_503_to_retry_without_a_traceback(
    server, proxy, accept, content_type
):
    Link.objects.create(short_code="up", target_url="https://example.com/")
    Link.objects.create(short_code="warm", target_url="https://example.com/")
    assert get(server, "/warm")[0] == 302

    proxy.cut()
    # A link the worker has not cached (one it had would redirect until its
    # next look at the links' version: test_an_outage_is_answered_at_once...).
    status, headers, body = http_request(f"{server.url}/up", headers=accept)
    proxy.restore()

    assert status == 503
    assert headers["Retry-After"] == "5"
    assert "no-store" in headers["Cache-Control"]
    assert headers["Content-Type"].startswith(content_type)
    assert b"Traceback" not in body
    assert b'File "' not in body
    message = "TinyLink is briefly unavailable; please try again in a moment."
    if content_type == "application/json":
        assert json.loads(body)["error"] == {
            "code": "unavailable",
            "message": message,
            "details": {},
            "request_id": headers["X-Request-ID"],
        }
    else:
        assert message.encode() in body
    # The error is logged with its traceback, for the operator.
    log = server.log()
    assert "database unavailable: OperationalError" in log
    assert "Traceback" in log
    assert wait_for(lambda: get(server, "/up")[0] == 302, RECOVERY_SECONDS)


def test_metrics_answer_during_the_outage_with_the_backups_on_disk(
    server, proxy, backup_dir
):
    artifact = write_backup(backup_dir, hours_ago=1)
    created = datetime.fromisoformat(
        json.loads(manifest_path(artifact).read_text())["created_at"]
    )

    proxy.cut()
    status, _, body = http_request(f"{server.url}/metrics", timeout=20)
    proxy.restore()

    assert status == 200, server.log()[-3000:]
    samples = {
        sample.name: sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }
    assert samples["tinylink_backup_last_success_timestamp_seconds"] == (
        pytest.approx(created.timestamp())
    )
    # What only the database knows has no value while it is away.
    assert "tinylink_integrity_check_last_success" not in samples


# The production default: what every request waited before its 503.
POOL_TIMEOUT = 10.0
BREAKER_SECONDS = 2.0
# Long enough for several trials, and for the pool's reconnection backoff
# (1, 2, 4, 8, 16 s ...) to have grown as in the outage that was reported.
OUTAGE_SECONDS = 10 * BREAKER_SECONDS


@pytest.fixture
def outage_server(transactional_db, tmp_path, proxy, backup_dir):
    server = start_server(
        tmp_path,
        proxy,
        backup_dir,
        DATABASE_POOL_TIMEOUT=str(POOL_TIMEOUT),
        DATABASE_BREAKER_SECONDS=str(BREAKER_SECONDS),
    )
    yield server
    server.stop()


def timed(call):
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def test_an_outage_is_answered_at_once_logged_briefly_and_left_quickly(
    outage_server, proxy
):
    server = outage_server
    Link.objects.create(short_code="up", target_url="https://example.com/")
    assert get(server, "/up")[0] == 302
    logged_before = len(server.log_path.read_bytes())

    proxy.cut()
    cut_at = time.monotonic()
    answers, sent_at = [], []
    while time.monotonic() - cut_at < OUTAGE_SECONDS:
        sent_at.append(time.monotonic() - cut_at)
        answers.append(timed(lambda: get(server, "/up")[0]))
        # Traffic of a few requests a second, not a busy loop on shared cores.
        time.sleep(0.25)
    (metrics_status, _, _), metrics_seconds = timed(
        lambda: http_request(f"{server.url}/metrics", timeout=30)
    )
    (live_status, _), live_seconds = timed(lambda: get(server, "/health/live"))
    outage_log = server.log_path.read_bytes()[logged_before:]
    outage_seconds = time.monotonic() - cut_at
    proxy.restore()
    back, recovery_seconds = timed(
        lambda: wait_for(lambda: get(server, "/up")[0] == 302, 6 * POOL_TIMEOUT)
    )

    slowest = max(seconds for _, seconds in answers)
    measured = (
        f"{len(answers)} answers in {outage_seconds:.1f}s, slowest {slowest:.1f}s; "
        f"/metrics {metrics_seconds:.1f}s; {len(outage_log)} bytes of log; back "
        f"after {recovery_seconds:.1f}s\n" + outage_log.decode(errors="replace")[-3000:]
    )
    # Every request of the outage is a 503, and none waits anywhere near the
    # pool's timeout: after the first failure the breaker answers at once,
    # and its one trial every BREAKER_SECONDS waits HEALTH_DB_TIMEOUT at most.
    # Except that the link, cached by the worker, may redirect until the
    # worker's next look at the links' version (LINK_CACHE_CHECK_SECONDS,
    # 0.5 s; its click waits in memory): that look fails, and from then on
    # it is 503 too.
    statuses = [status for status, _ in answers]
    first_503 = statuses.index(503)
    assert set(statuses[first_503:]) == {503}, measured
    assert set(statuses[:first_503]) <= {302}, measured
    assert sent_at[first_503] < 2, measured
    assert slowest < POOL_TIMEOUT / 2, measured
    # The scrape and liveness do not wait for the database either.
    assert (metrics_status, live_status) == (200, 200), measured
    assert max(metrics_seconds, live_seconds) < POOL_TIMEOUT / 2, measured
    # One line per failed attempt to reach the database (the first failure
    # and each trial), one traceback; 40 requests logged 170 ERROR records
    # and 510 KB before.
    records = [
        json.loads(line) for line in outage_log.splitlines() if line.startswith(b"{")
    ]
    errors = [record for record in records if record["level"] == "ERROR"]
    assert len(errors) <= 1 + outage_seconds / BREAKER_SECONDS, measured
    assert len([record for record in records if "exc_info" in record]) <= 1, measured
    assert len(outage_log) < len(answers) * 1024, measured
    # Back by the next trial, once the database is (it took ~40 s: the
    # pool's reconnection backoff had grown to 30 s and more).
    assert back, measured
    assert recovery_seconds < 2 * BREAKER_SECONDS + 1, measured
