"""The readiness probe against a gunicorn that has just started: in
Kubernetes the probe is the first request every new worker gets, so it must
not depend on an earlier request having opened the connection pool."""

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from tests.servers import GunicornServer, http_request, tcp_peer_ports

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite has no connection pool to open.",
    ),
]

WORKERS = 3
PROBES_PER_WAVE = 24
READY = {
    "status": "ok",
    "checks": {"database": "ok", "migrations": "ok"},
}


def probe(url):
    """(status, body) of one readiness probe; retried while the port is not
    yet bound, as a kubelet does."""
    deadline = time.monotonic() + 30
    while True:
        try:
            status, _, body = http_request(url + "/health/ready", timeout=20)
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
            continue
        return status, json.loads(body)


def workers_with_a_database_connection(server):
    port = int(connection.settings_dict["PORT"] or 5432)
    return {pid for pid in server.worker_pids() if port in tcp_peer_ports(pid)}


@pytest.fixture
def fresh_server(transactional_db, tmp_path):
    server = GunicornServer(tmp_path, workers=WORKERS, threads=4)
    # No request of its own: the probes below are the first any worker sees.
    server.start(wait_path=None)
    yield server
    server.stop()


def test_the_first_request_to_every_new_worker_is_a_probe_and_it_passes(
    fresh_server,
):
    answers = []
    deadline = time.monotonic() + 60
    # Waves of concurrent probes until every worker has answered at least
    # one: a worker holds a database connection only once a probe ran in
    # it, since nothing else is ever requested.
    with ThreadPoolExecutor(max_workers=PROBES_PER_WAVE) as pool:
        while time.monotonic() < deadline:
            answers += pool.map(probe, [fresh_server.url] * PROBES_PER_WAVE)
            failed = [answer for answer in answers if answer != (200, READY)]
            served = workers_with_a_database_connection(fresh_server)
            if failed or len(served) == WORKERS:
                break
    assert failed == [], fresh_server.log()[-3000:]
    assert len(fresh_server.worker_pids()) == WORKERS
    assert len(served) == WORKERS, fresh_server.log()[-3000:]
