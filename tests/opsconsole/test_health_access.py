"""Who may read the probes. /health, /health/live and /health/ready answer
anyone on any Host (orchestrators probe by pod IP); /health/full tells the
version, the commit and the state of the backups, so it is guarded like
/metrics: METRICS_ALLOWED_NETWORKS or the metrics bearer token."""

import ipaddress
import json

import pytest

from opsconsole import health
from tests.servers import GunicornServer, http_request

OUTSIDER = "203.0.113.5"
TOKEN = "metrics-token-0123456789abcdef"
JSON = {"HTTP_ACCEPT": "application/json"}
HTML = {"HTTP_ACCEPT": "text/html,application/xhtml+xml,*/*;q=0.8"}
OPEN_PROBES = ["/health", "/health/live", "/health/ready"]


@pytest.fixture(autouse=True)
def _migrations_never_checked(monkeypatch):
    monkeypatch.setattr(health, "_migrations", {"checked_at": None, "pending": None})


@pytest.fixture(autouse=True)
def _production_hosts(settings, tmp_path):
    settings.ALLOWED_HOSTS = ["sho.rt"]
    settings.BACKUP_DIR = tmp_path / "backups"
    settings.HEALTH_MIN_FREE_DISK_MB = 0


@pytest.mark.parametrize("host", ["sho.rt", "10.1.2.3:8000", "evil.example"])
def test_the_full_report_is_refused_to_other_addresses_on_any_host(client, db, host):
    response = client.get("/health/full", REMOTE_ADDR=OUTSIDER, HTTP_HOST=host, **JSON)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert "commit" not in response.content.decode()
    assert "no-store" in response["Cache-Control"]


def test_a_browser_refused_the_full_report_gets_a_page(client, db):
    response = client.get("/health/full", REMOTE_ADDR=OUTSIDER, **HTML)
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")
    assert "commit" not in response.content.decode()


@pytest.mark.parametrize("path", OPEN_PROBES)
def test_the_orchestrators_probes_stay_open_to_anyone(client, db, path):
    response = client.get(path, REMOTE_ADDR=OUTSIDER, HTTP_HOST="10.1.2.3:8000")
    assert response.status_code == 200
    assert "commit" not in response.content.decode()


def test_the_metrics_token_opens_the_full_report_to_any_address(client, db, settings):
    settings.METRICS_TOKEN = TOKEN
    response = client.get(
        "/health/full",
        REMOTE_ADDR=OUTSIDER,
        HTTP_HOST="10.1.2.3:8000",
        HTTP_AUTHORIZATION=f"Bearer {TOKEN}",
    )
    assert response.status_code == 200
    assert "commit" in response.json()


def test_a_wrong_metrics_token_is_refused(client, db, settings):
    settings.METRICS_TOKEN = TOKEN
    response = client.get(
        "/health/full",
        REMOTE_ADDR=OUTSIDER,
        HTTP_AUTHORIZATION=f"Bearer {TOKEN}x",
        **JSON,
    )
    assert response.status_code == 403


def test_the_allowed_networks_follow_the_metrics_setting(client, db, settings):
    settings.METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("203.0.113.0/24")]
    assert client.get("/health/full", REMOTE_ADDR=OUTSIDER).status_code == 200
    assert client.get("/health/full", **JSON).status_code == 403


def test_a_forwarded_for_header_does_not_make_an_outsider_local(client, db):
    response = client.get(
        "/health/full", REMOTE_ADDR=OUTSIDER, HTTP_X_FORWARDED_FOR="127.0.0.1", **JSON
    )
    assert response.status_code == 403


@pytest.mark.slow
def test_gunicorn_in_production_mode_guards_only_the_full_report(
    transactional_db, tmp_path
):
    # Loopback is not an allowed network here, so the test's own requests
    # come from an outsider's address as far as the server is concerned.
    server = GunicornServer(
        tmp_path,
        extra_env={
            "DJANGO_DEBUG": "false",
            "ALLOWED_HOSTS": "sho.rt",
            "METRICS_ALLOWED_NETWORKS": "192.0.2.0/24",
            "METRICS_TOKEN": TOKEN,
            "BACKUP_DIR": str(tmp_path / "backups"),
        },
    )
    server.start(wait_path="/health")
    try:
        url = server.url
        for host in ("sho.rt", "10.1.2.3:8000"):
            for path in OPEN_PROBES:
                status, _, _ = http_request(url + path, headers={"Host": host})
                assert status == 200, (host, path)
            status, _, body = http_request(
                url + "/health/full",
                headers={"Host": host, "Accept": "application/json"},
            )
            assert status == 403, body
            assert b"commit" not in body
        status, _, body = http_request(
            url + "/health/full", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert status in (200, 503), body
        assert "commit" in json.loads(body)
    finally:
        server.stop()
